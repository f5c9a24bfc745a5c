"""``status``, ``logs`` and ``down`` when no supervisor runs, and commands outside a workspace."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import warnings
from pathlib import Path

import psutil
import pytest

from tests.cli.conftest import flat, lcdev


def test_status_says_not_running_and_exits_1(shop: Path) -> None:
    result = lcdev("status", "-w", str(shop))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert flat(result.stderr) == f"not running ({shop}); start it with `lcdev up`"


def test_status_json_says_not_running(shop: Path) -> None:
    result = lcdev("status", "--json", "-w", str(shop))
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"running": False, "root": str(shop)}


def _stale_record(root: Path) -> None:
    """What a supervisor killed with SIGKILL leaves: a record naming a socket nobody serves."""
    run = root / ".lcdev" / "run"
    run.mkdir(parents=True)
    record = {"pid": 999999, "socket": str(run / "control.sock"), "backend": "native",
              "started_at": 0.0, "workspace": str(root)}
    (run / "supervisor.json").write_text(json.dumps(record))


# The leaked socket is the bug shown by test_a_stale_record_leaks_no_socket below.
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
def test_status_ignores_a_stale_supervisor_record(shop: Path) -> None:
    _stale_record(shop)
    result = lcdev("status", "--json", "-w", str(shop))
    assert result.exit_code == 1
    assert json.loads(result.stdout)["running"] is False


def test_a_stale_record_leaks_no_socket(shop: Path) -> None:
    _stale_record(shop)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        lcdev("status", "-w", str(shop))
        gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


def test_down_with_nothing_running_says_so(shop: Path) -> None:
    result = lcdev("down", "-w", str(shop))
    assert result.exit_code == 0
    assert flat(result.stderr) == "nothing is running"


def test_down_volumes_removes_data_left_by_an_earlier_run(shop: Path) -> None:
    data = shop / ".lcdev" / "data"
    (data / "postgres").mkdir(parents=True)
    (data / "postgres" / "PG_VERSION").write_text("16\n")
    telemetry = shop / ".lcdev" / "telemetry"
    telemetry.mkdir()
    (telemetry / "telemetry.db").write_bytes(b"")
    result = lcdev("down", "-v", "-w", str(shop))
    assert result.exit_code == 0
    assert "✓ removed .lcdev/data" in flat(result.stderr)
    assert "✓ removed .lcdev/telemetry" in flat(result.stderr)
    assert not data.exists()
    assert not telemetry.exists()


def test_down_without_volumes_keeps_data(shop: Path) -> None:
    data = shop / ".lcdev" / "data" / "postgres"
    data.mkdir(parents=True)
    assert lcdev("down", "-w", str(shop)).exit_code == 0
    assert data.is_dir()


def _orphan(shop: Path, created: float | None = None) -> subprocess.Popen[bytes]:
    """A process a crashed supervisor left behind, recorded in run/children.json."""
    process = subprocess.Popen(["sleep", "30"], start_new_session=True)
    run = shop / ".lcdev" / "run"
    run.mkdir(parents=True, exist_ok=True)
    when = psutil.Process(process.pid).create_time() if created is None else created
    (run / "children.json").write_text(json.dumps([{"pid": process.pid, "created": when}]))
    return process


def test_down_stops_processes_left_by_a_crashed_supervisor(shop: Path) -> None:
    orphan = _orphan(shop)
    try:
        result = lcdev("down", "-w", str(shop))
        assert result.exit_code == 0
        assert "stopped 1 process(es) left by a crashed supervisor" in flat(result.stderr)
        assert orphan.wait(timeout=5) is not None
    finally:
        orphan.kill()
        orphan.wait()
    assert not (shop / ".lcdev" / "run" / "children.json").exists()


def test_down_never_kills_a_process_that_reused_a_recorded_pid(shop: Path) -> None:
    stranger = _orphan(shop, created=1.0)  # recorded start time differs: not our child
    try:
        result = lcdev("down", "-w", str(shop))
        assert result.exit_code == 0
        assert flat(result.stderr) == "nothing is running"
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


COMMANDS_NEEDING_A_WORKSPACE = [["status"], ["logs"], ["down"], ["validate"], ["up"]]


@pytest.mark.parametrize("args", COMMANDS_NEEDING_A_WORKSPACE, ids=lambda a: a[0])
def test_outside_a_workspace_is_a_usage_error_with_a_hint(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = lcdev(*args)
    assert result.exit_code == 2
    message = flat(result.stderr)
    assert "error: no lcdev.yaml here or in any parent folder" in message
    assert "`lcdev init DIR --template shop`" in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", COMMANDS_NEEDING_A_WORKSPACE, ids=lambda a: a[0])
def test_workspace_option_must_point_at_a_workspace(args: list[str], tmp_path: Path) -> None:
    result = lcdev(*args, "-w", str(tmp_path))
    assert result.exit_code == 2
    assert f"error: {tmp_path} is not a workspace (no lcdev.yaml)" in flat(result.stderr)
    assert "lcdev init" in result.stderr


def test_workspace_can_come_from_the_environment(shop: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lcdev.cli.main import app
    from tests.cli.conftest import ENV

    env = {**ENV, "LCDEV_WORKSPACE": str(shop)}
    result = CliRunner(env=env).invoke(app, ["status", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["root"] == str(shop)
    assert os.environ.get("LCDEV_WORKSPACE") != str(shop)  # the runner restored it
