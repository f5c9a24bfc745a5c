"""``WorkspaceLayout`` paths (the control socket's fallback) and ``find_workspace_root``."""

from __future__ import annotations

import tempfile
from pathlib import Path

from lcdev.core.layout import WorkspaceLayout, find_workspace_root

SUN_PATH_LIMIT = 104  # the smaller of Linux (108) and macOS (104), NUL included


def test_state_lives_under_dot_lcdev(tmp_path: Path) -> None:
    layout = WorkspaceLayout(tmp_path)
    assert layout.data_dir == tmp_path / ".lcdev" / "data"
    assert layout.component_data("postgres") == tmp_path / ".lcdev" / "data" / "postgres"
    assert layout.telemetry_db == tmp_path / ".lcdev" / "telemetry" / "telemetry.db"
    assert layout.lock_file.parent == layout.run_dir == tmp_path / ".lcdev" / "run"


def test_socket_sits_in_the_run_dir_when_the_path_is_short() -> None:
    layout = WorkspaceLayout(Path("/srv/ws"))
    assert layout.socket_path == Path("/srv/ws/.lcdev/run/control.sock")


def test_long_workspace_paths_move_the_socket_to_the_temp_dir(tmp_path: Path) -> None:
    root = tmp_path / ("deeply-nested-folder-" * 6)
    layout = WorkspaceLayout(root)
    socket = layout.socket_path
    assert len(str(layout.run_dir / "control.sock")) > SUN_PATH_LIMIT
    assert socket.parent == Path(tempfile.gettempdir())
    assert socket.name.startswith("lcdev-")
    assert socket.suffix == ".sock"
    assert len(str(socket).encode()) < SUN_PATH_LIMIT


def test_fallback_socket_is_stable_per_workspace_and_distinct_between_them(
    tmp_path: Path,
) -> None:
    long_name = "x" * 120
    first = WorkspaceLayout(tmp_path / "a" / long_name).socket_path
    assert first == WorkspaceLayout(tmp_path / "a" / long_name).socket_path
    assert first != WorkspaceLayout(tmp_path / "b" / long_name).socket_path


def test_root_found_from_a_nested_folder(tmp_path: Path) -> None:
    (tmp_path / "lcdev.yaml").write_text("name: shop\n")
    nested = tmp_path / "services" / "orders" / "src"
    nested.mkdir(parents=True)
    assert find_workspace_root(nested) == tmp_path.resolve()
    assert find_workspace_root(tmp_path) == tmp_path.resolve()


def test_nearest_workspace_wins(tmp_path: Path) -> None:
    inner = tmp_path / "examples" / "inner"
    inner.mkdir(parents=True)
    (tmp_path / "lcdev.yaml").write_text("name: outer\n")
    (inner / "lcdev.yaml").write_text("name: inner\n")
    assert find_workspace_root(inner / "..") == tmp_path.resolve()
    assert find_workspace_root(inner) == inner.resolve()


def test_no_workspace_and_a_folder_named_lcdev_yaml_do_not_count(tmp_path: Path) -> None:
    (tmp_path / "lcdev.yaml").mkdir()
    assert find_workspace_root(tmp_path) is None


def test_socket_path_limit_counts_bytes_not_characters() -> None:
    layout = WorkspaceLayout(Path("/home") / ("é" * 45))  # 73 characters, 118 bytes
    assert len(str(layout.socket_path).encode()) < SUN_PATH_LIMIT
