"""Stored reconciliation runs and their discrepancies (SQLAlchemy Core), so drift over time can be shown.

Two tables, named like the engine store's: ``reconcile_runs`` (one row per run, counts by kind)
and ``discrepancies`` (one row per finding, values as JSON). They are defined on a
``MetaData`` the engine store can adopt as is: pass its MetaData to :func:`define_tables`
and its Engine to :class:`History`; until then :class:`History` creates them itself.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from doohickey.reconcile.diff import Discrepancy, FieldDiff, Kind

MAX_STORED = 10_000


def define_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """Add ``reconcile_runs`` and ``discrepancies`` to ``metadata`` (or return them if already there)."""
    if "reconcile_runs" in metadata.tables:
        runs, found = metadata.tables["reconcile_runs"], metadata.tables.get("discrepancies")
        _check_columns(runs, RUN_COLUMNS)
        _check_columns(found, FOUND_COLUMNS)
        return runs, found  # type: ignore[return-value]
    runs = sa.Table(
        "reconcile_runs", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("entity", sa.String(100), nullable=False),
        sa.Column("owner_system", sa.String(100), nullable=False),
        sa.Column("other_system", sa.String(100), nullable=False),
        sa.Column("person", sa.String(200)),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("owner_rows", sa.Integer, nullable=False, default=0),
        sa.Column("other_rows", sa.Integer, nullable=False, default=0),
        sa.Column("matched", sa.Integer, nullable=False, default=0),
        sa.Column("pending", sa.Integer, nullable=False, default=0),
        *(sa.Column(str(k), sa.Integer, nullable=False, default=0) for k in Kind),
        sa.Column("repaired", sa.Integer, nullable=False, default=0),
        sa.Column("remaining", sa.Integer, nullable=False, default=0),
        sa.Index("ix_reconcile_runs_name_started", "name", "started_at"),
    )
    found = sa.Table(
        "discrepancies", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("reconcile_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("entity", sa.String(100), nullable=False),
        sa.Column("key", sa.String(500), nullable=False),
        sa.Column("owner_id", sa.String(500)),
        sa.Column("other_ids", sa.Text, nullable=False, default="[]"),
        sa.Column("fields", sa.Text, nullable=False, default="[]"),
        sa.Column("side", sa.String(10), nullable=False, default="other"),
        sa.Column("note", sa.Text, nullable=False, default=""),
        sa.Index("ix_discrepancies_run", "run_id"),
    )
    return runs, found


RUN_COLUMNS = ("id", "name", "entity", "owner_system", "other_system", "person", "started_at", "finished_at",
               "status", "owner_rows", "other_rows", "matched", "pending", *(str(k) for k in Kind), "repaired",
               "remaining")
FOUND_COLUMNS = ("id", "run_id", "kind", "entity", "key", "owner_id", "other_ids", "fields", "side", "note")


def _check_columns(table: sa.Table | None, wanted: tuple[str, ...]) -> None:
    """A MetaData that already holds these tables (the engine's) must hold them with the columns used here."""
    from doohickey.reconcile.diff import ReconcileError

    if table is None:
        raise ReconcileError("the store defines reconcile_runs but not discrepancies")
    missing = [c for c in wanted if c not in table.c]
    if missing:
        raise ReconcileError(f"the store's {table.name} table lacks column(s) {', '.join(missing)}; "
                             "adopt doohickey.reconcile.history.define_tables or keep history in its own database")


@dataclass(frozen=True)
class RunSummary:
    """One stored run, as the drift chart and the run list show it."""

    id: int
    name: str
    entity: str
    started_at: dt.datetime
    status: str
    counts: dict[str, int]
    owner_rows: int
    other_rows: int
    repaired: int
    remaining: int

    @property
    def total(self) -> int:
        """Discrepancies found by the run, every kind."""
        return sum(self.counts.values())


class History:
    """Reads and writes reconciliation runs in a SQL database (SQLite file, PostgreSQL, or the engine's store)."""

    def __init__(self, engine: sa.Engine | str, metadata: sa.MetaData | None = None) -> None:
        self.engine = sa.create_engine(engine) if isinstance(engine, str) else engine
        self.metadata = metadata or sa.MetaData()
        self.runs, self.found = define_tables(self.metadata)
        self.metadata.create_all(self.engine, tables=[self.runs, self.found])

    def record(self, run: Any) -> int:
        """Store a :class:`~doohickey.reconcile.reconciler.ReconcileRun` and its discrepancies; return its id."""
        found = run.found
        values = {
            "name": run.spec.name, "entity": run.spec.entity, "owner_system": run.spec.owner,
            "other_system": run.spec.other, "person": run.spec.person, "started_at": run.started_at,
            "finished_at": run.finished_at, "status": run.status, "owner_rows": found.owner_rows,
            "other_rows": found.other_rows, "matched": found.matched, "pending": found.pending,
            **{str(k): found.counts.get(str(k), 0) for k in Kind},
            "repaired": len(run.repaired), "remaining": run.result.total,
        }
        with self.engine.begin() as conn:
            run_id = conn.execute(self.runs.insert().values(**values)).inserted_primary_key[0]
            rows = [_row(run_id, d) for d in found.discrepancies[:MAX_STORED]]
            if rows:
                conn.execute(self.found.insert(), rows)
        return int(run_id)

    def recent(self, name: str, limit: int = 30) -> list[RunSummary]:
        """The last ``limit`` runs of reconciliation ``name``, oldest first (for the drift chart)."""
        query = self.runs.select().where(self.runs.c.name == name).order_by(
            self.runs.c.started_at.desc(), self.runs.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query).mappings())
        return [_summary(r) for r in reversed(rows)]

    def discrepancies(self, run_id: int) -> list[Discrepancy]:
        """The stored discrepancies of one run, worst first."""
        query = self.found.select().where(self.found.c.run_id == run_id).order_by(self.found.c.id)
        with self.engine.connect() as conn:
            out = [_discrepancy(r) for r in conn.execute(query).mappings()]
        return sorted(out, key=Discrepancy.sort_key)


def _row(run_id: int, d: Discrepancy) -> dict[str, Any]:
    data = d.to_dict()
    return {"run_id": run_id, "kind": data["kind"], "entity": d.entity, "key": d.key[:500], "owner_id": d.owner_id,
            "other_ids": json.dumps(data["other_ids"]), "fields": json.dumps(data["fields"], default=str),
            "side": d.side, "note": d.note}


def _summary(r: Any) -> RunSummary:
    started = r["started_at"]
    if started.tzinfo is None:  # SQLite keeps no zone; everything is stored in UTC
        started = started.replace(tzinfo=dt.UTC)
    return RunSummary(r["id"], r["name"], r["entity"], started, r["status"], {str(k): r[str(k)] for k in Kind},
                      r["owner_rows"], r["other_rows"], r["repaired"], r["remaining"])


def _discrepancy(r: Any) -> Discrepancy:
    fields: Iterable[dict[str, Any]] = json.loads(r["fields"])
    return Discrepancy(Kind(r["kind"]), r["entity"], r["key"], owner_id=r["owner_id"],
                       other_ids=tuple(json.loads(r["other_ids"])),
                       fields=tuple(FieldDiff(f["name"], f["owner"], f["other"]) for f in fields),
                       side=r["side"], note=r["note"])
