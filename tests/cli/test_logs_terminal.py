"""``lcdev logs`` in a real process: colours on a terminal, none with NO_COLOR, and a pipe
whose reader goes away (``| head``) ends it quietly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.telemetry_samples import populate, sample_logs, workspace

COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-7]|9[0-7]|38;5;[0-9]+)(?:;[0-9;]*)?m")


def run(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return subprocess.run(
        [sys.executable, "-m", "lcdev", "logs", *args, "-w", str(root)],
        capture_output=True, text=True, timeout=30,
        env={**base, "TERM": "xterm-256color", "COLUMNS": "120", **env})


def test_services_are_coloured_on_a_terminal_and_not_with_no_color(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    populate(root)
    coloured = run(root, FORCE_COLOR="1").stdout
    assert COLOUR.search(coloured)
    plain = run(root, FORCE_COLOR="1", NO_COLOR="1").stdout
    assert not COLOUR.search(plain)
    assert re.sub(r"\x1b\[[0-9;]*m", "", plain) == re.sub(r"\x1b\[[0-9;]*m", "", coloured)


@pytest.mark.parametrize("json_lines", [False, True], ids=["text", "json"])
def test_a_closed_pipe_ends_it_quietly(tmp_path: Path, json_lines: bool) -> None:
    root = workspace(tmp_path)
    populate(root, logs=sample_logs() * 500, spans=[])
    json_flag = ["--json"] if json_lines else []
    with subprocess.Popen([sys.executable, "-m", "lcdev", "logs", "-n", "0", *json_flag,
                           "-w", str(root)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()  # the reader goes away, as `head -1` does
        stderr = process.stderr.read()
        code = process.wait(timeout=30)
    assert "postgres" in first
    assert stderr == ""
    assert code == 1  # EPIPE: Python's (and rich's) convention; the shell reports head's
