"""Loading escape-hatch handlers by file path: relative imports, clear errors, hot reload."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from lcdev.runtime.api.handlers import HandlerError, HandlerLoader

HANDLERS = '''
from .pricing import price

async def quote(ctx):
    return {"price": price(), "version": "A"}

def not_async(ctx):
    return None
'''


def service_folder(root: Path, name: str, handlers: str = HANDLERS) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "handlers.py").write_text(handlers)
    (folder / "pricing.py").write_text("def price():\n    return 42\n")
    return folder


def run(handler: Any) -> Any:
    return asyncio.run(handler(None))


def test_loads_a_handler_by_path_with_relative_imports(tmp_path: Path) -> None:
    before = list(sys.path)
    loader = HandlerLoader("shop-a", service_folder(tmp_path, "shop-a"))
    handler = loader.load("handlers:quote")
    assert run(handler) == {"price": 42, "version": "A"}
    assert sys.path == before
    assert "_lcdev_handlers.shop_a.handlers" in sys.modules
    assert loader.load("handlers:quote") is handler
    loader.invalidate()
    assert "_lcdev_handlers.shop_a.handlers" not in sys.modules


def test_two_services_may_both_have_a_handlers_module(tmp_path: Path) -> None:
    first = HandlerLoader("svc-one", service_folder(tmp_path, "one"))
    second = HandlerLoader("svc-two", service_folder(
        tmp_path, "two", HANDLERS.replace('"A"', '"B"')))
    assert run(first.load("handlers:quote"))["version"] == "A"
    assert run(second.load("handlers:quote"))["version"] == "B"
    first.invalidate()
    second.invalidate()


def test_invalidate_picks_up_an_edit_of_the_same_size(tmp_path: Path) -> None:
    folder = service_folder(tmp_path, "edit")
    loader = HandlerLoader("edit", folder)
    assert run(loader.load("handlers:quote"))["version"] == "A"
    (folder / "handlers.py").write_text(HANDLERS.replace('"A"', '"Z"'))
    assert run(loader.load("handlers:quote"))["version"] == "A"  # cached until invalidated
    loader.invalidate()
    assert run(loader.load("handlers:quote"))["version"] == "Z"
    loader.invalidate()


def test_dotted_modules_are_files_below_the_service_folder(tmp_path: Path) -> None:
    folder = service_folder(tmp_path, "dotted")
    (folder / "hooks").mkdir()
    (folder / "hooks" / "__init__.py").write_text("")
    (folder / "hooks" / "orders.py").write_text(
        "from ..pricing import price\n\nasync def go(ctx):\n    return {'p': price()}\n")
    loader = HandlerLoader("dotted", folder)
    assert run(loader.load("hooks.orders:go")) == {"p": 42}
    loader.invalidate()


@pytest.mark.parametrize(("spec", "source", "message"), [
    ("missing:quote", HANDLERS, "no file missing.py"),
    ("handlers:nothing", HANDLERS, "handlers.py has no function 'nothing'"),
    ("handlers:not_async", HANDLERS, "'not_async' must be an async function"),
    ("handlers:quote", "def broken(:\n", "importing handlers.py failed: SyntaxError"),
    ("handlers:quote", "raise RuntimeError('boom')\n", "RuntimeError: boom"),
])
def test_load_errors_say_what_is_wrong(tmp_path: Path, spec: str, source: str,
                                       message: str) -> None:
    loader = HandlerLoader("broken", service_folder(tmp_path, "broken", source))
    try:
        with pytest.raises(HandlerError, match=message.replace("(", r"\(")) as caught:
            loader.load(spec)
        assert spec in str(caught.value)
        if "importing" in message or "boom" in message:
            assert "_lcdev_handlers.broken.handlers" not in sys.modules
    finally:
        loader.invalidate()
