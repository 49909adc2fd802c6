"""Reconciliation runs over in-memory Systems: repair only from the owner, re-check, history and reports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from doohickey.clock import ManualClock
from doohickey.reconcile.diff import DiffSpec, FieldRule, Kind
from doohickey.reconcile.history import History
from doohickey.reconcile.reconciler import BindingRef, MemoryBindings, ReconcileSpec, Source, reconcile
from doohickey.reconcile.report import render_csv, render_html, render_json, write_report

from .memory import DirectRepair, MemoryClient

STOCK = ReconcileSpec("stock", DiffSpec("stock", (FieldRule("available", "int"),), key=("sku",)),
                      owner="erp", other="shop", person="Stock desk (Ana)", repair=True)


def systems(erp: dict[str, int], shop: dict[str, int]) -> tuple[MemoryClient, MemoryClient]:
    return (MemoryClient("erp", {"stock": {f"e-{s}": {"sku": s, "available": n} for s, n in erp.items()}}),
            MemoryClient("shop", {"stock": {f"s-{s}": {"sku": s, "available": n} for s, n in shop.items()}}))


@pytest.mark.anyio
async def test_stock_difference_is_repaired_from_the_owner_only_and_rechecked() -> None:
    erp, shop = systems({"A": 5, "B": 8, "C": 1}, {"A": 5, "B": 3, "C": 1})
    run = await reconcile(STOCK, Source("erp", erp, page_size=2), Source("shop", shop, page_size=2),
                          repair=DirectRepair(shop), clock=ManualClock())
    assert run.found.counts["mismatch"] == 1
    assert [(r.action, r.other_id, dict(r.values)) for r in run.repaired] == [("update", "s-B", {"available": 8})]
    assert erp.writes == []  # never towards the owner
    assert shop.data["stock"]["s-B"]["available"] == 8
    assert run.recheck is not None and run.recheck.clean and run.status == "repaired"


@pytest.mark.anyio
async def test_missing_record_is_created_once_and_a_second_run_changes_nothing() -> None:
    erp, shop = systems({"A": 5, "NEW": 2}, {"A": 5})
    repair = DirectRepair(shop)
    first = await reconcile(STOCK, Source("erp", erp), Source("shop", shop), repair=repair, clock=ManualClock())
    assert [(d.kind, d.key) for d in first.found.discrepancies] == [(Kind.MISSING, "NEW")]
    assert [(w.action, w.data["sku"], w.data["available"]) for w in shop.writes] == [("create", "NEW", 2)]
    second = await reconcile(STOCK, Source("erp", erp), Source("shop", shop), repair=repair, clock=ManualClock())
    assert second.found.clean and second.repaired == [] and len(shop.writes) == 1


@pytest.mark.anyio
async def test_fields_the_owner_does_not_own_are_reported_but_never_pushed() -> None:
    spec = ReconcileSpec("stock", DiffSpec("stock", (FieldRule("available", "int"), FieldRule("reserved", "int")),
                                           key=("sku",)), owner="erp", other="shop",
                         owned=frozenset({"available"}), repair=True)
    erp = MemoryClient("erp", {"stock": {"e1": {"sku": "A", "available": 4, "reserved": 1}}})
    shop = MemoryClient("shop", {"stock": {"s1": {"sku": "A", "available": 3, "reserved": 2}}})
    run = await reconcile(spec, Source("erp", erp), Source("shop", shop), repair=DirectRepair(shop),
                          clock=ManualClock())
    assert [dict(r.values) for r in run.repaired] == [{"available": 4}]
    assert shop.data["stock"]["s1"] == {"sku": "A", "available": 4, "reserved": 2}
    assert [f.name for f in run.recheck.discrepancies[0].fields] == ["reserved"]


@pytest.mark.anyio
async def test_orders_matched_through_bindings_find_orphans_and_hand_edits() -> None:
    spec = ReconcileSpec("orders", DiffSpec("order", (FieldRule("total", "money"),)), owner="shop", other="erp")
    shop = MemoryClient("shop", {"order": {"1": {"total": "10.00"}, "2": {"total": "20.00"}, "3": {"total": "5"}}})
    erp = MemoryClient("erp", {"order": {"SO-1": {"total": 10}, "SO-2": {"total": "21.50"}, "SO-9": {"total": 1}}})
    bindings = MemoryBindings([BindingRef("order", "shop", "1", "erp", "SO-1"),
                               BindingRef("order", "shop", "2", "erp", "SO-2")])
    run = await reconcile(spec, Source("shop", shop), Source("erp", erp), bindings=bindings, clock=ManualClock())
    found = {(d.kind, d.key): d for d in run.found.discrepancies}
    assert set(found) == {(Kind.MISSING, "3"), (Kind.MISMATCH, "2"), (Kind.ORPHAN, "SO-9")}
    mismatch = found[(Kind.MISMATCH, "2")]
    assert (str(mismatch.fields[0].owner), str(mismatch.fields[0].other), mismatch.other_ids) == (
        "20.00", "21.50", ("SO-2",))


@pytest.mark.anyio
async def test_digest_mismatch_gets_the_owner_values_from_the_owner_system() -> None:
    fields = tuple(FieldRule(f, "text") for f in ("first_name", "last_name", "phone", "company", "note"))
    spec = ReconcileSpec("customers", DiffSpec("customer", fields, key=("email",), key_transform="email"),
                         owner="shop", other="erp")
    person = {"email": "a@x.io", "first_name": "Ann", "last_name": "Lee", "phone": "1", "company": "", "note": ""}
    shop = MemoryClient("shop", {"customer": {"c1": person}})
    erp = MemoryClient("erp", {"customer": {"E1": {**person, "last_name": "Leigh"}}})
    run = await reconcile(spec, Source("shop", shop), Source("erp", erp), clock=ManualClock())
    (d,) = run.found.discrepancies
    assert d.owner_id == "c1" and [(f.name, f.owner, f.other) for f in d.fields] == [("last_name", "Lee", "Leigh")]


@pytest.mark.anyio
async def test_runs_are_stored_and_reports_hold_the_values(tmp_path) -> None:
    clock = ManualClock(dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    history = History(f"sqlite:///{tmp_path / 'state.sqlite'}")
    spec = ReconcileSpec("stock", STOCK.diff, owner="erp", other="shop", person="Stock desk (Ana)")
    for drift in ({"B": 3}, {"B": 3, "C": 0}, {}):
        erp, shop = systems({"A": 5, "B": 8, "C": 1}, {"A": 5, "B": 8, "C": 1, **drift})
        run = await reconcile(spec, Source("erp", erp), Source("shop", shop), clock=clock, history=history)
        clock.advance(3600)
    past = history.recent("stock")
    assert [h.total for h in past] == [1, 2, 0] and past[-1].status == "clean"
    assert [(d.key, d.fields[0].owner, d.fields[0].other) for d in history.discrepancies(past[1].id)] == [
        ("B", 8, 3), ("C", 1, 0)]

    erp, shop = systems({"A": 5, "B": 8, "GONE": 1}, {"A": 5, "B": 2, "EXTRA": 4})
    run = await reconcile(spec, Source("erp", erp), Source("shop", shop), clock=clock, history=history)
    html = render_html(run, history.recent("stock"))
    assert "<svg" in html and "Stock desk (Ana)" in html and "drift" in html
    assert html.index("GONE") < html.index(">B<") < html.index("EXTRA")  # worst first
    assert '<span class="old">8</span>' in html and '<span class="new">2</span>' in html
    rows = list(csv.DictReader(line for line in io.StringIO(render_csv(run)) if not line.startswith("#")))
    assert {(r["kind"], r["key"], r["owner_value"], r["other_value"]) for r in rows} == {
        ("missing", "GONE", "", ""), ("mismatch", "B", "8", "2"), ("orphan", "EXTRA", "", "")}
    data = json.loads(render_json(run))
    assert data["summary"]["mismatch"] == 1 and data["records"][1]["fields"][0] == {
        "name": "available", "owner": 8, "other": 2, "delta": -6}
    written = write_report(run, tmp_path / "r.html", history.recent("stock"))
    assert written.read_text().startswith("<!doctype html>")


@pytest.mark.anyio
async def test_scheduled_entries_fall_due_and_drift_alerts_name_the_owner() -> None:
    from doohickey.reconcile.reconciler import drift_alert, due

    now = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    every5 = ReconcileSpec("stock", STOCK.diff, "erp", "shop", every=dt.timedelta(minutes=5), person="Ana")
    every15 = ReconcileSpec("orders", STOCK.diff, "shop", "erp", every=dt.timedelta(minutes=15))
    last = {"stock": now - dt.timedelta(minutes=6), "orders": now - dt.timedelta(minutes=6)}
    assert due([every5, every15], last, now) == ["stock"]
    assert due([every5, every15], {}, now) == ["stock", "orders"]
    erp, shop = systems({"A": 5, "B": 8}, {"A": 5, "B": 6})
    run = await reconcile(every5, Source("erp", erp), Source("shop", shop), clock=ManualClock())
    alert = drift_alert(run)
    assert alert is not None and "for Ana" in alert and "mismatch B available 8->6" in alert
    erp, shop = systems({"A": 5}, {"A": 5})
    assert drift_alert(await reconcile(every5, Source("erp", erp), Source("shop", shop), clock=ManualClock())) is None


def test_history_refuses_a_store_schema_it_cannot_write() -> None:
    import sqlalchemy as sa

    from doohickey.reconcile.diff import ReconcileError

    other = sa.MetaData()
    sa.Table("reconcile_runs", other, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("discrepancies", other, sa.Column("id", sa.Integer, primary_key=True))
    with pytest.raises(ReconcileError, match="lacks column"):
        History("sqlite://", other)


@pytest.mark.anyio
async def test_a_bulk_export_can_stand_in_for_the_owner_client() -> None:
    export = [{"sku": "A", "available": 5, "_id": "inv-1"}, {"sku": "B", "available": 9, "_id": "inv-2"}]
    shop = MemoryClient("shop", {"stock": {"s-A": {"sku": "A", "available": 5}}})
    spec = ReconcileSpec("stock", STOCK.diff, owner="erp", other="shop")
    run = await reconcile(spec, Source("erp", bulk=lambda: [export[:1], export[1:]]), Source("shop", shop),
                          clock=ManualClock())
    assert [(d.kind, d.key) for d in run.found.discrepancies] == [(Kind.MISSING, "B")]


@pytest.mark.anyio
async def test_a_record_deleted_in_the_other_system_is_created_again_naming_the_stale_binding() -> None:
    spec = ReconcileSpec("orders", DiffSpec("order", (FieldRule("total", "money"),)), owner="shop", other="erp",
                         repair=True)
    shop = MemoryClient("shop", {"order": {"1": {"number": "#1", "total": "10.00"}}})
    erp = MemoryClient("erp", {"order": {}})
    bindings = MemoryBindings([BindingRef("order", "shop", "1", "erp", "SO-GONE")])
    repair = DirectRepair(erp)
    run = await reconcile(spec, Source("shop", shop), Source("erp", erp), bindings=bindings, repair=repair,
                          clock=ManualClock())
    assert [(r.action, r.owner_id, r.other_id, dict(r.record)) for r in run.repaired] == [
        ("create", "1", "SO-GONE", {"number": "#1", "total": "10.00"})]
    assert [w.action for w in erp.writes] == ["create"]
