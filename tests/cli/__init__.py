"""The CLI through typer's CliRunner: commands that need no running stack."""
