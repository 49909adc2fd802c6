"""Status value matching: meanings across systems, unmapped values, the status table file, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from doohickey.cli import app
from doohickey.errors import MappingError
from doohickey.mapping.values import match_values, parse_values

SHOPIFY_FINANCIAL = ["pending", "authorized", "partially_paid", "paid", "partially_refunded", "refunded", "voided"]
WOO_STATUS = ["pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash"]
ERP_INVOICE = ["none", "waiting", "awaiting payment", "partially paid", "paid", "exception"]


def test_payment_statuses_map_by_meaning_not_spelling() -> None:
    table = match_values(SHOPIFY_FINANCIAL, ERP_INVOICE).table()
    assert table["paid"] == "paid"
    assert table["partially_paid"] == "partially paid"  # separators differ, the meaning is the same
    assert table["pending"] == "awaiting payment"
    assert table["authorized"] == "awaiting payment"  # several source values may share a target
    assert "refunded" not in table and "voided" not in table  # no target means that: left unmapped


def test_storefront_statuses_to_another_storefront() -> None:
    result = match_values(SHOPIFY_FINANCIAL, WOO_STATUS)
    table = result.table()
    assert table["voided"] == "cancelled"
    assert table["refunded"] == "refunded"
    assert table["authorized"] == "on-hold"
    assert "partially_refunded" in result.unmapped  # refunded in part is not refunded
    best = result.candidates["voided"][0]
    assert best.reasons == ["both mean 'cancelled'"]


def test_product_status_to_a_visibility_flag() -> None:
    assert match_values(["active", "draft", "archived"], ["true", "false"]).table() == {
        "active": "true", "draft": "false", "archived": "false"}


def test_fulfilment_status_to_shipment_state() -> None:
    table = match_values(["null", "partial", "fulfilled", "restocked"], ["none", "waiting", "partially shipped",
                                                                         "sent", "exception"]).table()
    assert table == {"null": "waiting", "partial": "partially shipped", "fulfilled": "sent"}


def test_threshold_decides_what_is_accepted() -> None:
    assert "authorized" in match_values(SHOPIFY_FINANCIAL, ERP_INVOICE, threshold=0.5).table()
    assert "authorized" not in match_values(SHOPIFY_FINANCIAL, ERP_INVOICE, threshold=0.8).table()


def _schema(tmp_path: Path) -> Path:
    path = tmp_path / "shop.order.json"
    path.write_text(json.dumps({"system": "shop", "entity": "order", "fields": [
        {"path": "financial_status", "type": "enum", "enum": SHOPIFY_FINANCIAL},
        {"path": "note", "type": "string"}]}))
    return path


def test_cli_reads_enums_from_schemas_and_writes_a_status_table(tmp_path: Path) -> None:
    out_file = tmp_path / "status.yaml"
    out = CliRunner().invoke(app, ["map", "values", f"{_schema(tmp_path)}#financial_status",
                                   ",".join(WOO_STATUS), "--write", str(out_file)])
    assert out.exit_code == 0, out.output
    assert "on-hold" in out.output and "(unmapped)" in out.output
    text = out_file.read_text()
    assert text.startswith("# DRAFT status table")
    assert "unmapped (no target above the threshold): partially_paid, partially_refunded" in text
    table = yaml.safe_load(text)
    assert table == {"pending": "pending", "authorized": "on-hold", "paid": "processing", "refunded": "refunded",
                     "voided": "cancelled"}


def test_cli_json(tmp_path: Path) -> None:
    out = CliRunner().invoke(app, ["map", "values", "paid,voided,gift", "paid,cancelled", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["threshold"] == 0.5 and doc["unmapped"] == ["gift"]
    assert {"source": "voided", "target": "cancelled"}.items() <= doc["matches"][1].items()


@pytest.mark.parametrize(("spec", "needle"), [
    ("{schema}#nope", "has no field 'nope'"),
    ("{schema}#note", "field 'note' has no enum values"),
    ("{schema}", "name the field too"),
    ("missing.json#status", "schema file not found: missing.json"),
    (" , ", "no values in"),
])
def test_bad_values_input_is_explained(tmp_path: Path, spec: str, needle: str) -> None:
    arg = spec.format(schema=_schema(tmp_path))
    with pytest.raises(MappingError) as err:
        parse_values(arg)
    assert needle in err.value.message
    out = CliRunner().invoke(app, ["map", "values", arg, "paid"])
    assert out.exit_code == 2 and needle in out.output and "Traceback" not in out.output


def test_benchmark_value_matches(shared_dir: Path) -> None:
    """The dev benchmark's judged status tables: every judged value, unmapped ones included."""
    dev = shared_dir / "benchmarks" / "mapping-dev"
    hits = total = 0
    for gold_path in sorted((dev / "pairs").glob("*.json")):
        gold = json.loads(gold_path.read_text())
        for vm in gold.get("value_matches", []):
            src, _ = parse_values(f"{dev / 'schemas' / gold['source']}.json#{vm['source_field']}")
            dst, _ = parse_values(f"{dev / 'schemas' / gold['target']}.json#{vm['target_field']}")
            got = match_values(src, dst).table()
            expected = {m["source"]: m["target"] for m in vm["map"]}
            expected.update({v: None for v in vm.get("unmapped_source_values", [])})
            hits += sum(got.get(v) == t for v, t in expected.items())
            total += len(expected)
    assert total >= 25 and hits / total >= 0.9
