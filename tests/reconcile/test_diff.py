"""The reconciliation diff: each kind of Discrepancy is found with its values, and clean data reports nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from doohickey.reconcile.diff import DiffSpec, FieldRule, Kind, ReconcileError, diff_pages
from doohickey.reconcile.readers import bulk_pages, chunked, jsonl_rows, shopify_inventory_row

STOCK = DiffSpec("stock", (FieldRule("available", "int"),), key=("sku",))


def stock(levels: dict[str, int]) -> list[dict]:
    return [{"sku": sku, "available": n, "_id": f"id-{sku}"} for sku, n in levels.items()]


def run(owner: list[dict], other: list[dict], spec: DiffSpec = STOCK, page: int = 2, **kw):
    return diff_pages(spec, chunked(owner, page), chunked(other, page), **kw)


def test_a_stock_drift_is_reported_with_both_values() -> None:
    result = run(stock({"A": 5, "B": 7, "C": 0}), stock({"A": 5, "B": 4, "C": 0}))
    assert result.counts == {"missing": 0, "duplicate": 0, "mismatch": 1, "orphan": 0}
    (d,) = result.discrepancies
    assert (d.kind, d.key, d.other_ids) == (Kind.MISMATCH, "B", ("id-B",))
    assert [(f.name, f.owner, f.other, f.delta) for f in d.fields] == [("available", 7, 4, -3)]
    assert result.matched == 2


def test_missing_orphan_and_duplicate_are_found_and_sorted_worst_first() -> None:
    owner = stock({"A": 1, "B": 2, "C": 3, "D": 4})
    other = [*stock({"A": 1, "C": 9, "Z": 1}), {"sku": "D", "available": 4, "_id": "d-1"},
             {"sku": "D", "available": 4, "_id": "d-2"}]
    result = run(owner, other)
    assert result.counts == {"missing": 1, "duplicate": 1, "mismatch": 1, "orphan": 1}
    kinds = [(d.kind, d.key) for d in result.discrepancies]
    assert kinds == [(Kind.MISSING, "B"), (Kind.DUPLICATE, "D"), (Kind.MISMATCH, "C"), (Kind.ORPHAN, "Z")]
    dup = result.discrepancies[1]
    assert dup.other_ids == ("d-1", "d-2")


def test_duplicate_inside_one_page_and_across_pages() -> None:
    other = [{"sku": "A", "available": 1, "_id": "x"}, {"sku": "A", "available": 1, "_id": "y"},
             {"sku": "B", "available": 1, "_id": "p"}, {"sku": "C", "available": 1, "_id": "q"},
             {"sku": "B", "available": 1, "_id": "r"}]
    result = run(stock({"A": 1, "B": 1, "C": 1}), other, page=2)
    dups = {d.key: d.other_ids for d in result.discrepancies if d.kind == Kind.DUPLICATE}
    assert dups == {"A": ("x", "y"), "B": ("p", "r")}


def test_duplicate_in_the_owner_is_reported_on_the_owner_side() -> None:
    owner = [*stock({"A": 1}), {"sku": "A", "available": 1, "_id": "second"}]
    result = run(owner, stock({"A": 1}))
    (d,) = result.discrepancies
    assert (d.kind, d.side, d.owner_id) == (Kind.DUPLICATE, "owner", "second")


def test_clean_data_reports_nothing_twice_and_page_size_does_not_matter() -> None:
    levels = {f"S{i}": i % 7 for i in range(1000)}
    for page in (1, 7, 1000):
        result = run(stock(levels), list(reversed(stock(levels))), page=page)
        assert result.clean and result.matched == 1000 and result.discrepancies == []


def test_normalised_values_match_and_tolerance_is_respected() -> None:
    spec = DiffSpec("order", (FieldRule("total", "money"), FieldRule("email", "email"),
                              FieldRule("weight", "decimal", tolerance=Decimal("0.5"))), key=("number",))
    owner = [{"number": "1001", "total": "10.5", "email": "Jane.Doe@Example.com ", "weight": "2.0"},
             {"number": "1002", "total": "3", "email": "a@b.c", "weight": "1"}]
    other = [{"number": "1001", "total": Decimal("10.50"), "email": "jane.doe@example.com", "weight": 2.4},
             {"number": "1002", "total": "3.01", "email": "a@b.c", "weight": 2}]
    result = run(owner, other, spec)
    (d,) = result.discrepancies
    assert d.key == "1002"
    assert [(f.name, str(f.owner), str(f.other)) for f in d.fields] == [("total", "3.00", "3.01"),
                                                                       ("weight", "1", "2")]


def test_missing_waits_for_the_grace_period() -> None:
    now = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    spec = DiffSpec("stock", STOCK.fields, key=("sku",), grace=dt.timedelta(minutes=15))
    owner = [{"sku": "OLD", "available": 1, "_updated_at": "2026-05-01T11:00:00Z"},
             {"sku": "NEW", "available": 1, "_updated_at": now - dt.timedelta(minutes=5)}]
    result = run(owner, [], spec, now=now)
    assert [d.key for d in result.discrepancies] == ["OLD"] and result.pending == 1


def test_wide_records_use_a_digest_and_still_find_tolerance_fields() -> None:
    fields = (*(FieldRule(f, "text") for f in "abcde"), FieldRule("n", "int", tolerance=1))
    spec = DiffSpec("thing", fields, key=("id",))
    assert spec.uses_digest()
    base = {"id": "1", "a": "x", "b": "y", "c": "z", "d": "w", "e": "v", "n": 10}
    result = run([base, {**base, "id": "2"}], [{**base, "n": 11}, {**base, "id": "2", "c": "changed"}], spec)
    (d,) = result.discrepancies
    assert d.key == "2" and d.note == "owner values to be fetched"
    assert result.needs_owner_values == [d]


def test_sequence_rows_with_columns_as_sql_readers_give_them() -> None:
    result = run([("A", 1), ("B", 2)], [("B", 3), ("A", 1)], columns=(("sku", "available"), ("sku", "available")))
    assert [(d.key, d.fields[0].owner, d.fields[0].other) for d in result.discrepancies] == [("B", 2, 3)]


def test_a_value_the_transform_cannot_read_is_named_with_record_and_field() -> None:
    with pytest.raises(ReconcileError, match=r"other record B: field 'available' value '2.5' cannot be read as int"):
        run(stock({"B": 2}), [{"sku": "B", "available": "2.5"}])
    with pytest.raises(ReconcileError, match="unknown reconcile transform 'cents'"):
        run([], [], DiffSpec("stock", (FieldRule("available", "cents"),)))


def test_a_shopify_bulk_export_can_feed_the_diff() -> None:
    lines = [
        '{"id": "gid://shopify/Location/1", "name": "Main"}',
        '{"id": "gid://shopify/InventoryLevel/1", "item": {"sku": "A"}, "location": {"name": "Main"},'
        ' "quantities": [{"name": "available", "quantity": 4}], "__parentId": "gid://shopify/Location/1"}',
        '{"id": "gid://shopify/InventoryLevel/2", "item": {"sku": "B"}, "location": {"name": "Main"},'
        ' "quantities": [{"name": "available", "quantity": 2}], "__parentId": "gid://shopify/Location/1"}',
    ]
    shop = bulk_pages(jsonl_rows(lines), project=shopify_inventory_row, page_size=1)
    result = diff_pages(STOCK, chunked(stock({"A": 4, "B": 3}), 10), shop)
    assert [(d.key, d.fields[0].other) for d in result.discrepancies] == [("B", 2)]
    assert result.discrepancies[0].other_ids == ("gid://shopify/InventoryLevel/2",)


def test_a_broken_bulk_line_is_named() -> None:
    with pytest.raises(ReconcileError, match="line 2: not valid JSON"):
        list(jsonl_rows(['{"a": 1}', "{oops"]))


def test_owner_records_without_a_key_are_counted_not_compared() -> None:
    owner = [*stock({"A": 1}), {"sku": None, "available": 3}, {"sku": "", "available": 4}]
    result = run(owner, stock({"A": 1}))
    assert result.clean and result.unkeyed == 2 and result.owner_rows == 3


def test_duplicates_are_found_when_rows_carry_no_id_column() -> None:
    cols = ("sku", "available")
    result = run([("A", 1), ("B", 2)], [("A", 1), ("B", 2), ("A", 1)], page=2, columns=(cols, cols))
    assert [(d.kind, d.key, d.other_ids) for d in result.discrepancies] == [(Kind.DUPLICATE, "A", ("A", "A"))]


def test_memory_follows_the_keys_not_the_records() -> None:
    import tracemalloc

    def pages(n: int, drift: int | None):
        for start in range(0, n, 200):
            yield [{"sku": f"S{i:06d}", "available": i % 50 + bool(drift and i % drift == 0),
                    "description": "x" * 5_000} for i in range(start, min(start + 200, n))]

    tracemalloc.start()
    try:
        result = diff_pages(STOCK, pages(20_000, None), pages(20_000, 1_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.counts["mismatch"] == 20 and result.matched == 19_980
    streamed = 2 * 20_000 * 5_000
    assert peak < 12_000_000 < streamed / 15  # two pages of records plus key -> value maps, never the records
