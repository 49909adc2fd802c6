"""Readers that feed the reconciliation diff one page at a time, so memory stays bounded.

- :func:`client_pages` pages through any connector ``Client.read(entity, cursor=...)``;
- :func:`bulk_pages` takes a bulk export instead (an iterator of rows, e.g. the JSONL
  file a Shopify bulk operation produces), with an optional projection to canonical rows;
- :func:`sql_pages` reads a DB-API cursor (DuckDB, SQLite, PostgreSQL) with ``fetchmany``.

Client records become row dicts: the canonical ``data`` plus ``_id`` (external id)
and ``_updated_at``, which is what :class:`~doohickey.reconcile.diff.DiffSpec` expects by default.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from doohickey.connectors.spec import Client, Record
from doohickey.reconcile.diff import ReconcileError

Row = Mapping[str, Any]


def record_row(record: Record) -> dict[str, Any]:
    """The row the diff reads for one Record: its data plus ``_id`` and ``_updated_at``."""
    row = dict(record.data)
    row["_id"] = record.external_id
    row["_updated_at"] = record.updated_at or record.data.get("updated_at")
    return row


async def client_pages(client: Client, entity: str, *, page_size: int = 250, since: datetime | None = None,
                       max_pages: int | None = None) -> AsyncIterator[list[dict[str, Any]]]:
    """Yield the rows of ``entity`` page by page, following ``next_cursor`` until the last page."""
    cursor: str | None = None
    pages = 0
    while True:
        page = await client.read(entity, since=since, cursor=cursor, limit=page_size)
        yield [record_row(r) for r in page.records]
        pages += 1
        cursor = page.next_cursor
        if cursor is None or (max_pages is not None and pages >= max_pages):
            return


def chunked(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Cut any iterable of rows into lists of ``size`` (the last may be shorter)."""
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def jsonl_rows(source: str | Path | Iterable[str]) -> Iterator[dict[str, Any]]:
    """Rows of a JSON Lines export (file path or lines); a bad line is reported with its number."""
    lines: Iterable[str]
    handle = None
    if isinstance(source, str | Path):
        handle = open(source, encoding="utf-8")  # noqa: SIM115 - closed in finally, generator lifetime
        lines = handle
    else:
        lines = source
    try:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ReconcileError(f"bulk export {source if handle else '<lines>'}, line {number}: "
                                     f"not valid JSON ({exc.msg})") from None
    finally:
        if handle is not None:
            handle.close()


def bulk_pages(rows: Iterable[Row], *, page_size: int = 10_000,
               project: Callable[[Row], Row | None] | None = None) -> Iterator[list[Row]]:
    """Pages of a bulk export; ``project`` maps a native row to a canonical one (``None`` skips it).

    Shopify bulk operations flatten nested connections into lines that carry ``__parentId``;
    a projection that keeps only the wanted object type (and reads its parent's key)
    turns them into the rows the diff compares.
    """
    source: Iterable[Row] = rows
    if project is not None:
        source = (p for p in map(project, rows) if p is not None)
    return chunked(source, page_size)


def shopify_inventory_row(line: Row) -> dict[str, Any] | None:
    """Project one Shopify bulk-export ``InventoryLevel`` line onto a stock row (sku, location, available)."""
    if "quantities" not in line and "available" not in line:
        return None
    item = line.get("item") or {}
    location = line.get("location") or {}
    quantities = {q.get("name"): q.get("quantity") for q in line.get("quantities") or []}
    return {
        "_id": line.get("id"),
        "sku": item.get("sku") or line.get("sku"),
        "location": location.get("name") or location.get("id") or line.get("location_id") or "",
        "available": quantities.get("available", line.get("available")),
        "on_hand": quantities.get("on_hand"),
        "_updated_at": line.get("updatedAt"),
    }


def sql_pages(cursor: Any, query: str, params: Sequence[Any] = (), *,
              page_size: int = 10_000) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
    """``(columns, rows)`` pages of a SQL query on a DB-API cursor, fetched ``page_size`` at a time."""
    cursor.execute(query, params) if params else cursor.execute(query)
    columns = [d[0] for d in cursor.description]
    while rows := cursor.fetchmany(page_size):
        yield columns, rows
