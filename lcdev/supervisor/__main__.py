"""Entry point: ``python -m lcdev.supervisor``."""

import sys

from lcdev.supervisor.main import main

sys.exit(main())
