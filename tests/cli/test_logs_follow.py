"""``lcdev logs -f`` as a real process: it prints lines as they are stored, and Ctrl-C ends it
cleanly (exit 0, no traceback)."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO

import pytest

from lcdev.core.layout import WorkspaceLayout
from tests.cli.telemetry_samples import populate, sample_logs, workspace

WAIT_S = 10.0  # generous: a 2-core machine under load; the poll itself is every 100 ms


class Follower:
    """``lcdev logs -f`` in a process of its own, its stdout read line by line."""

    def __init__(self, root: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lcdev", "logs", "-f", *args, "-w", str(root)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})
        self.lines: queue.Queue[str] = queue.Queue()
        self.errors: queue.Queue[str] = queue.Queue()
        self.readers = [threading.Thread(target=self._read, args=args, daemon=True)
                        for args in ((self.process.stdout, self.lines),
                                     (self.process.stderr, self.errors))]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str], into: queue.Queue[str]) -> None:
        for line in stream:
            into.put(line.rstrip("\n"))

    def next_line(self) -> str:
        return self.lines.get(timeout=WAIT_S)

    def next_error(self) -> str:
        return self.errors.get(timeout=WAIT_S)

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C; the exit code and whatever else it wrote to stderr."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=WAIT_S)
        for reader in self.readers:
            reader.join(timeout=WAIT_S)
        return code, "\n".join(self.errors.get() for _ in range(self.errors.qsize()))

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for reader in self.readers:
            reader.join(timeout=WAIT_S)  # they end at EOF, before their streams are closed
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def follow() -> Iterator[list[Follower]]:
    started: list[Follower] = []
    yield started
    for follower in started:
        follower.kill()


def new_line(message: str) -> list:  # type: ignore[type-arg]
    return [replace(sample_logs()[3], message=message)]


def test_follow_prints_history_then_new_lines_and_ctrl_c_exits_0(
        tmp_path: Path, follow: list[Follower]) -> None:
    root = workspace(tmp_path)
    populate(root)
    follower = Follower(root, "-n", "1", "orders")
    follow.append(follower)
    assert follower.next_line().endswith("order 42 read  trace=0af7651916cd")
    populate(root, logs=new_line("order 43 created") + [
        replace(sample_logs()[0], message="not orders: filtered out")], spans=[])
    assert "order 43 created" in follower.next_line()
    populate(root, logs=new_line("order 44 created"), spans=[])
    assert "order 44 created" in follower.next_line()
    code, stderr = follower.interrupt()
    assert code == 0
    assert "Traceback" not in stderr
    assert follower.lines.empty()


def test_follow_waits_for_a_store_that_does_not_exist_yet(
        tmp_path: Path, follow: list[Follower]) -> None:
    root = workspace(tmp_path)
    follower = Follower(root, "--json")
    follow.append(follower)
    assert "no telemetry yet; waiting for `lcdev up`" in follower.next_error()
    populate(root, logs=new_line("first line ever"), spans=[])
    assert '"message":"first line ever"' in follower.next_line()
    code, stderr = follower.interrupt()
    assert code == 0
    assert "Traceback" not in stderr


def test_follow_survives_the_store_being_removed_and_recreated(
        tmp_path: Path, follow: list[Follower]) -> None:
    root = workspace(tmp_path)
    populate(root, logs=new_line("before down -v"), spans=[])
    follower = Follower(root)
    follow.append(follower)
    assert "before down -v" in follower.next_line()
    shutil.rmtree(WorkspaceLayout(root).telemetry_dir)  # what `lcdev down -v` does
    populate(root, logs=new_line("after up again"), spans=[])
    assert "after up again" in follower.next_line()
    assert follower.interrupt()[0] == 0


def test_following_a_service_that_has_not_logged_yet_waits_for_it(
        tmp_path: Path, follow: list[Follower]) -> None:
    root = workspace(tmp_path)
    populate(root)
    follower = Follower(root, "shipping")
    follow.append(follower)
    warning = follower.next_error()
    assert "no lines from shipping yet" in warning
    assert "gateway, orders, payments, postgres" in warning
    populate(root, logs=[replace(sample_logs()[3], service="shipping", message="shipped")],
             spans=[])
    assert follower.next_line().split()[1:4] == ["shipping", "INFO", "shipped"]
    assert follower.interrupt()[0] == 0
