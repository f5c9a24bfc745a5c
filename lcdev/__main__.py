"""``python -m lcdev`` runs the CLI."""

from lcdev.cli.main import run

run()
