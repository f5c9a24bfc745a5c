"""`lcdev status` says whether saves reload, and which services' last edit did not apply."""

from __future__ import annotations

from typing import Any

from lcdev.cli import output


def _printed(status: dict[str, Any]) -> str:
    with output.console.capture() as captured:
        output.print_status(status)
    return captured.get()


BASE: dict[str, Any] = {"workspace": "shop", "phase": "ready", "backend": "native", "pid": 1,
                        "components": [], "services": []}


def test_watching_is_said() -> None:
    text = _printed({**BASE, "reload": {"watching": True, "pending": []}})
    assert "hot reload: watching the workspace: saves reload" in text
    assert "not applied" not in text


def test_not_watching_and_pending_services_are_said() -> None:
    text = _printed({**BASE, "reload": {"watching": False, "pending": ["orders"]}})
    assert "not watching" in text
    assert "`lcdev apply` reloads" in text
    assert "not applied: orders" in text


def test_an_older_supervisor_without_reload_says_nothing_of_it() -> None:
    assert "hot reload" not in _printed(BASE)
