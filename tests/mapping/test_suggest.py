"""Field mapping suggestions: right candidates with reasons, the JSON and draft formats, loaders, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from doohickey.cli import app
from doohickey.errors import MappingError
from doohickey.mapping.suggest import load_schema, render_draft, suggest

SHOP_ORDER = {
    "system": "shop", "entity": "order",
    "fields": [
        {"path": "id", "type": "integer", "description": "The ID of the order."},
        {"path": "email", "type": "string", "description": "The customer's email address."},
        {"path": "total_price", "type": "string", "description": "Sum of line item prices, shipping and taxes."},
        {"path": "total_tax", "type": "string", "description": "The sum of all the taxes applied to the order."},
        {"path": "currency", "type": "string", "description": "The three-letter code (ISO 4217) for the currency."},
        {"path": "financial_status", "type": "enum", "description": "The status of payments of the order.",
         "enum": ["pending", "authorized", "paid", "refunded", "voided"]},
        {"path": "created_at", "type": "datetime", "description": "When the order was created."},
        {"path": "line_items[].sku", "type": "string", "description": "The item's SKU (stock keeping unit)."},
        {"path": "line_items[].quantity", "type": "integer", "description": "The number of items purchased."},
        {"path": "line_items[].price", "type": "string", "description": "The price of the item."},
        {"path": "billing_address.zip", "type": "string", "description": "The postal code of the billing address."},
        {"path": "billing_address.city", "type": "string", "description": "The city of the billing address."},
        {"path": "billing_address.province", "type": "string", "description": "The name of the region."},
        {"path": "shipping_address.zip", "type": "string", "description": "The postal code of the shipping address."},
        {"path": "shipping_address.city", "type": "string", "description": "The city of the shipping address."},
        {"path": "gift_card_theme", "type": "string", "description": "Colour theme of the gift card wrapping."},
    ],
}

ERP_SALE = {
    "system": "erp", "entity": "sale",
    "fields": [
        {"path": "number", "type": "string", "description": "Number"},
        {"path": "party.email", "type": "string", "description": "Email of the customer party"},
        {"path": "total_amount", "type": "number", "description": "Total"},
        {"path": "tax_amount", "type": "number", "description": "Tax"},
        {"path": "currency.code", "type": "string", "description": "Currency code (ISO 4217)"},
        {"path": "invoice_state", "type": "enum", "description": "Invoice State",
         "enum": ["none", "waiting", "paid", "cancelled"]},
        {"path": "sale_date", "type": "datetime", "description": "Sale Date"},
        {"path": "order_line[].product_id.default_code", "type": "string", "description": "Internal reference"},
        {"path": "order_line[].product_uom_qty", "type": "number", "description": "Quantity"},
        {"path": "order_line[].price_unit", "type": "number", "description": "Unit Price"},
        {"path": "invoice_address.postal_code", "type": "string", "description": "Postal Code"},
        {"path": "invoice_address.city", "type": "string", "description": "City"},
        {"path": "invoice_address.subdivision.name", "type": "string", "description": "State or province name"},
        {"path": "shipment_address.postal_code", "type": "string", "description": "Postal Code"},
        {"path": "shipment_address.city", "type": "string", "description": "City"},
    ],
}


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    src, dst = tmp_path / "shop.order.json", tmp_path / "erp.sale.json"
    src.write_text(json.dumps(SHOP_ORDER))
    dst.write_text(json.dumps(ERP_SALE))
    return src, dst


def test_top_candidates_follow_commerce_meaning_with_reasons(pair: tuple[Path, Path]) -> None:
    result = suggest(load_schema(pair[0]), load_schema(pair[1]))
    top = {s: c[0] for s, c in result.candidates.items()}
    expected = {
        "line_items[].sku": "order_line[].product_id.default_code",
        "line_items[].quantity": "order_line[].product_uom_qty",
        "billing_address.zip": "invoice_address.postal_code",
        "shipping_address.zip": "shipment_address.postal_code",
        "billing_address.city": "invoice_address.city",
        "shipping_address.city": "shipment_address.city",
        "total_price": "total_amount",
        "total_tax": "tax_amount",
        "currency": "currency.code",
        "financial_status": "invoice_state",
    }
    for source, target in expected.items():
        assert top[source].target == target, (source, [(c.target, c.score) for c in result.candidates[source]])
    zip_reasons = " | ".join(top["billing_address.zip"].reasons)
    assert "synonyms" in zip_reasons and "billing address ~ invoice address" not in zip_reasons
    assert "same context billing_address ~ invoice_address" in zip_reasons
    assert any("sku ~ default code" in r or "synonyms (sku)" in r for r in top["line_items[].sku"].reasons)
    assert any("values mean the same things" in r for r in top["financial_status"].reasons)
    accepted = {c.source: c.target for c in result.accepted}
    assert accepted["billing_address.zip"] == "invoice_address.postal_code"
    assert accepted["line_items[].sku"] == "order_line[].product_id.default_code"
    assert "gift_card_theme" not in accepted  # nothing in the ERP means that: left for a person


def test_assignment_is_one_to_one_and_respects_threshold(pair: tuple[Path, Path]) -> None:
    src, dst = load_schema(pair[0]), load_schema(pair[1])
    loose, strict = suggest(src, dst, threshold=0.05), suggest(src, dst, threshold=0.95)
    for result in (loose, strict):
        targets = [c.target for c in result.accepted]
        assert len(targets) == len(set(targets))
        assert all(c.score >= result.threshold for c in result.accepted)
    assert len(strict.accepted) < len(loose.accepted)
    with pytest.raises(ValueError, match="between 0 and 1"):
        suggest(src, dst, threshold=1.5)


def test_json_output_is_the_benchmark_format(pair: tuple[Path, Path]) -> None:
    out = CliRunner().invoke(app, ["map", "suggest", str(pair[0]), str(pair[1]), "--json", "--threshold", "0.6"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert set(doc) == {"threshold", "matches"} and doc["threshold"] == 0.6
    assert all(set(m) == {"source", "target", "score", "reasons"} for m in doc["matches"])
    assert all(0.0 <= m["score"] <= 1.0 and isinstance(m["reasons"], list) for m in doc["matches"])
    per_source: dict[str, list[float]] = {}
    for m in doc["matches"]:
        per_source.setdefault(m["source"], []).append(m["score"])
    assert set(per_source) == {f["path"] for f in SHOP_ORDER["fields"]}
    assert all(1 <= len(s) <= 3 and s == sorted(s, reverse=True) for s in per_source.values())


def test_table_output_and_draft_fieldmap(pair: tuple[Path, Path], tmp_path: Path) -> None:
    draft = tmp_path / "draft.yaml"
    out = CliRunner().invoke(app, ["map", "suggest", str(pair[0]), str(pair[1]), "--write", str(draft)])
    assert out.exit_code == 0, out.output
    assert "invoice_address.postal_code" in out.output and "Wrote" in out.output
    text = draft.read_text()
    assert text.startswith("# DRAFT FieldMap")
    assert "threshold 0.5" in text and "gift_card_theme" in text.split("rows:")[0]  # unmapped listed in header
    rows = yaml.safe_load(text)["rows"]
    by_from = {r["from"]: r for r in rows}
    assert by_from["billing_address.zip"]["to"] == "invoice_address.postal_code"
    assert by_from["billing_address.zip"]["note"].startswith("score ")
    assert "synonyms" in by_from["billing_address.zip"]["note"]
    assert all(set(r) <= {"from", "to", "transform", "note"} for r in rows)
    assert len({r["to"] for r in rows}) == len(rows)


def test_render_draft_without_matches_is_valid_yaml(pair: tuple[Path, Path]) -> None:
    result = suggest(load_schema(pair[0]), load_schema(pair[1]), threshold=1.0)
    assert yaml.safe_load(render_draft(result)) == {"rows": []}


OPENAPI = """
openapi: 3.0.3
info: {title: Acme ERP, version: "1"}
paths: {}
components:
  schemas:
    Money: {type: string, description: Decimal amount as a string}
    Address:
      type: object
      properties:
        street: {type: string}
        postalCode: {type: string, description: Postal or ZIP code}
        countryCode: {type: string, description: ISO 3166-1 alpha-2 country code}
    Line:
      type: object
      properties:
        productCode: {type: string, description: Code of the product}
        qty: {type: number}
        unitPrice: {$ref: '#/components/schemas/Money'}
        parent: {$ref: '#/components/schemas/Line'}
    SalesOrder:
      allOf:
        - type: object
          properties:
            id: {type: integer}
            orderDate: {type: string, format: date-time}
        - type: object
          properties:
            status: {type: string, enum: [draft, confirmed, done, cancelled]}
            invoiceAddress: {$ref: '#/components/schemas/Address'}
            lines:
              type: array
              items: {$ref: '#/components/schemas/Line'}
            tags: {type: array, items: {type: string}}
