"""A client span per SQL statement, at the one place every statement of a service passes.

The service's pool makes its connections as :class:`TracedConnection` (asyncpg's documented
``connection_class`` hook), so the repositories, the outbox, the consumers' offsets and the
handlers' own SQL are all covered without touching their code. A statement gets a span only
inside a sampled trace (a request, a consumed event, a block under ``using_trace_headers``):
the relay's polling and other background housekeeping stay out of traces, and so do
transaction control (``BEGIN``, ``COMMIT``...), which would double the spans of every write for
little insight, and the reset query the pool runs when a connection is released.

Span: ``SELECT order`` (``{operation} {table}``), kind client, with ``db.system=postgresql``,
``db.operation.name``, ``db.collection.name`` (the first table the statement names, unquoted)
and ``db.query.text`` — the statement as sent: lcdev's own SQL carries values only as ``$n``
parameters, which are never recorded.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from lcdev.runtime.observability.spans import mark_error, tracer

__all__ = ["SqlSpan", "TracedConnection", "describe_sql"]

SqlSpan = tuple[str, dict[str, str]]
"""A statement's span name and attributes."""

_SKIPPED = frozenset({"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE",
                      "LISTEN", "UNLISTEN"})
_NAME = r'((?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)(?:\s*\.\s*(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*))*)'
_TARGETS = {
    "INSERT": re.compile(r"\bINSERT\s+INTO\s+" + _NAME, re.IGNORECASE),
    "UPDATE": re.compile(r"\bUPDATE\s+(?:ONLY\s+)?" + _NAME, re.IGNORECASE),
    "DELETE": re.compile(r"\bDELETE\s+FROM\s+(?:ONLY\s+)?" + _NAME, re.IGNORECASE),
    "SELECT": re.compile(r"\bFROM\s+(?!unnest\b)" + _NAME, re.IGNORECASE),
}
_WRITE = re.compile(r"\b(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_PART = re.compile(r'"((?:[^"]|"")+)"|([^."\s]+)')
_CACHE_LIMIT = 2048
_cache: dict[str, SqlSpan | None] = {}


def _table(qualified: str) -> str:
    """The last part of a possibly qualified, possibly quoted name, unquoted."""
    parts = [(quoted.replace('""', '"') if quoted else bare)
             for quoted, bare in _PART.findall(qualified)]
    return parts[-1] if parts else qualified


def _describe(query: str) -> SqlSpan | None:
    words = query.lstrip(" \t\r\n(").split(None, 1)
    if not words:
        return None
    operation = words[0].upper().rstrip(";")
    if operation in _SKIPPED:
        return None
    if operation == "WITH":  # a data-modifying CTE names what it changes
        write = _WRITE.search(query)
        operation = write.group(1).upper() if write else "SELECT"
    attributes = {"db.system": "postgresql", "db.operation.name": operation,
                  "db.query.text": query}
    pattern = _TARGETS.get(operation)
    found = pattern.search(query) if pattern is not None else None
    if found is None:
        return operation, attributes
    table = _table(found.group(1))
    attributes["db.collection.name"] = table
    return f"{operation} {table}", attributes


def describe_sql(query: str) -> SqlSpan | None:
    """The span name and attributes of a statement; ``None`` for transaction control.

    Cached by text: lcdev's SQL is a bounded set of prepared statements."""
    try:
        return _cache[query]
    except KeyError:
        pass
    if len(_cache) >= _CACHE_LIMIT:  # SQL built with inlined values by some handler
        _cache.clear()
    found = _cache[query] = _describe(query)
    return found


def _sql_span(query: str) -> Span | None:
    context = trace.get_current_span().get_span_context()
    if not (context.is_valid and context.trace_flags.sampled):
        return None
    described = describe_sql(query)
    if described is None:
        return None
    name, attributes = described
    return tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)


async def _traced(run: Callable[..., Awaitable[Any]], query: str, args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> Any:
    span = _sql_span(query)
    if span is None:
        return await run(query, *args, **kwargs)
    try:
        return await run(query, *args, **kwargs)
    except Exception as exc:
        mark_error(span, exc)
        raise
    finally:
        span.end()


class TracedConnection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg has no types
    """An asyncpg connection whose ``execute``/``fetch``/``fetchrow``/``fetchval`` (what lcdev
    uses) each make a client span inside a sampled trace."""

    async def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        if query == self.get_reset_query():  # the pool's clean-up on release: not ours
            return await super().execute(query, *args, **kwargs)
        return await _traced(super().execute, query, args, kwargs)

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await _traced(super().fetch, query, args, kwargs)

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await _traced(super().fetchrow, query, args, kwargs)

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await _traced(super().fetchval, query, args, kwargs)
