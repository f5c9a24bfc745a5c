"""``load_workspace``: the shop scaffold, folder and route checks, root discovery, results."""

from __future__ import annotations

from pathlib import Path

from lcdev.definitions import Problem, find_workspace_root, load_workspace

from .conftest import Writer, edit

SERVICE = "name: {name}\n"


def test_shop_scaffold_loads_without_problems(shop: Path) -> None:
    loaded = load_workspace(shop)
    assert loaded.problems == []
    assert loaded.ok
    assert sorted(loaded.services) == ["inventory", "notifications", "orders", "payments"]
    ws = loaded.workspace
    assert ws is not None
    assert (ws.name, ws.stack, ws.gateway.port, ws.ports) == ("shop", "default", 8800,
                                                              {"postgres": 15432})
    assert ws.secrets["jwt_dev_key"].resolve(shop, {}) == "dev-only-not-secret"
    assert ws.secrets["jwt_dev_key"].resolve(shop, {"SHOP_JWT_KEY": "k"}) == "k"
    orders = loaded.services["orders"]
    assert (orders.kind, orders.route, orders.api_major) == ("lowcode", "/orders", 1)
    assert orders.topic("OrderPlaced") == "orders.OrderPlaced.v1"
    assert orders.entities["Order"].fields["status"].default == "new"
    assert loaded.service_dirs["orders"] == shop / "services" / "orders"


def test_folder_name_must_match(write: Writer, tmp_path: Path) -> None:
    write("lcdev.yaml", "name: shop\n")
    write("services/orders/service.yaml", "name: order\n")
    loaded = load_workspace(tmp_path)
    assert [str(p) for p in loaded.problems] == [
        "services/orders/service.yaml:1:7: service name 'order' does not match its folder"
        " 'orders'"
    ]
    assert loaded.services == {}
    assert loaded.workspace is not None


def test_route_clash_and_overlap(write: Writer, tmp_path: Path) -> None:
    write("lcdev.yaml", "name: shop\n")
    write("services/orders/service.yaml", "name: orders\n")
    write("services/returns/service.yaml", "name: returns\nroute: /orders\n")
    write("services/notes/service.yaml", "name: notes\nroute: /orders/notes\n")
    problems = [str(p) for p in load_workspace(tmp_path).problems]
    assert problems == [
        "services/notes/service.yaml:2:8: route '/orders/notes' overlaps route '/orders' of"
        " service 'orders'",
        "services/notes/service.yaml:2:8: route '/orders/notes' overlaps route '/orders' of"
        " service 'returns'",
        "services/orders/service.yaml:1:7: route '/orders' is also the route of service"
        " 'returns'",
        "services/orders/service.yaml:1:7: route '/orders' overlaps route '/orders/notes' of"
        " service 'notes'",
        "services/returns/service.yaml:2:8: route '/orders' is also the route of service"
        " 'orders'",
        "services/returns/service.yaml:2:8: route '/orders' overlaps route '/orders/notes' of"
        " service 'notes'",
    ]


def test_problems_across_files_are_sorted_and_bad_services_left_out(
    shop: Path,
) -> None:
    edit(shop / "services/payments/service.yaml", "version: 1.0.0", "version: 1.0")
    edit(shop / "lcdev.yaml", "port: 8800", "port: eighty")
    edit(shop / "services/orders/service.yaml", "      reason: text\n", "      reason: txt\n")
    loaded = load_workspace(shop)
    assert [str(p) for p in loaded.problems] == [
        "lcdev.yaml:5:9: expected an integer, found 'eighty' (a string)",
        "services/orders/service.yaml:14:15: field 'reason': unknown type 'txt'"
        " (did you mean 'text'?)",
        "services/payments/service.yaml:3:10: expected a semantic version like '1.2.0', found"
        " 1.0 (a number); write three parts or quote it",
    ]
    assert loaded.workspace is None
    assert sorted(loaded.services) == ["inventory", "notifications"]
    assert not loaded.ok