"""


def test_openapi_component_is_flattened_with_refs(tmp_path: Path) -> None:
    spec = tmp_path / "erp.yaml"
    spec.write_text(OPENAPI)
    schema = load_schema(f"{spec}#/components/schemas/SalesOrder")
    paths = {f.path: f for f in schema.fields}
    assert {"id", "orderDate", "status", "invoiceAddress.street", "invoiceAddress.postalCode",
            "lines[].productCode", "lines[].qty", "lines[].unitPrice", "tags[]"} <= set(paths)
    assert paths["orderDate"].type == "datetime"
    assert paths["status"].enum == ("draft", "confirmed", "done", "cancelled")
    assert paths["lines[].unitPrice"].description == "Decimal amount as a string"
    assert not any(p.count("parent") > 1 for p in paths)  # the self-reference is cut, not followed forever
    assert schema.system == "acme_erp" and schema.entity == "salesorder"


def test_field_list_against_openapi_component(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    spec = tmp_path / "erp.yaml"
    spec.write_text(OPENAPI)
    result = suggest(load_schema(pair[0]), load_schema(f"{spec}#/components/schemas/SalesOrder"))
    top = {s: c[0].target for s, c in result.candidates.items()}
    assert top["line_items[].sku"] == "lines[].productCode"
    assert top["line_items[].quantity"] == "lines[].qty"
    assert top["billing_address.zip"] == "invoiceAddress.postalCode"
    assert top["created_at"] == "orderDate"


def test_registered_names_resolve_from_a_folder(pair: tuple[Path, Path]) -> None:
    out = CliRunner().invoke(app, ["map", "suggest", "shop.order", "erp.sale", "--schema-dir",
                                   str(pair[0].parent), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["matches"]


@pytest.mark.parametrize(("args", "needle"), [
    (["missing.json", "{dst}"], "schema file not found: missing.json"),
    (["{src}", "{dir}/erp.yaml#/components/schemas/Nope"], "does not exist (no 'Nope')"),
    (["{src}", "nosuch.entity"], "unknown schema 'nosuch.entity'"),
    (["{src}", "{dir}/broken.json"], "is not valid JSON"),
    (["{src}", "{dir}/nofields.json"], "expected an object with a 'fields' list"),
])
def test_bad_input_exits_with_a_clear_message(pair: tuple[Path, Path], args: list[str], needle: str) -> None:
    folder = pair[0].parent
    (folder / "erp.yaml").write_text(OPENAPI)
    (folder / "broken.json").write_text("{not json")
    (folder / "nofields.json").write_text('{"system": "x"}')
    argv = [a.format(src=pair[0], dst=pair[1], dir=folder) for a in args]
    out = CliRunner().invoke(app, ["map", "suggest", *argv])
    assert out.exit_code == 2
    assert needle in out.output
    assert "Traceback" not in out.output


def test_unknown_field_path_names_the_schema(pair: tuple[Path, Path]) -> None:
    with pytest.raises(MappingError, match=r"shop.order .* has no field 'line_items\[\].nope'"):
        load_schema(pair[0]).get("line_items[].nope")


def test_benchmark_pair_storefront_to_storefront(shared_dir: Path) -> None:
    schemas = shared_dir / "benchmarks" / "mapping-dev" / "schemas"
    result = suggest(load_schema(schemas / "shopify.order.json"), load_schema(schemas / "woocommerce.order.json"))
    accepted = {c.source: c.target for c in result.accepted}
    assert accepted["billing_address.zip"] == "billing.postcode"
    assert accepted["shipping_address.address1"] == "shipping.address_1"
    assert accepted["line_items[].variant_id"] == "line_items[].variation_id"
    assert accepted["total_discounts"] == "discount_total"


def test_sample_values_break_a_tie_between_look_alike_names(tmp_path: Path) -> None:
    src = {"system": "a", "entity": "order", "fields": [
        {"path": "ref", "type": "string", "samples": ["SO-1001", "SO-1002"]}]}
    dst = {"system": "b", "entity": "sale", "fields": [
        {"path": "ref_x", "type": "string", "samples": ["4711", "4712"]},
        {"path": "ref_y", "type": "string", "samples": ["SO-1001", "SO-0999"]}]}
    (tmp_path / "a.json").write_text(json.dumps(src))
    (tmp_path / "b.json").write_text(json.dumps(dst))
    best = suggest(load_schema(tmp_path / "a.json"), load_schema(tmp_path / "b.json")).candidates["ref"][0]
    assert best.target == "ref_y"
    assert "sample values in common: so-1001" in best.reasons


def test_openapi_refs_into_other_files_are_followed(tmp_path: Path) -> None:
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "address.yaml").write_text(
        "Address:\n  type: object\n  properties:\n    zip: {type: string}\n"
        "    country: {$ref: '#/Country'}\nCountry: {type: string, description: ISO 3166-1 alpha-2 code}\n")
    (tmp_path / "api.yaml").write_text(
        "openapi: 3.0.0\ninfo: {title: Shop, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n"
        "    Order:\n      type: object\n      properties:\n"
        "        billing: {$ref: 'common/address.yaml#/Address'}\n"
        "        broken: {$ref: 'common/missing.yaml#/X'}\n")
    with pytest.raises(MappingError, match=r"points to a missing file .*missing.yaml"):
        load_schema(f"{tmp_path / 'api.yaml'}#/components/schemas/Order")
    text = (tmp_path / "api.yaml").read_text().replace("        broken: {$ref: 'common/missing.yaml#/X'}\n", "")
    (tmp_path / "api.yaml").write_text(text)
    fields = {f.path: f for f in load_schema(f"{tmp_path / 'api.yaml'}#/components/schemas/Order").fields}
    assert set(fields) == {"billing.zip", "billing.country"}
    assert fields["billing.country"].description == "ISO 3166-1 alpha-2 code"  # a local ref of the other file


def test_real_openapi_component_from_the_bigcommerce_contract(shared_dir: Path) -> None:
    spec = shared_dir / "contracts" / "bigcommerce" / "openapi" / "orders.v2.oas2.yml"
    order = load_schema(f"{spec}#/components/schemas/order_Resp")
    assert {"billing_address.zip", "billing_address.country_iso2", "status", "total_inc_tax"} <= {
        f.path for f in order.fields}
    schemas = shared_dir / "benchmarks" / "mapping-dev" / "schemas"
    accepted = {c.source: c.target for c in suggest(load_schema(schemas / "shopify.order.json"), order).accepted}
    assert accepted["billing_address.zip"] == "billing_address.zip"
    assert accepted["billing_address.country_code"] == "billing_address.country_iso2"
    assert accepted["billing_address.address1"] == "billing_address.street_1"


def test_registry_resolves_names_from_files_and_resolvers(pair: tuple[Path, Path]) -> None:
    from doohickey.mapping.suggest import Field, Schema, add_resolver, register_schema

    register_schema("acme.order", pair[0])
    assert load_schema("acme.order").get("billing_address.zip").type == "string"

    def profiles(name: str) -> Schema | None:
        return Schema("profiled", "thing", [Field("code")]) if name == "profiled.thing" else None

    add_resolver(profiles)
    assert [f.path for f in load_schema("profiled.thing").fields] == ["code"]
    with pytest.raises(MappingError, match=r"unknown schema 'nobody\.knows'"):
        load_schema("nobody.knows")


def test_draft_rows_between_enumerations_show_the_status_table(pair: tuple[Path, Path]) -> None:
    rows = yaml.safe_load(render_draft(suggest(load_schema(pair[0]), load_schema(pair[1]))))["rows"]
    status = next(r for r in rows if r["from"] == "financial_status")
    assert status["to"] == "invoice_state"
    assert "status values (see `doohickey map values`): " in status["note"]
    assert "paid -> paid" in status["note"] and "voided -> cancelled" in status["note"]
    assert "unmapped: pending, authorized, refunded" in status["note"]
