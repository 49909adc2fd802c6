"""map_record: FieldMap rows over dotted and [] paths, passthrough, identity, defaults, status tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from doohickey.errors import MappingError, Verdict, classify
from doohickey.mapping import map_record
from doohickey.mapping.fieldmap import get_path, parse_path, set_path
from doohickey.model import Address, Order, OrderLine, to_dict
from doohickey.plan import load_plan
from doohickey.plan.model import Flow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shopify-erp-wms" / "integration.yaml"


def flow(**extra: object) -> Flow:
    return Flow.model_validate({"entity": "order", "from": "shop", "to": "erp", "trigger": {"poll": "1m"}, **extra})


def test_example_order_maps_onto_erp_sale_with_status() -> None:
    plan = load_plan(EXAMPLE)
    order = to_dict(Order(id="1", number=" #1001 ", email="  Ann.Lee@Example.COM ", currency="eur",
                          financial_status="paid", lines=[OrderLine(sku="TENT-2", quantity=2, unit_price="199.00")],
                          shipping_address=Address(city="Köln", country="DE")))
    erp = map_record(plan.flows["orders-to-erp"], order)
    assert erp["email"] == "ann.lee@example.com"
    assert erp["currency"] == "EUR" and erp["number"] == "#1001"
    assert erp["status"] == "confirmed"                        # status table: financial_status paid -> confirmed
    assert erp["lines"] == order["lines"]                      # passthrough keeps what no row mentions
    assert erp["shipping_address"]["city"] == "Köln"
    assert erp["note"] == ""                                   # the row's default
    assert order["email"] == "  Ann.Lee@Example.COM "          # the source record is never modified


def test_identity_without_a_map_and_status_still_applies() -> None:
    data = {"id": "7", "financial_status": "refunded", "lines": [{"sku": "A"}]}
    out = map_record(flow(status={"from": "financial_status", "values": {"refunded": "cancelled"}}), data)
    assert out == {**data, "status": "cancelled"} and out["lines"] is not data["lines"]


def test_rows_with_arrays_nested_paths_and_aggregates() -> None:
    rows = [
        "lines[].sku -> lines[].product_code | upper",
        "lines[].quantity -> lines[].qty | int",
        "lines[].unit_price -> lines[].price | money",
        "currency -> lines[].currency",                        # one value to every line
        {"from": "customer.first_name", "to": "party.name"},
        "lines[].sku -> skus | join(,)",
        "tags -> labels | split(;)",
        "shipping_address.country -> party.country | iso_country",
        {"from": "note", "to": "comment", "default": "none"},
    ]
    data = {"currency": "USD", "customer": {"first_name": "Ann"}, "tags": "gift; rush;",
            "shipping_address": {"country": "Germany"},
            "lines": [{"sku": "a-1", "quantity": "2", "unit_price": "10.005"},
                      {"sku": "b-2", "quantity": 1, "unit_price": 5}]}
    out = map_record(flow(map=rows), data)
    assert out == {
        "lines": [{"product_code": "A-1", "qty": 2, "price": "10.01", "currency": "USD"},
                  {"product_code": "B-2", "qty": 1, "price": "5.00", "currency": "USD"}],
        "party": {"name": "Ann", "country": "DE"},
        "skus": "a-1,b-2",
        "labels": ["gift", "rush"],
        "comment": "none",
    }


def test_passthrough_moves_renamed_fields_and_keeps_the_rest() -> None:
    spec = {"passthrough": True, "rows": ["number -> reference", "lines[].sku -> lines[].code"]}
    out = map_record(flow(map=spec), {"number": "1001", "email": "a@x", "lines": [{"sku": "A", "quantity": 1}]})
    assert out == {"reference": "1001", "email": "a@x", "lines": [{"quantity": 1, "code": "A"}]}


def test_missing_optional_source_stays_missing() -> None:
    assert map_record(flow(map=["phone -> phone | e164_phone(US)"]), {"email": "a@x"}) == {}
    assert map_record(flow(map=["lines[].sku -> lines[].code"]), {"lines": []}) == {"lines": []}


def test_failed_transform_names_flow_row_field_and_value() -> None:
    plan = load_plan(EXAMPLE)
    bad = plan.flows["orders-to-erp"].model_copy(
        update={"map": plan.flows["orders-to-erp"].map.model_copy(update={"rows": [
            *plan.flows["orders-to-erp"].map.rows,
            flow(map=["lines[].quantity -> lines[].quantity | int"]).map.rows[0]]})})
    with pytest.raises(MappingError) as info:
        map_record(bad, {"financial_status": "paid", "lines": [{"quantity": "2.5"}]}, name="orders-to-erp")
    assert info.value.message == ("flow orders-to-erp, row 'lines[].quantity -> lines[].quantity': transform int "
                                  "failed on lines[].quantity='2.5': '2.5' is not a whole number")
    assert classify(info.value).verdict is Verdict.DEAD_LETTER


def test_unknown_status_value_is_explained() -> None:
    plan = load_plan(EXAMPLE)
    with pytest.raises(MappingError) as info:
        map_record(plan.flows["orders-to-erp"], {"financial_status": "chargeback"})
    assert info.value.message.startswith(
        "status table of flow orders-to-erp has no value for financial_status='chargeback'")
    assert "status.default" in info.value.message and "paid" in info.value.message


def test_status_default_and_partial_records() -> None:
    table = {"from": "fulfillment_status", "to": "state", "values": {"fulfilled": "done"}, "default": "open"}
    assert map_record(flow(status=table), {"fulfillment_status": "partial"})["state"] == "open"
    assert "state" not in map_record(flow(status=table), {"id": "1"})


def test_path_helpers() -> None:
    assert get_path({"a": [{"b": [1, 2]}, {"b": [3]}]}, "a[].b[]") == [[1, 2], [3]]
    assert get_path({"a": [{"b": 1}, {"b": 2}]}, "a[1].b") == 2
    target: dict = {}
    set_path(target, "x.y[0].z", 5)
    assert target == {"x": {"y": [{"z": 5}]}}
    with pytest.raises(ValueError, match="malformed"):
        parse_path("a..b[")
