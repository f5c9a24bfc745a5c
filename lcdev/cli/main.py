"""The ``lcdev`` command: wiring of the commands, nothing else."""

from __future__ import annotations

import typer

from lcdev.cli.commands import (
    apply,
    doctor,
    down,
    init,
    logs,
    metrics,
    reloads,
    status,
    test,
    token,
    trace,
    traces,
    up,
    validate,
)

__all__ = ["app", "run"]

app = typer.Typer(
    name="lcdev",
    help="Local dev environment for low-code and hand-written microservices.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command()(init.init)
app.command()(up.up)
app.command()(down.down)
app.command()(status.status)
app.command()(logs.logs)
app.command()(traces.traces)
app.command()(trace.trace)
app.command()(metrics.metrics)
app.command()(reloads.reloads)
app.command()(apply.apply)
app.command()(doctor.doctor)
app.command()(validate.validate)
app.command()(validate.schema)
app.command()(token.token)
app.command(name="test")(test.check_contracts)


def run() -> None:
    app()
