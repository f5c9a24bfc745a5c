"""How ``lcdev up`` and ``lcdev apply`` print reload events (``output.print_event``).

The words are checked as a user reads them (stderr captured, no colour); the colours by
printing to a terminal console of our own, the one thing swapped being where output goes.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from lcdev.cli import output
from lcdev.core.events import (
    Event,
    ReloadFailed,
    ReloadStarted,
    ServiceReloaded,
    WorkspaceReloaded,
)

SWAPPED = ServiceReloaded(name="orders", version_before="1.0.0", version_after="1.1.0",
                          changes=["+ field Order.note", "+ GET /orders/{id}/history"],
                          seconds=0.042)
INVALID = ReloadFailed(
    name="orders", reason="invalid", message="the definitions have errors",
    problems=["services/orders/service.yaml:12:5: field 'note': unknown type 'strng' "
              "(did you mean 'string'?)",
              "services/orders/service.yaml:30:9: endpoint 'cancel': unknown field 'stauts'"],
    hint="fix them and save again")
WORKSPACE = WorkspaceReloaded(
    applied=["services globs ['services/*'] → ['services/*', 'extra/*']", "secrets: + api_key"],
    needs_up=["gateway.port 8800 → 8801 needs `lcdev up` again", "stack"], seconds=0.012)


def printed(capsys: pytest.CaptureFixture[str], *events: Event) -> list[str]:
    for event in events:
        output.print_event(event)
    captured = capsys.readouterr()
    assert captured.out == ""  # events go to stderr; stdout is for data
    return captured.err.splitlines()


def test_a_swap_says_versions_time_and_what_changed(capsys: pytest.CaptureFixture[str]) -> None:
    assert printed(capsys, SWAPPED) == [
        "↻ orders 1.0.0 → 1.1.0 swapped in 42 ms: + field Order.note, + GET /orders/{id}/history"]


def test_long_change_lists_are_cut_with_a_count(capsys: pytest.CaptureFixture[str]) -> None:
    many = ServiceReloaded(name="orders", version_before="1.0.0", version_after="1.0.0",
                           changes=[f"+ field Order.f{i}" for i in range(9)], seconds=0.0042)
    assert printed(capsys, many) == [
        "↻ orders 1.0.0 swapped in 4.2 ms: " + ", ".join(f"+ field Order.f{i}" for i in range(6))
        + ", +3 more"]


def test_restarts_starts_and_stops(capsys: pytest.CaptureFixture[str]) -> None:
    assert printed(
        capsys,
        ServiceReloaded(name="reco", how="restarted", seconds=1.5),
        ServiceReloaded(name="billing", how="started", version_after="0.1.0", seconds=0.9),
        ServiceReloaded(name="inventory", how="stopped", version_before="1.0.0"),
    ) == [
        "↻ reco restarted in 1.50 s",
        "+ billing 0.1.0 started in 900 ms",
        "■ inventory 1.0.0 stopped",
    ]


def test_a_failed_reload_lists_every_problem_on_its_own_line(
    capsys: pytest.CaptureFixture[str]
) -> None:
    assert printed(capsys, INVALID) == [
        "✗ orders not reloaded (invalid): the definitions have errors",
        "  services/orders/service.yaml:12:5: field 'note': unknown type 'strng' "
        "(did you mean 'string'?)",
        "  services/orders/service.yaml:30:9: endpoint 'cancel': unknown field 'stauts'",
        "  hint: fix them and save again",
    ]


def test_problems_are_never_wrapped(capsys: pytest.CaptureFixture[str]) -> None:
    """One line each, however long, so grep and editors' file:line:col links work."""
    long = "services/orders/service.yaml:3:1: " + "x" * 300
    lines = printed(capsys, ReloadFailed(name="orders", reason="failed", message="boom",
                                         problems=[long]))
    assert lines[1] == "  " + long


def test_markup_in_user_text_is_printed_as_is(capsys: pytest.CaptureFixture[str]) -> None:
    event = ReloadFailed(name="orders", reason="invalid", message="[red]not markup[/]",
                         problems=["services/orders/service.yaml:1:1: '[bold]' is no type"])
    assert printed(capsys, event)[1] == "  services/orders/service.yaml:1:1: '[bold]' is no type"


def test_lcdev_yaml_says_what_applied_and_what_needs_up(
    capsys: pytest.CaptureFixture[str]
) -> None:
    assert printed(capsys, WORKSPACE, WorkspaceReloaded(needs_up=["name"])) == [
        "↻ lcdev.yaml applied in 12 ms: services globs ['services/*'] → ['services/*', "
        "'extra/*'], secrets: + api_key",
        "  gateway.port 8800 → 8801 needs `lcdev up` again",
        "  stack needs `lcdev up` again",  # a bare setting name gets the sentence
        "! lcdev.yaml changed; nothing of it applies live",
        "  name needs `lcdev up` again",
    ]


def test_a_reload_starting_is_not_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert printed(capsys, ReloadStarted(services=["orders"],
                                         paths=["services/orders/service.yaml"])) == []


def _terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """Send ``output``'s stderr to a colour terminal of our own; return what it receives."""
    screen = io.StringIO()
    monkeypatch.setattr(output, "err", Console(file=screen, force_terminal=True,
                                                color_system="standard", width=200,
                                                highlight=False))
    return screen


GREEN, RED, YELLOW = "\x1b[32m", "\x1b[31m", "\x1b[33m"


def test_colours_green_for_live_red_for_refused_yellow_for_needs_up(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = _terminal(monkeypatch)
    output.print_event(SWAPPED)
    output.print_event(INVALID)
    output.print_event(WORKSPACE)
    lines = screen.getvalue().splitlines()
    assert lines[0].startswith(f"{GREEN}↻")
    assert lines[1].startswith("\x1b[1;31m✗")  # bold red
    assert GREEN not in lines[1]
    assert lines[2].startswith(f"  {RED}services/orders/service.yaml:12:5")
    assert lines[5].startswith(f"{GREEN}↻")
    assert lines[6].startswith(f"  {YELLOW}gateway.port 8800 → 8801 needs `lcdev up` again")


def test_no_color_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    screen = _terminal(monkeypatch)
    for event in (SWAPPED, INVALID, WORKSPACE):
        output.print_event(event)
    assert "↻ orders 1.0.0 → 1.1.0 swapped" in screen.getvalue()
    assert not any(colour in screen.getvalue() for colour in (GREEN, RED, YELLOW))
