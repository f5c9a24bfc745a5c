"""``lcdev init``: workspaces from the templates in scaffolds/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import flat, init, lcdev

SHOP_SERVICES = ["inventory", "notifications", "orders", "payments"]


def test_shop_template_creates_a_valid_workspace(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    result = lcdev("init", str(root), "--template", "shop")
    assert result.exit_code == 0
    assert result.stdout == ""
    message = flat(result.stderr)
    assert f"✓ created workspace 'shop' in {root} (7 files, template shop)" in message
    assert f"next: cd {root} && lcdev up" in message
    assert sorted(p.name for p in (root / "services").iterdir()) == SHOP_SERVICES
    assert (root / "services" / "orders" / "service.yaml").is_file()
    assert ".lcdev" in (root / ".gitignore").read_text()
    lcdev_yaml = (root / "lcdev.yaml").read_text()
    assert "name: shop" in lcdev_yaml
    assert "port: 8800" in lcdev_yaml
    assert "SHOP_JWT_KEY" in lcdev_yaml
    checked = lcdev("validate", "-w", str(root))
    assert checked.exit_code == 0
    assert "4 service(s) valid" in checked.stderr


def test_schema_modelines_point_at_files_init_wrote(tmp_path: Path) -> None:
    root = init(tmp_path / "shop")
    for path in [root / "lcdev.yaml", *sorted(root.glob("services/*/service.yaml"))]:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        schema = path.parent / first.split("$schema=", 1)[1]
        assert json.loads(schema.read_text())["type"] == "object", path


def test_blank_template_has_an_empty_services_folder(tmp_path: Path) -> None:
    root = init(tmp_path / "empty", "blank")
    assert list((root / "services").iterdir()) == []
    assert not (root / "services" / ".gitkeep").exists()
    checked = lcdev("validate", "-w", str(root))
    assert checked.exit_code == 0
    assert "0 service(s) valid" in checked.stderr


def test_ports_and_name_options_reach_lcdev_yaml(tmp_path: Path) -> None:
    root = init(tmp_path / "x", "blank", "--name", "team-a", "--gateway-port", "9000",
                "--postgres-port", "0", "--kafka-port", "29092")
    text = (root / "lcdev.yaml").read_text()
    assert "name: team-a" in text
    assert "port: 9000" in text
    assert "postgres: 0" in text
    assert "kafka: 29092" in text


def test_default_folder_and_name_come_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "My Shop_2"
    folder.mkdir()
    monkeypatch.chdir(folder)
    result = lcdev("init")
    assert result.exit_code == 0
    assert "created workspace 'my-shop-2'" in result.stderr
    assert "name: my-shop-2" in (folder / "lcdev.yaml").read_text()


def test_list_shows_every_template_with_its_summary(tmp_path: Path) -> None:
    result = lcdev("init", "--list", str(tmp_path / "never-created"))
    assert result.exit_code == 0
    lines = [flat(line) for line in result.stdout.splitlines()]
    assert lines == [
        "blank An empty workspace: the stack and gateway, ready for `lcdev new service`.",
        "shop A small shop: orders, payments, inventory and notifications talking through "
        "events.",
    ]
    assert not (tmp_path / "never-created").exists()


def test_existing_workspace_is_refused_without_force(tmp_path: Path) -> None:
    root = init(tmp_path / "shop")
    (root / "lcdev.yaml").write_text("name: mine\n")
    result = lcdev("init", str(root), "--template", "shop")
    assert result.exit_code == 2
    assert f"error: {root} already holds a workspace (lcdev.yaml); use --force" in flat(
        result.stderr
    )
    assert (root / "lcdev.yaml").read_text() == "name: mine\n"


def test_force_overwrites_an_existing_workspace(tmp_path: Path) -> None:
    root = init(tmp_path / "shop")
    (root / "lcdev.yaml").write_text("name: mine\n")
    result = lcdev("init", str(root), "--template", "shop", "--force")
    assert result.exit_code == 0
    assert "name: shop" in (root / "lcdev.yaml").read_text()


@pytest.mark.parametrize(
    ("args", "bad_name"),
    [(["9lives"], "9lives"), (["ok", "--name", "Shop_1"], "Shop_1"), (["---"], "")],
)
def test_invalid_workspace_name_is_a_usage_error(
    tmp_path: Path, args: list[str], bad_name: str
) -> None:
    result = lcdev("init", str(tmp_path / args[0]), *args[1:])
    assert result.exit_code == 2
    message = flat(result.stderr)
    assert f"error: '{bad_name}' is not a valid workspace name" in message
    assert "hint: use --name with lowercase letters, digits and dashes" in message
    assert not (tmp_path / args[0]).exists()


def test_unknown_template_is_a_usage_error(tmp_path: Path) -> None:
    result = lcdev("init", str(tmp_path / "ws"), "--template", "fancy")
    assert result.exit_code == 2
    assert "unknown template 'fancy' (available: blank, shop)" in flat(result.stderr)
    assert not (tmp_path / "ws").exists()


def test_a_refused_init_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    mine = root / "services" / "orders" / "service.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text("name: orders\n")
    result = lcdev("init", str(root), "--template", "shop")
    assert result.exit_code == 2
    assert "use --force to overwrite" in flat(result.stderr)
    assert sorted(p.name for p in root.iterdir()) == ["services"]
