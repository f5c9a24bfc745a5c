"""Rich renderables for telemetry: log lines, trace tables, waterfalls and metrics tables.

Pure functions of the store's records: nothing here reads the store or prints, so the CLI
commands (and later the TUI) decide where the renderables go, and tests render them to text.
Imported lazily by the commands, never by ``lcdev.cli.main``.
"""
