"""SQL of list queries: filters, keyset pagination and ordering from a :class:`ListQuery`.

Identifiers come only from the entity's definition and are quoted; every value is a ``$n``
parameter. The text depends only on the *shape* of the query (which fields, operators and
which cursor values are null), so repeated shapes reuse one prepared statement.
"""

from __future__ import annotations

from typing import Any

from lcdev.runtime.data.listquery import Filter, ListQuery, SortKey
from lcdev.runtime.data.model import EntityModel
from lcdev.runtime.data.naming import quote

__all__ = ["ListSql", "ListStatements", "build_list_sql", "list_sql"]

_COMPARE = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


class _Params:
    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _filter(f: Filter, params: _Params) -> str:
    column = quote(f.field)
    if f.op == "is_null":
        return f"{column} IS {'' if f.value else 'NOT '}NULL"
    if f.op == "ne":
        return f"{column} IS DISTINCT FROM {params.add(f.value)}"
    if f.op == "in":
        return f"{column} = ANY({params.add(list(f.value))})"
    if f.op in ("like", "ilike"):
        return f"{column} {f.op.upper()} {params.add(f.value)}"
    return f"{column} {_COMPARE[f.op]} {params.add(f.value)}"


def _after(model: EntityModel, key: SortKey, value: Any, params: _Params) -> str | None:
    """Rows strictly after ``value`` in ``key``'s order (ASC puts NULLs last, DESC first)."""
    column = quote(key.field)
    nullable = not model.columns[key.field].required
    if value is None:
        return f"{column} IS NOT NULL" if key.descending else None
    if key.descending:
        return f"{column} < {params.add(value)}"
    if nullable:
        return f"({column} > {params.add(value)} OR {column} IS NULL)"
    return f"{column} > {params.add(value)}"


def _row_comparison(model: EntityModel, sort: tuple[SortKey, ...]) -> bool:
    """True when one row comparison ``(a, b) > ($1, $2)`` is exact (and uses indexes):
    every key sorts the same way and none can be NULL."""
    return (len({k.descending for k in sort}) == 1
            and all(model.columns[k.field].required for k in sort))


def _keyset(model: EntityModel, sort: tuple[SortKey, ...], after: tuple[Any, ...],
            params: _Params) -> str:
    if _row_comparison(model, sort):
        columns = ", ".join(quote(k.field) for k in sort)
        marks = ", ".join(params.add(v) for v in after)
        return f"({columns}) {'<' if sort[0].descending else '>'} ({marks})"
    branches: list[str] = []
    for i, key in enumerate(sort):
        if after[i] is None and not key.descending:
            continue  # nothing sorts after NULL in ascending order (NULLS LAST)
        equal = []
        for prior, value in zip(sort[:i], after[:i], strict=True):
            column = quote(prior.field)
            equal.append(f"{column} IS NULL" if value is None
                         else f"{column} = {params.add(value)}")
        tail = _after(model, key, after[i], params)
        assert tail is not None
        branches.append("(" + " AND ".join([*equal, tail]) + ")")
    return "(" + (" OR ".join(branches) or "FALSE") + ")"


class ListSql:
    """The statements of one list request and their parameters."""

    def __init__(self, rows: str, row_params: list[Any], count: str | None,
                 count_params: list[Any]) -> None:
        self.rows = rows
        self.row_params = row_params
        self.count = count
        self.count_params = count_params


def _shape(query: ListQuery) -> tuple[Any, ...]:
    """What the SQL text depends on (values are parameters, so they are not part of it)."""
    filters = tuple((f.field, f.op, f.value if f.op == "is_null" else None)
                    for f in query.filters)
    nulls = None if query.after is None else tuple(v is None for v in query.after)
    return (filters, query.sort, query.count, nulls)


def _list_params(model: EntityModel, query: ListQuery) -> tuple[list[Any], list[Any]]:
    """The parameters of :func:`build_list_sql`'s text, in its order."""
    params = [list(f.value) if f.op == "in" else f.value
              for f in query.filters if f.op != "is_null"]
    count_params = list(params) if query.count else []
    after = query.after
    if after is not None:
        if _row_comparison(model, query.sort):
            params.extend(after)
        else:
            for i, key in enumerate(query.sort):
                if after[i] is None and not key.descending:
                    continue
                params.extend(v for v in after[:i] if v is not None)
                if after[i] is not None:
                    params.append(after[i])
    params.append(query.limit + 1)
    return params, count_params


class ListStatements:
    """List SQL of one entity, built once per query shape (bounded cache)."""

    def __init__(self, model: EntityModel, select: str, size: int = 256) -> None:
        self.model, self.select, self.size = model, select, size
        self._texts: dict[tuple[Any, ...], tuple[str, str | None]] = {}

    def __call__(self, query: ListQuery) -> ListSql:
        key = _shape(query)
        texts = self._texts.get(key)
        if texts is None:
            built = build_list_sql(self.model, self.select, query)
            if len(self._texts) >= self.size:
                del self._texts[next(iter(self._texts))]
            texts = self._texts[key] = (built.rows, built.count)
        params, count_params = _list_params(self.model, query)
        return ListSql(texts[0], params, texts[1], count_params)


def list_sql(model: EntityModel, select: str, query: ListQuery) -> ListSql:
    """The statements and parameters of one list request (see :func:`build_list_sql`)."""
    return build_list_sql(model, select, query)


def build_list_sql(model: EntityModel, select: str, query: ListQuery) -> ListSql:
    """``SELECT`` of one page (``limit + 1`` rows, to know whether there is a next page) and,
    when asked, the ``count(*)`` of every row matching the filters."""
    params = _Params()
    where = [_filter(f, params) for f in query.filters]
    count_sql = None
    count_params: list[Any] = []
    if query.count:
        count_sql = f"SELECT count(*) FROM {model.qualified()}"
        if where:
            count_sql += " WHERE " + " AND ".join(where)
        count_params = list(params.values)
    if query.after is not None:
        where.append(_keyset(model, query.sort, query.after, params))
    order = ", ".join(quote(k.field) + (" DESC" if k.descending else "") for k in query.sort)
    sql = f"SELECT {select} FROM {model.qualified()}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order} LIMIT {params.add(query.limit + 1)}"
    return ListSql(sql, params.values, count_sql, count_params)
