"""Pre-flight: a mapped payload checked against the target's schema, explained by field path and FieldMap row."""

from __future__ import annotations

import pytest

from doohickey.clock import SYSTEM_CLOCK
from doohickey.discover import discover_document
from doohickey.discover.preflight import explain_rejection, preflight
from doohickey.discover.profile import EntityProfile
from doohickey.plan.model import MapRow
from doohickey.twins.erp.app import build_app
from doohickey.twins.erp.state import ErpState

ROWS = [MapRow.model_validate(r) for r in (
    "name -> external_ref",
    "line_items[].sku -> lines[].item_code",
    "line_items[].quantity -> lines[].quantity",
    "shipping_address -> ship_to",
    "financial_status -> status | status_table",
)]


@pytest.fixture(scope="module")
def erp_order() -> EntityProfile:
    return discover_document(build_app(ErpState(SYSTEM_CLOCK), api_keys=("k",)).openapi()).entity("order")


def test_a_clean_payload_passes(erp_order: EntityProfile) -> None:
    payload = {"external_ref": "#1001", "status": "confirmed", "lines": [{"item_code": "A-1", "quantity": 2}],
               "ship_to": {"country": "FR", "city": "Lyon"}}
    assert preflight(payload, erp_order, ROWS) == []


def test_each_violation_names_the_field_and_the_row_that_made_it(erp_order: EntityProfile) -> None:
    payload = {"external_ref": "#1001", "status": "paid",
               "lines": [{"item_code": "A-1", "quantity": "2"}, {"quantity": 1}],
               "ship_to": {"country": "FRA"}, "colour": "red"}
    found = {v.path: v for v in preflight(payload, erp_order, ROWS)}
    assert set(found) == {"status", "lines[0].quantity", "lines[1].item_code", "ship_to.country", "colour"}
    assert found["lines[1].item_code"].problem == "required"
    assert found["lines[1].item_code"].row == "line_items[].sku -> lines[].item_code"
    assert "source field line_items[].sku was empty" in str(found["lines[1].item_code"])
    assert found["lines[0].quantity"].message == "must be an integer, got text '2'"
    assert found["status"].problem == "enum" and "'paid' is not an allowed value" in found["status"].message
    assert found["status"].row == "financial_status -> status"
    assert found["ship_to.country"].problem == "max_length" and found["ship_to.country"].row == (
        "shipping_address -> ship_to")
    assert found["colour"].problem == "unknown" and found["colour"].row == ""


def test_missing_required_list_without_a_row(erp_order: EntityProfile) -> None:
    (violation,) = preflight({"external_ref": "x"}, erp_order, [])
    assert violation.path == "lines" and "no FieldMap row writes it" in violation.message


def test_json_schema_input_with_did_you_mean_and_ranges() -> None:
    schema = {"type": "object", "required": ["email"], "properties": {
        "email": {"type": "string", "minLength": 3}, "state": {"type": "string", "enum": ["open", "closed"]},
        "qty": {"type": "integer", "minimum": 0, "maximum": 10}, "active": {"type": "boolean"}}}
    found = {v.path: v.message for v in preflight({"email": "a", "state": "opne", "qty": 11, "active": 1,
                                                   "emial": "x"}, schema)}
    assert found["email"] == "is 1 characters long; at least 3 are needed"
    assert found["state"].endswith("did you mean 'open'?")
    assert found["qty"] == "11 is above the maximum 10"
    assert found["active"] == "must be true or false, got an integer 1"
    assert found["emial"] == "is not a field of the target; did you mean 'email'?"


def test_api_refusals_are_explained_by_field_and_row() -> None:
    netsuite = {"title": "Bad Request", "status": 400, "detail": "lines[0].quantity: must be > 0",
                "o:errorDetails": [{"detail": "lines[0].quantity: must be > 0", "o:errorCode": "INVALID_CONTENT",
                                    "o:errorPath": "lines[0].quantity"}]}
    (v,) = explain_rejection(netsuite, ROWS)
    assert (v.path, v.message, v.row) == ("lines[0].quantity", "must be > 0",
                                          "line_items[].quantity -> lines[].quantity")
    fastapi = {"detail": [{"loc": ["body", "ship_to", "country"], "msg": "String should have at most 2 characters"}]}
    (v,) = explain_rejection(fastapi, ROWS)
    assert v.path == "ship_to.country" and v.row == "shipping_address -> ship_to"
    (v,) = explain_rejection("erp refused create of customer: emial: Extra inputs are not permitted",
                             ["mail -> emial"])
    assert str(v) == "emial: Extra inputs are not permitted (from FieldMap row mail -> emial)"
