"""Reading and writing the rows of one entity on an asyncpg connection.

SQL text is built once per entity when the repository is made (get, insert, delete) or once
per shape (updates by the set of fields changed, list queries by filters and order), from
identifiers of the definition only, always quoted; values are always ``$n`` parameters. asyncpg
prepares each text once per connection, so a get or an insert is one prepared statement.

Child collections (``lines: list(OrderLine)``) are embedded in every row read, inserted with
their parent, replaced when an update gives them, and deleted with their parent. Writes never
open a transaction themselves: the caller's transaction holds the parent and its children,
so a failure anywhere leaves nothing behind once the caller rolls back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from lcdev.definitions import Guard, ServiceDefinition
from lcdev.runtime.data.guardsql import guard_sql
from lcdev.runtime.data.ids import uuid7
from lcdev.runtime.data.listquery import ListQuery, encode_cursor
from lcdev.runtime.data.listsql import ListStatements
from lcdev.runtime.data.model import entity_model
from lcdev.runtime.data.naming import quote
from lcdev.runtime.data.values import resolve_default

__all__ = ["Change", "ChangeKind", "EntityRepository", "Page", "Row", "Rows", "repositories"]

ChangeKind = Literal["created", "updated", "deleted"]
Row = dict[str, Any]
Rows = list[Row]
Change = tuple[str, ChangeKind, Row]
"""(entity, kind, row) of a child row written along with its parent."""
_Changes = list[Change]
_Values = list[Any]


@dataclass(frozen=True)
class Page:
    """One page of a list: the rows, the cursor of the next page (None on the last page) and
    the number of matching rows when it was asked for."""

    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None = None


class EntityRepository:
    """Rows of one entity; all SQL prepared from the definition when it is made."""

    def __init__(self, service: ServiceDefinition, entity: str, *,
                 _known: dict[str, EntityRepository] | None = None) -> None:
        self.model = model = entity_model(service, entity)
        self.entity = entity
        known = {} if _known is None else _known
        known[entity] = self
        self._names = tuple(model.columns)
        self._json = tuple(n for n in self._names if n in model.json_columns)
        self._select = ", ".join(
            f"{quote(n)}::text AS {quote(n)}" if n in model.json_columns else quote(n)
            for n in self._names
        )
        table = model.qualified()
        self._declared = tuple(model.declared.items())
        insert_cols = ["id", *model.declared]
        marks = ", ".join(
            f"${i}::text::jsonb" if name in model.json_columns else f"${i}"
            for i, name in enumerate(insert_cols, start=1)
        )
        self.get_sql = f'SELECT {self._select} FROM {table} WHERE "id" = $1'
        self.insert_sql = (f"INSERT INTO {table} ({', '.join(map(quote, insert_cols))})"
                           f" VALUES ({marks}) RETURNING {self._select}")
        self.delete_sql = f'DELETE FROM {table} WHERE "id" = $1 RETURNING {self._select}'
        self._list_sql = ListStatements(model, self._select)
        self._update_sql: dict[tuple[Any, ...], tuple[str, _Values]] = {}
        self.children: dict[str, tuple[EntityRepository, str]] = {}
        for field, (child, back_ref) in model.children.items():
            repo = known.get(child) or EntityRepository(service, child, _known=known)
            self.children[field] = (repo, back_ref)

    # -- rows ----------------------------------------------------------------------------

    def _row(self, record: Any) -> dict[str, Any]:
        row = dict(zip(self._names, record, strict=False))  # same length: our own SELECT
        for name in self._json:
            if row[name] is not None:
                row[name] = orjson.loads(row[name])
        return row

    def _param(self, name: str, value: Any) -> Any:
        if value is not None and name in self.model.json_columns:
            return orjson.dumps(value).decode()
        return value

    async def _embed(self, conn: Any, rows: Rows) -> None:
        if not self.children or not rows:
            return
        ids = [row["id"] for row in rows]
        for field, (repo, back_ref) in self.children.items():
            found = await repo.by_parents(conn, back_ref, ids)
            for row in rows:
                row[field] = found.get(row["id"], [])

    async def by_parents(self, conn: Any, back_ref: str,
                         parent_ids: _Values) -> dict[Any, Rows]:
        """Rows whose ``back_ref`` is one of ``parent_ids``, grouped by it, in id order."""
        sql = (f"SELECT {self._select} FROM {self.model.qualified()}"
               f" WHERE {quote(back_ref)} = ANY($1::uuid[]) ORDER BY \"id\"")
        rows = [self._row(r) for r in await conn.fetch(sql, parent_ids)]
        await self._embed(conn, rows)
        grouped: dict[Any, Rows] = {}
        for row in rows:
            grouped.setdefault(row[back_ref], []).append(row)
        return grouped

    # -- reads ---------------------------------------------------------------------------

    async def get(self, conn: Any, id: uuid.UUID | str) -> dict[str, Any] | None:
        """The row with this id (children embedded), or None."""
        record = await conn.fetchrow(self.get_sql, id)
        if record is None:
            return None
        row = self._row(record)
        if self.children:
            await self._embed(conn, [row])
        return row

    async def list(self, conn: Any, query: ListQuery) -> Page:
        """One page of rows matching ``query``, in its order, after its cursor."""
        sql = self._list_sql(query)
        records = await conn.fetch(sql.rows, *sql.row_params)
        rows = [self._row(r) for r in records[: query.limit]]
        await self._embed(conn, rows)
        next_cursor = None
        if len(records) > query.limit:
            last = rows[-1]
            next_cursor = encode_cursor(query.sort, [last[k.field] for k in query.sort])
        total = None
        if sql.count is not None:
            total = int(await conn.fetchval(sql.count, *sql.count_params))
        return Page(rows, next_cursor, total)

    # -- writes --------------------------------------------------------------------------

    async def insert(self, conn: Any, values: dict[str, Any], *,
                     changes: _Changes | None = None) -> dict[str, Any]:
        """Insert a row (and its children) and return it as stored.

        ``values`` are Python values (as from ``validate_create``); absent fields get their
        default or null, an absent ``id`` a new time-ordered one. Child rows written are
        appended to ``changes``. Raises asyncpg's integrity errors (unique, foreign key,
        check) unchanged; the caller's transaction then holds nothing of this insert.
        """
        params = [values.get("id") or uuid7()]
        for name, definition in self._declared:
            value = values[name] if name in values else resolve_default(definition)
            params.append(self._param(name, value))
        row = self._row(await conn.fetchrow(self.insert_sql, *params))
        for field, (repo, back_ref) in self.children.items():
            created = []
            for item in values.get(field) or []:
                child = await repo.insert(conn, {**item, back_ref: row["id"]}, changes=changes)
                created.append(child)
                if changes is not None:
                    changes.append((repo.entity, "created", child))
            row[field] = created
        return row

    def _update_statement(self, where: tuple[tuple[str, bool], ...], fields: tuple[str, ...],
                          guard: Guard | None) -> tuple[str, _Values]:
        """UPDATE text for one shape: matched fields (and which are null), fields set, guard."""
        key = (where, fields, guard.text if guard else None)
        cached = self._update_sql.get(key)
        if cached is None:
            conditions: list[str] = []
            n = 0
            for name, is_null in where:
                if is_null:
                    conditions.append(f"{quote(name)} IS NULL")
                else:
                    n += 1
                    conditions.append(f"{quote(name)} = ${n}")
            sets = [
                f"{quote(f)} = ${i}::text::jsonb" if f in self.model.json_columns
                else f"{quote(f)} = ${i}"
                for i, f in enumerate(fields, start=n + 1)
            ]
            if self.model.timestamps:
                sets.append('"updated_at" = now()')
            guard_params: _Values = []
            if guard is not None:
                text, guard_params = guard_sql(self.model, guard, n + len(fields) + 1)
                conditions.append(f"({text})")
            assignments = ", ".join(sets) or '"id" = "id"'
            sql = (f"UPDATE {self.model.qualified()} SET {assignments}"
                   f" WHERE {' AND '.join(conditions) or 'TRUE'} RETURNING {self._select}")
            cached = self._update_sql[key] = (sql, guard_params)
        return cached

    async def _replace_children(self, conn: Any, row: dict[str, Any], values: dict[str, Any],
                                changes: _Changes | None) -> None:
        for field, (repo, back_ref) in self.children.items():
            if field not in values:
                continue
            for old in await repo.delete_by_parent(conn, back_ref, row["id"], changes=changes):
                if changes is not None:
                    changes.append((repo.entity, "deleted", old))
            created = []
            for item in values[field] or []:
                child = await repo.insert(conn, {**item, back_ref: row["id"]}, changes=changes)
                created.append(child)
                if changes is not None:
                    changes.append((repo.entity, "created", child))
            row[field] = created

    async def _write(self, conn: Any, match: dict[str, Any], values: dict[str, Any],
                     guard: Guard | None, changes: _Changes | None) -> Rows:
        fields = tuple(n for n in self.model.declared if n in values)
        where = tuple((name, value is None) for name, value in match.items())
        sql, guard_params = self._update_statement(where, fields, guard)
        params = [*(v for v in match.values() if v is not None),
                  *(self._param(f, values[f]) for f in fields), *guard_params]
        rows = [self._row(r) for r in await conn.fetch(sql, *params)]
        for row in rows:
            await self._replace_children(conn, row, values, changes)
        missing = [r for r in rows if any(f not in r for f in self.children)]
        await self._embed_missing(conn, missing)
        return rows

    async def _embed_missing(self, conn: Any, rows: Rows) -> None:
        if not rows:
            return
        ids = [row["id"] for row in rows]
        for field, (repo, back_ref) in self.children.items():
            todo = [row for row in rows if field not in row]
            if todo:
                found = await repo.by_parents(conn, back_ref, ids)
                for row in todo:
                    row[field] = found.get(row["id"], [])

    async def update(self, conn: Any, id: uuid.UUID | str, values: dict[str, Any], *,
                     guard: Guard | None = None,
                     changes: _Changes | None = None) -> Row | None:
        """Change the fields in ``values`` (a child collection given is replaced) and return
        the row; None when there is no such row, or when ``guard`` does not hold for it (the
        guard is checked in the same statement, so nothing changes then)."""
        rows = await self._write(conn, {"id": id}, values, guard, changes)
        return rows[0] if rows else None

    async def update_where(self, conn: Any, match: dict[str, Any], values: dict[str, Any], *,
                           changes: _Changes | None = None) -> Rows:
        """Change every row whose fields equal ``match`` (null matches null); returns them."""
        return await self._write(conn, match, values, None, changes)

    async def delete_row(self, conn: Any, id: uuid.UUID | str, *,
                         changes: _Changes | None = None) -> dict[str, Any] | None:
        """Delete the row and its child collections; returns the deleted row or None.

        Rows of other entities that ``ref`` it follow their ``on_delete`` (a ``restrict``
        raises asyncpg's ``ForeignKeyViolationError`` and deletes nothing)."""
        for _field, (repo, back_ref) in self.children.items():
            for old in await repo.delete_by_parent(conn, back_ref, id, changes=changes):
                if changes is not None:
                    changes.append((repo.entity, "deleted", old))
        record = await conn.fetchrow(self.delete_sql, id)
        return None if record is None else self._row(record)

    async def delete(self, conn: Any, id: uuid.UUID | str) -> bool:
        """Delete the row (and its children); False when there was none."""
        return await self.delete_row(conn, id) is not None

    async def delete_by_parent(self, conn: Any, back_ref: str, parent_id: Any, *,
                               changes: _Changes | None = None) -> Rows:
        """Delete the rows whose ``back_ref`` is ``parent_id`` (with their own children)."""
        if self.children:
            found = await self.by_parents(conn, back_ref, [parent_id])
            deleted = []
            for row in found.get(parent_id, []):
                gone = await self.delete_row(conn, row["id"], changes=changes)
                if gone is not None:
                    deleted.append(gone)
            return deleted
        sql = (f"DELETE FROM {self.model.qualified()} WHERE {quote(back_ref)} = $1"
               f" RETURNING {self._select}")
        return [self._row(r) for r in await conn.fetch(sql, parent_id)]


def repositories(service: ServiceDefinition,
                 entities: Iterable[str] | None = None) -> dict[str, EntityRepository]:
    """A repository for every entity of the service (or the ones named)."""
    known: dict[str, EntityRepository] = {}
    for name in entities if entities is not None else service.entities:
        if name not in known:
            EntityRepository(service, name, _known=known)
    return {name: known[name] for name in (entities or service.entities)}
