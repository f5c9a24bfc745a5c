"""``RouteTable``: longest-prefix routing from service prefixes to upstreams."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lcdev.gateway.routes import Route, RouteTable

ORDERS = Route("orders", "/orders", "http://127.0.0.1:9001")
ARCHIVE = Route("archive", "/orders-archive", "http://127.0.0.1:9002")
LINES = Route("lines", "/orders/lines", None)


@pytest.fixture
def table() -> RouteTable:
    return RouteTable([ORDERS, ARCHIVE, LINES])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/orders", ORDERS),
        ("/orders/", ORDERS),
        ("/orders/42", ORDERS),
        ("/orders-archive", ARCHIVE),
        ("/orders-archive/2024", ARCHIVE),
        ("/orders/lines", LINES),
        ("/orders/lines/7", LINES),
        ("/orders/linesx", ORDERS),
    ],
)
def test_longest_matching_prefix_wins(table: RouteTable, path: str, expected: Route) -> None:
    assert table.match(path) == expected


@pytest.mark.parametrize("path", ["/", "/order", "/ordersx", "/payments/1", ""])
def test_paths_outside_every_prefix_match_nothing(table: RouteTable, path: str) -> None:
    assert table.match(path) is None


def test_a_root_route_catches_what_no_other_route_serves() -> None:
    root = Route("web", "/", "http://127.0.0.1:9000")
    table = RouteTable([root, ORDERS])
    assert table.match("/orders/1") == ORDERS
    assert table.match("/anything/else") == root


def test_from_file_normalises_prefixes_and_keeps_missing_upstreams(tmp_path: Path) -> None:
    config = tmp_path / "gateway.json"
    config.write_text(json.dumps({
        "workspace": "shop",
        "routes": [
            {"service": "orders", "prefix": "/orders/", "upstream": "http://127.0.0.1:9001"},
            {"service": "web", "prefix": "/"},
        ],
    }))
    table = RouteTable.from_file(config)
    assert table.routes == [
        Route("orders", "/orders", "http://127.0.0.1:9001"),
        Route("web", "/", None),
    ]


def test_a_config_without_routes_gives_an_empty_table(tmp_path: Path) -> None:
    config = tmp_path / "gateway.json"
    config.write_text(json.dumps({"workspace": "blank"}))
    assert RouteTable.from_file(config).routes == []
