"""The service middleware: request ids, body limits, JSON bodies, every error a problem."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lcdev.runtime.api.middleware import ServiceMiddleware, is_json, problem_exception_handlers
from lcdev.runtime.problems import ProblemError


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"size": len(body), "request_id": request.state.request_id})


async def conflict(_: Request) -> Response:
    raise ProblemError(409, "status is paid; cancel needs status in [new]")


async def crash(_: Request) -> Response:
    raise RuntimeError("secret internals: password=hunter2")


async def no_database(_: Request) -> Response:
    pool = await asyncpg.create_pool("postgresql://nobody@127.0.0.1:1/none", min_size=0)
    await pool.close()
    async with pool.acquire():  # a pool that is closed, as during a reload
        return Response()


async def refused(_: Request) -> Response:
    await asyncpg.connect("postgresql://nobody@127.0.0.1:1/none", timeout=2)
    return Response()


def app(max_body: int = 1024) -> Starlette:
    return Starlette(
        routes=[Route("/echo", echo, methods=["POST", "GET"]), Route("/conflict", conflict),
                Route("/crash", crash), Route("/closed", no_database),
                Route("/refused", refused)],
        middleware=[Middleware(ServiceMiddleware, max_body=max_body)],
        exception_handlers=problem_exception_handlers(),
    )


def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app())
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def test_request_id_is_created_and_echoed() -> None:
    made = call("GET", "/echo")
    assert made.status_code == 200
    assert len(made.headers["x-request-id"]) == 32
    assert made.json()["request_id"] == made.headers["x-request-id"]
    kept = call("GET", "/echo", headers={"X-Request-Id": "req-42"})
    assert kept.headers["x-request-id"] == "req-42"
    assert kept.json()["request_id"] == "req-42"


def test_a_malformed_request_id_is_replaced() -> None:
    response = call("GET", "/echo", headers={"X-Request-Id": "bad id\twith spaces"})
    assert response.headers["x-request-id"] != "bad id\twith spaces"
    assert len(response.headers["x-request-id"]) == 32


def test_body_over_the_limit_by_content_length_is_413() -> None:
    response = call("POST", "/echo", content=b"[" + b"1," * 600 + b"1]",
                    headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["limit"] == 1024
    assert "x-request-id" in response.headers


def test_chunked_body_over_the_limit_is_413() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 100

    response = call("POST", "/echo", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["title"] == "Content Too Large"


def test_body_within_the_limit_passes() -> None:
    response = call("POST", "/echo", json={"a": "b" * 900})
    assert response.status_code == 200
    assert response.json()["size"] > 900


def test_non_json_body_is_415() -> None:
    response = call("POST", "/echo", content=b"a=b",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert "application/x-www-form-urlencoded" in response.json()["detail"]
    missing = call("POST", "/echo", content=b"{}")
    assert missing.status_code == 415


def test_json_suffix_and_parameters_are_json() -> None:
    response = call("POST", "/echo", content=b"{}",
                    headers={"Content-Type": "application/merge-patch+json; charset=utf-8"})
    assert response.status_code == 200
    assert is_json("Application/JSON")
    assert not is_json("text/json")
    assert not is_json(None)


def test_problem_error_becomes_its_response() -> None:
    response = call("GET", "/conflict", headers={"X-Request-Id": "abc"})
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "abc"
    assert response.json()["detail"] == "status is paid; cancel needs status in [new]"


def test_unexpected_error_is_a_500_problem_without_internals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="lcdev.runtime.http"):
        response = call("GET", "/crash", headers={"X-Request-Id": "r-500"})
    assert response.status_code == 500
    body = response.json()
    assert body["request_id"] == "r-500"
    assert "r-500" in body["detail"]
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert any("r-500" in r.getMessage() and r.exc_info for r in caplog.records)


def test_unknown_path_and_method_are_problems() -> None:
    missing = call("GET", "/nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert "/nowhere" in missing.json()["detail"]
    wrong = call("DELETE", "/echo")
    assert wrong.status_code == 405
    assert "GET" in wrong.headers["allow"]
    assert "DELETE is not allowed" in wrong.json()["detail"]


@pytest.mark.parametrize("path", ["/closed", "/refused"])
def test_losing_the_database_is_a_503_to_retry(path: str) -> None:
    response = call("GET", path)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert "database" in response.json()["detail"]