def test_missing_workspace_file_and_empty_service_folder(tmp_path: Path) -> None:
    (tmp_path / "services" / "empty").mkdir(parents=True)
    loaded = load_workspace(tmp_path)
    assert loaded.problems == [
        Problem(Path("lcdev.yaml"), 1, 1, f"no lcdev.yaml in {tmp_path}"),
        Problem(Path("services/empty"), 1, 1, "no service.yaml in service folder", "warning"),
    ]
    assert str(loaded.problems[1]) == (
        "services/empty:1:1: warning: no service.yaml in service folder"
    )


def test_service_globs_from_workspace(write: Writer, tmp_path: Path) -> None:
    write("lcdev.yaml", "name: shop\nservices: [apps/*, extra/billing]\n")
    write("apps/web/service.yaml", "name: web\n")
    write("extra/billing/service.yaml", "name: billing\n")
    write("services/ignored/service.yaml", "name: ignored\n")
    loaded = load_workspace(tmp_path)
    assert loaded.problems == []
    assert sorted(loaded.services) == ["billing", "web"]


def test_find_workspace_root(write: Writer, tmp_path: Path) -> None:
    write("lcdev.yaml", "name: shop\n")
    nested = write("services/orders/service.yaml", SERVICE.format(name="orders"))
    assert find_workspace_root(nested.parent) == tmp_path.resolve()
    assert find_workspace_root(nested) == tmp_path.resolve()
    outside = tmp_path.parent / (tmp_path.name + "-outside")
    outside.mkdir()
    assert find_workspace_root(outside) is None or find_workspace_root(outside) != tmp_path


def test_process_service(write: Writer, tmp_path: Path) -> None:
    write(
        "lcdev.yaml",
        "name: shop\nsecrets:\n  api_token: {file: .secrets/token}\n",
    )
    write(
        "services/reco/service.yaml",
        """\
        name: reco
        kind: process
        process:
          command: python -m reco --port ${PORT}
          port: 9001
          health: /healthz
          openapi: /openapi.json
          env: {TOKEN: "${secrets.api_token}", OTHER: "${secrets.nope}"}
          watch: ["**/*.py"]
        """,
    )
    loaded = load_workspace(tmp_path)
    assert [str(p) for p in loaded.problems] == [
        "services/reco/service.yaml:8:47: secret 'nope' is not defined in the secrets of"
        " lcdev.yaml"
    ]
    write("services/reco/service.yaml", "name: reco\nkind: process\n"
          "process: {command: [python, app.py], health: healthz}\n")
    loaded = load_workspace(tmp_path)
    assert [str(p) for p in loaded.problems] == [
        "services/reco/service.yaml:3:46: path must start with '/', found 'healthz'"
    ]
    write("services/reco/service.yaml", "name: reco\nkind: process\n"
          "process: {command: python -m reco --port 1}\n")
    svc = load_workspace(tmp_path).services["reco"]
    assert svc.process is not None
    assert svc.process.command == ["python", "-m", "reco", "--port", "1"]
    assert (svc.process.port, svc.process.health, svc.process.cwd) == (None, None, ".")


def test_kind_consistency(write: Writer, tmp_path: Path) -> None:
    write("lcdev.yaml", "name: shop\n")
    write("services/a/service.yaml", "name: a\nkind: proces\n")
    write("services/b/service.yaml", "name: b\nkind: process\nentities: {X: {}}\n")
    write("services/c/service.yaml", "name: c\nprocess: {command: [run]}\n")
    assert [str(p) for p in load_workspace(tmp_path).problems] == [
        "services/a/service.yaml:2:7: expected one of 'lowcode', 'process', found 'proces'"
        " (a string) (did you mean 'process'?)",
        "services/b/service.yaml:1:1: missing required key 'process' (a process service needs"
        " a command)",
        "services/b/service.yaml:3:1: 'entities' is only for low-code services, not kind"
        " 'process'",
        "services/c/service.yaml:2:1: 'process' is only for kind 'process' (add 'kind:"
        " process')",
    ]
