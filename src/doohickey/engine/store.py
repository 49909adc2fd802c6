"""The engine's one schema, through SQLAlchemy Core, on SQLite (embedded default) or PostgreSQL.

Tables (every engine fact lives here, so a restart resumes exactly where it stopped):

* ``events``: one unit of sync work per (flow, system, entity, external id, version); the
  ``idempotency_key`` is unique so a duplicate delivery is recorded once. ``record_key`` orders
  the events of one record; ``status`` is pending / running / done / skipped / dead / superseded;
  ``next_attempt_at`` holds a retry across restarts; ``lease_owner`` / ``lease_until`` let several
  workers share the table later (PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``).
* ``attempts``: one row per try at an event, with its outcome and error kind.
* ``dead_letters``: the original record, the attempts count and a reason in words.
* ``bindings``: the IdMap (source system/entity/id <-> target system/entity/id) with the fingerprint
  of what was last written and the source version it came from.
* ``cursors``: polling high-water marks, advanced only after a page is durably recorded.
* ``deliveries``: webhook deliveries seen (replay protection) and refused ones (never lost silently).
* ``audit``: the life of every record, for ``doohickey trace``.
* ``reconcile_runs`` / ``discrepancies``: what reconciliation found.
* ``record_leases``: which worker holds which record key, until when (several workers on PostgreSQL:
  one holder per record at a time, taken over when the lease expires).
* ``workers``: the worker processes alive (heartbeat), so each takes its share of every API budget.
* ``schema_version``: applied migrations (``doohickey db upgrade``).

SQLite runs in WAL mode with ``synchronous=FULL`` so a committed row survives kill -9 and power loss.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.types import TypeDecorator

from doohickey.reconcile.history import define_tables

metadata = MetaData()


class UtcDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


Id = BigInteger().with_variant(Integer, "sqlite")

events = Table(
    "events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("flow", String(100), nullable=False),
    Column("system", String(100), nullable=False),
    Column("entity", String(50), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("version", String(100), nullable=False, default=""),
    Column("record_key", String(400), nullable=False),
    Column("data", JSON, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("received_via", String(20), nullable=False),
    Column("delivery_id", String(200)),
    Column("received_at", UtcDateTime, nullable=False),
    Column("source_time", UtcDateTime),
    Column("status", String(20), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_until", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("outcome", String(400)),
    Column("target_id", String(200)),
    Column("last_error", Text),
)
Index("ix_events_due", events.c.status, events.c.next_attempt_at)
Index("ix_events_record", events.c.record_key, events.c.status)
Index("ix_events_lookup", events.c.system, events.c.entity, events.c.external_id)

attempts = Table(
    "attempts", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", BigInteger, nullable=False, index=True),
    Column("number", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("outcome", String(20), nullable=False),
    Column("error_kind", String(100)),
    Column("message", Text),
    Column("retry_after", UtcDateTime),
)

dead_letters = Table(
    "dead_letters", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", BigInteger, nullable=False, index=True),
    Column("flow", String(100), nullable=False),
    Column("system", String(100), nullable=False),
    Column("entity", String(50), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("version", String(100), nullable=False, default=""),
    Column("record", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Column("error_kind", String(100)),
    Column("detail", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("owner", String(200)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status", String(20), nullable=False, default="open"),
    Column("resolved_at", UtcDateTime),
    Column("resolution", Text),
)

bindings = Table(
    "bindings", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source_system", String(100), nullable=False),
    Column("source_entity", String(50), nullable=False),
    Column("source_id", String(200), nullable=False),
    Column("target_system", String(100), nullable=False),
    Column("target_entity", String(50), nullable=False),
    Column("target_id", String(200), nullable=False),
    Column("source_version", String(100), nullable=False, default=""),
    Column("source_fingerprint", String(64)),
    Column("target_fingerprint", String(64)),
    Column("written_fingerprint", String(64)),
    Column("flow", String(100)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("source_system", "source_entity", "source_id", "target_system", name="uq_binding_source"),
)
Index("ix_bindings_target", bindings.c.target_system, bindings.c.target_entity, bindings.c.target_id)

cursors = Table(
    "cursors", metadata,
    Column("name", String(200), primary_key=True),
    Column("system", String(100), nullable=False),
    Column("entity", String(50), nullable=False),
    Column("value", String(200)),
    Column("updated_at", UtcDateTime, nullable=False),
)

deliveries = Table(
    "deliveries", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("system", String(100), nullable=False),
    Column("delivery_id", String(200)),
    Column("topic", String(100)),
    Column("received_at", UtcDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", Text),
    Column("body", Text),
    Column("events", Integer, nullable=False, default=0),
    UniqueConstraint("system", "delivery_id", name="uq_delivery"),
)

audit = Table(
    "audit", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("flow", String(100)),
    Column("system", String(100), nullable=False),
    Column("entity", String(50), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("event_id", BigInteger),
    Column("action", String(40), nullable=False),
    Column("detail", Text),
)
Index("ix_audit_record", audit.c.system, audit.c.entity, audit.c.external_id)

# Reconciliation keeps its runs in the same store; the shape is reconciliation's own.
reconcile_runs, discrepancies = define_tables(metadata)

record_leases = Table(
    "record_leases", metadata,
    Column("record_key", String(400), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("until", UtcDateTime, nullable=False),
    Column("taken_at", UtcDateTime, nullable=False),
)
Index("ix_record_leases_owner", record_leases.c.owner)

workers = Table(
    "workers", metadata,
    Column("owner", String(200), primary_key=True),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
)

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True),
    Column("description", Text, nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
)


def _v1_create_all(conn: Connection) -> None:
    metadata.create_all(conn)


def _v2_reconcile_history(conn: Connection) -> None:
    """Replace the first placeholder reconcile tables by reconciliation's own shape (they held nothing)."""
    columns = {c["name"] for c in inspect(conn).get_columns("reconcile_runs")}
    if "owner_system" not in columns:
        discrepancies.drop(conn, checkfirst=True)
        reconcile_runs.drop(conn, checkfirst=True)
    metadata.create_all(conn, tables=[reconcile_runs, discrepancies])


