"""Pure logic: payload checks, conditions, the envelope, JSON values, backoff."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from decimal import Decimal

import orjson
import pytest

from lcdev.definitions import FieldDefinition, parse_guard
from lcdev.runtime.events.conditions import condition_holds, resolve_settings
from lcdev.runtime.events.retry import RetryPolicy, stop_task, stopping
from lcdev.runtime.events.schema import check_payload
from lcdev.runtime.events.wire import (
    EnvelopeError,
    decode_envelope,
    encode_envelope,
    jsonable,
    kafka_headers,
)
from tests.runtime.events.helpers import shop_pair


def _f(spec: str) -> FieldDefinition:
    from lcdev.definitions.fields import expand_field

    return FieldDefinition.model_validate(expand_field(spec))


FIELDS = {"id": _f("uuid!"), "total": _f("decimal(6, 2)!"), "qty": _f("integer"),
          "state": _f("enum(new, paid)"), "sku": _f("string(4)"), "at": _f("datetime"),
          "day": _f("date"), "ok": _f("boolean"), "extra": _f("json")}


def test_a_conforming_payload_has_no_problems() -> None:
    data = {"id": str(uuid.uuid4()), "total": "12.50", "qty": 3, "state": "paid", "sku": "AB",
            "at": "2024-05-01T10:00:00+00:00", "day": "2024-05-01", "ok": False,
            "extra": [1, {"a": None}]}
    assert check_payload(FIELDS, data, exact=True) == []
    assert check_payload(FIELDS, {"id": str(uuid.uuid4()), "total": 7}, exact=True) == []


def test_every_problem_is_named() -> None:
    data = {"id": None, "total": "1.234", "qty": "3", "state": "lost", "sku": "ABCDE",
            "at": "yesterday", "day": 20240501, "ok": "yes", "more": 1}
    assert check_payload(FIELDS, data, exact=True) == [
        "field 'id' is required but null",
        "field 'total': '1.234' has more than 2 digits after the point",
        "field 'qty': expected an integer, found '3'",
        "field 'state': expected one of new, paid, found 'lost'",
        "field 'sku': 'ABCDE' is longer than max_length 4",
        "field 'at': expected an ISO datetime, found 'yesterday'",
        "field 'day': expected a string (date), found 20240501",
        "field 'ok': expected true or false, found 'yes'",
        "field 'more' is not declared in the payload",
    ]
    assert check_payload(FIELDS, {"total": True}, exact=False) == [
        "field 'id' is required but missing", "field 'total': expected a decimal, found True"]


@pytest.mark.parametrize(("text", "values", "expected"), [
    ("total <= settings.limit", {"total": "12.50"}, True),
    ("total > settings.limit", {"total": Decimal("100.01")}, True),
    ("total > settings.limit", {"total": None}, False),
    ("status in [new, paid] and currency == EUR", {"status": "paid", "currency": "EUR"}, True),
    ("status not in [new, paid]", {"status": "paid"}, False),
    ("id == 8c5e1c7e-4a55-4f4e-9a55-0f0f3e0e0e0e",
     {"id": uuid.UUID("8c5e1c7e-4a55-4f4e-9a55-0f0f3e0e0e0e")}, True),
    ("flag == true", {"flag": True}, True),
    ("note == null", {"note": None}, True),
    ("count >= 2", {"count": 2}, True),
])
def test_conditions_compare_by_meaning(text: str, values: dict[str, object],
                                       expected: bool) -> None:
    assert condition_holds(parse_guard(text), values, {"limit": Decimal(100)}) is expected


def test_conditions_that_cannot_be_evaluated_raise() -> None:
    with pytest.raises(ValueError, match="reads field 'total', which is missing"):
        condition_holds(parse_guard("total > 1"), {}, {})
    with pytest.raises(ValueError, match="cannot order 'abc' and 1"):
        condition_holds(parse_guard("total > 1"), {"total": "abc"}, {})


def test_settings_come_from_the_environment_or_their_default() -> None:
    producer, _ = shop_pair()
    assert resolve_settings(producer, {}) == {"limit": Decimal(100)}
    with_env = producer.model_copy(update={"settings": {
        "limit": producer.settings["limit"].model_copy(update={"env": "LIMIT"})}})
    assert resolve_settings(with_env, {"LIMIT": "7.5"}) == {"limit": Decimal("7.5")}


def test_envelope_round_trip_and_refusals() -> None:
    event_id = uuid.uuid4()
    when = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
    value = encode_envelope(event_id, "OrderPlaced", "orders", when,
                            orjson.dumps({"total": "1.50"}).decode())
    assert orjson.loads(value) == {"id": str(event_id), "event": "OrderPlaced",
                                   "source": "orders", "time": "2024-05-01T10:00:00+00:00",
                                   "data": {"total": "1.50"}}
    envelope = decode_envelope(value)
    assert (envelope.id, envelope.event, envelope.data) == (event_id, "OrderPlaced",
                                                            {"total": "1.50"})
    for bad, reason in [(None, "has no value"), (b"[1]", "a JSON list"),
                        (b'{"id": "x", "event": "E", "data": {}}', "'x' is not a UUID"),
                        (b'{"event": "E"}', "lacks 'id', 'data'"),
                        (orjson.dumps({"id": str(event_id), "event": "E", "data": 1}),
                         "data is not a JSON object")]:
        with pytest.raises(EnvelopeError, match=reason):
            decode_envelope(bad)
    assert kafka_headers(event_id, "E", {"traceparent": "t", "lcdev-event": "forged"}) == [
        ("traceparent", b"t"), ("lcdev-event-id", str(event_id).encode()),
        ("lcdev-event", b"E")]


def test_json_values_keep_their_meaning() -> None:
    day = dt.date(2024, 5, 1)
    assert jsonable({"a": Decimal("1E+3"), "b": [uuid.UUID(int=1), day], "c": (True, None)}) == {
        "a": "1000", "b": ["00000000-0000-0000-0000-000000000001", "2024-05-01"],
        "c": [True, None]}
    with pytest.raises(TypeError, match="cannot send a bytes"):
        jsonable(b"raw")


def test_retry_delays_grow_with_jitter_up_to_the_maximum() -> None:
    policy = RetryPolicy(initial=0.05, maximum=1.0)
    for attempt, base in [(1, 0.05), (2, 0.1), (5, 0.8), (9, 1.0)]:
        assert base / 2 <= policy.delay(attempt) <= base
    assert RetryPolicy(jitter=False).delay(3) == 0.2


def test_a_cancelled_request_is_not_taken_for_a_stop() -> None:
    """aiokafka cancels the requests of a connection that closes; the loops must retry then,
    and stop only when their own task is cancelled."""

    async def scenario() -> tuple[bool, bool]:
        request: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        seen: list[bool] = []

        async def waiting() -> None:
            try:
                await request
            except asyncio.CancelledError:
                seen.append(stopping())
                await asyncio.sleep(3600)  # a loop that goes on, until it is stopped
                raise

        task = asyncio.create_task(waiting())
        await asyncio.sleep(0)
        request.cancel()  # the library gives up on the request
        await asyncio.sleep(0.01)
        task.cancel()  # stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return seen[0], task.cancelled()

    assert asyncio.run(scenario()) == (False, True)


def test_stopping_a_loop_survives_a_swallowed_cancellation() -> None:
    async def scenario() -> bool:
        swallowed: list[bool] = []

        async def loop() -> None:
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    if swallowed:
                        raise
                    swallowed.append(True)  # a library ate the first one

        task = asyncio.create_task(loop())
        await asyncio.sleep(0)
        await asyncio.wait_for(stop_task(task), 5)
        return task.cancelled() and swallowed == [True]

    assert asyncio.run(scenario())
