"""Engine fixtures: a store on SQLite and (marked postgresql) on a throwaway PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from doohickey.engine.store import Store


def _postgres_store() -> Iterator[Store]:
    psycopg = pytest.importorskip("psycopg")
    name = f"doohickey_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True,
                                connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432: {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')
    store = Store.open(f"postgresql://postgres@127.0.0.1:5432/{name}")
    try:
        yield store
    finally:
        store.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:
    """The engine's store on SQLite (WAL, fsync on) and on PostgreSQL: core tests run on both."""
    if request.param == "sqlite":
        s = Store.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
        yield s
        s.dispose()
    else:
        yield from _postgres_store()


@pytest.fixture
def sqlite_store(tmp_path) -> Iterator[Store]:
    """An SQLite store only (for tests whose subject is not the database)."""
    s = Store.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield s
    s.dispose()
