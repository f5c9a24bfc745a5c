"""Entry point: ``python -m lcdev.runtime``."""

import sys

from lcdev.runtime.main import main

sys.exit(main())
