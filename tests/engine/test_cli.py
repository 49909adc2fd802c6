"""The engine's CLI commands: db upgrade, status, trace, deadletters list|show|replay|discard, demo --json."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from doohickey.cli import app
from doohickey.clock import SYSTEM_CLOCK
from doohickey.connectors.spec import Record
from doohickey.engine import deadletter
from doohickey.engine import events as ev
from doohickey.engine.demo import EXAMPLE
from doohickey.engine.store import Store

runner = CliRunner()


@pytest.fixture
def store_with_dead_letter(tmp_path):
    """A store holding one received order and one dead letter for it."""
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    store = Store.open(url)
    with store.begin() as conn:
        ids = ev.record(store, conn, [ev.Incoming("orders-to-erp", Record(
            "shop", "order", "gid://shopify/Order/1", {"number": "#1001", "lines": [{"sku": "SKU-123"}]}, "v1"),
            "webhook")], SYSTEM_CLOCK.now())
    event = ev.get(store, ids[0])
    with store.begin() as conn:
        deadletter.add(conn, event, reason="erp rejected order #1001: product code SKU-123 does not exist",
                       kind="RejectedError", detail="POST /sales-orders -> 400", tries=1, owner="Order desk",
                       at=SYSTEM_CLOCK.now())
    yield url, store
    store.dispose()


def test_db_upgrade_creates_and_is_idempotent(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    first = runner.invoke(app, ["db", "upgrade", "--store", url])
    again = runner.invoke(app, ["db", "upgrade", "--store", url])
    assert first.exit_code == 0 and "applied 1" in first.output
    assert again.exit_code == 0 and "already up to date" in again.output


def test_deadletters_list_show_replay_discard(store_with_dead_letter) -> None:
    url, store = store_with_dead_letter
    listed = runner.invoke(app, ["deadletters", "list", "--store", url], env={"COLUMNS": "250"})
    assert listed.exit_code == 0 and "product code SKU-123 does not exist" in listed.output
    shown = runner.invoke(app, ["deadletters", "show", "1", "--store", url], env={"COLUMNS": "250"})
    assert shown.exit_code == 0 and "#1001" in shown.output and "Order desk" in shown.output
    replayed = runner.invoke(app, ["deadletters", "replay", "1", "--store", url])
    assert replayed.exit_code == 0 and "replayed as event" in replayed.output
    assert deadletter.get(store, 1).status == "replayed"
    twice = runner.invoke(app, ["deadletters", "replay", "1", "--store", url])
    assert twice.exit_code == 2 and "already replayed" in twice.output
    missing = runner.invoke(app, ["deadletters", "discard", "99", "--store", url])
    assert missing.exit_code == 2 and "no open dead letter 99" in missing.output


def test_trace_shows_how_a_record_was_received(store_with_dead_letter) -> None:
    url, _ = store_with_dead_letter
    result = runner.invoke(app, ["trace", "shop", "order", "gid://shopify/Order/1", "--store", url],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 0 and "received" in result.output and "by webhook" in result.output
    unknown = runner.invoke(app, ["trace", "shop", "order", "nope", "--store", url])
    assert unknown.exit_code == 2 and "nothing recorded" in unknown.output


def test_status_reports_backlog_and_dead_letters_per_flow(store_with_dead_letter) -> None:
    url, _ = store_with_dead_letter
    result = runner.invoke(app, ["status", str(EXAMPLE), "--store", url, "--json"])
    assert result.exit_code == 0
    rows = {r["flow"]: r for r in json.loads(result.output)}
    assert rows["orders-to-erp"]["pending"] == 1 and rows["orders-to-erp"]["dead_letters"] == 1
    assert rows["orders-to-erp"]["promise_s"] == 900


def test_demo_json_last_line_is_the_summary() -> None:
    result = runner.invoke(app, ["demo", "--orders", "30", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["orders_created"] == 30 and summary["duplicate_orders_in_erp"] == 0
    assert summary["lost_orders"] == 0 and summary["orders_in_erp"] == 29  # one is dead-lettered on purpose
    assert summary["stock_mismatches"] == 0
    for key in ("dead_letters", "p50_lag_s", "p95_lag_s", "duration_s"):
        assert key in summary


def test_sync_names_a_missing_secret_without_a_traceback(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("SHOPIFY_ADMIN_TOKEN", raising=False)
    result = runner.invoke(app, ["sync", str(EXAMPLE), "customers-to-erp", "--backfill", "--env", "production",
                                 "--store", f"sqlite:///{tmp_path / 's.sqlite'}"], env={"COLUMNS": "250"})
    assert result.exit_code == 2
    assert "SHOPIFY_ADMIN_TOKEN is not set" in result.output and "Traceback" not in result.output
    unknown = runner.invoke(app, ["sync", str(EXAMPLE), "nope", "--backfill"], env={"COLUMNS": "250"})
    assert unknown.exit_code == 2 and "no flow 'nope'" in unknown.output


def test_several_workers_need_postgresql(tmp_path) -> None:
    result = runner.invoke(app, ["run", str(EXAMPLE), "--workers", "2", "--store", f"sqlite:///{tmp_path}/s.sqlite"])
    assert result.exit_code == 2
    assert "--workers 2 needs a PostgreSQL store" in " ".join(result.output.split())
    demo = runner.invoke(app, ["demo", "--store", "mysql://x", "--workers", "2"])
    assert demo.exit_code == 2 and "must be a postgresql://" in " ".join(demo.output.split())


@pytest.mark.postgresql
def test_demo_on_postgresql_with_two_worker_processes() -> None:
    """`doohickey demo --store postgresql://... --workers 2`: same JSON summary, nothing lost or doubled."""
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432: {exc}")
    result = runner.invoke(app, ["demo", "--orders", "40", "--json", "--workers", "2",
                                 "--store", "postgresql://postgres@127.0.0.1:5432/postgres"])
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert result.exit_code == 0, result.output[-2000:]
    assert summary["orders_created"] == 40 and summary["duplicate_orders_in_erp"] == 0
    assert summary["lost_orders"] == 0
    assert summary["orders_in_erp"] == summary["orders_created"] - summary["dead_lettered_orders"]