NOTIFY_CHANNEL = "doohickey_events"


def _v3_workers(conn: Connection) -> None:
    """Record leases and worker heartbeats; on PostgreSQL a NOTIFY on every insert of Events."""
    metadata.create_all(conn, tables=[record_leases, workers])
    if conn.dialect.name == "postgresql":
        # A statement-level trigger: every writer of Events (webhooks, polls, replays from the CLI on another
        # machine) wakes the workers, delivered at commit, one notification per transaction.
        conn.exec_driver_sql(f"""
            CREATE OR REPLACE FUNCTION doohickey_notify_events() RETURNS trigger AS $$
            BEGIN PERFORM pg_notify('{NOTIFY_CHANNEL}', ''); RETURN NULL; END $$ LANGUAGE plpgsql""")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_notify ON events")
        conn.exec_driver_sql("CREATE TRIGGER events_notify AFTER INSERT ON events "
                             "FOR EACH STATEMENT EXECUTE FUNCTION doohickey_notify_events()")


# Each migration is (version, description, function). Append only; never edit an applied one.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "events, attempts, dead letters, bindings, cursors, deliveries, audit, reconcile runs", _v1_create_all),
    (2, "reconcile runs and discrepancies in reconciliation's own shape", _v2_reconcile_history),
    (3, "record leases and worker heartbeats for several workers; NOTIFY on new events", _v3_workers),
]
LATEST = MIGRATIONS[-1][0]


def default_url(base: str | Path = ".doohickey") -> str:
    """The embedded store: ``sqlite:///.doohickey/state.sqlite`` (the folder is created)."""
    folder = Path(base)
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'state.sqlite'}"


class Store:
    """The engine's database: an SQLAlchemy Engine plus the few helpers every engine module shares."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url, echo)
        self.dialect = self.engine.dialect.name

    @classmethod
    def open(cls, url: str | None = None, *, upgrade: bool = True) -> Store:
        """Open the store at ``url`` (the embedded default when None) and bring its schema up to date."""
        store = cls(url or default_url())
        if upgrade:
            store.upgrade()
        return store

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: committed (durably) when the block ends, rolled back on error."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (on SQLite a deferred one, which never waits for the write lock)."""
        with self.engine.connect().execution_options(readonly=True) as conn, conn.begin():
            yield conn

    def upgrade(self) -> list[int]:
        """Apply every migration not yet applied; returns the versions applied (empty when up to date)."""
        applied: list[int] = []
        with self.begin() as conn:
            schema_version.create(conn, checkfirst=True)
            if self.dialect == "postgresql":
                # One migrator at a time, even with workers starting together.
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
            done = set(conn.execute(select(schema_version.c.version)).scalars())
            for version, description, migrate in MIGRATIONS:
                if version in done:
                    continue
                migrate(conn)
                conn.execute(insert(schema_version).values(version=version, description=description,
                                                           applied_at=dt.datetime.now(dt.UTC)))
                applied.append(version)
        return applied

    def version(self) -> int:
        """The schema version applied (0 for an empty database)."""
        with self.begin() as conn:
            schema_version.create(conn, checkfirst=True)
            found = conn.execute(select(schema_version.c.version).order_by(schema_version.c.version.desc())).first()
        return found[0] if found else 0

    def insert_ignore(self, table: Table, rows: list[dict[str, Any]], conn: Connection) -> int:
        """Insert ``rows``, skipping any that break a unique constraint; returns how many were new."""
        if not rows:
            return 0
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        # RETURNING counts the rows really inserted; rowcount is not reliable across drivers here.
        key = next(iter(table.primary_key.columns))
        statement = dialect_insert(table).on_conflict_do_nothing().returning(key)
        return len(conn.execute(statement, rows).all())

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _make_engine(url: str, echo: bool) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, json_serializer=_dumps,
                               connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, echo=echo, json_serializer=_dumps, pool_size=10, max_overflow=10)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is switched off so BEGIN IMMEDIATE below is the only one.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # fsync on every commit: an acknowledged event survives power loss
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the write lock at BEGIN so two never deadlock on an upgrade from read to write;
    # readers begin deferred and never wait for it (WAL lets them read alongside the writer).
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("readonly") else "BEGIN IMMEDIATE")
