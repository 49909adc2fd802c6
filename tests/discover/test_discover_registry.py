"""A profile's entities resolve as ``system.entity`` schemas for the mapping suggester."""

from __future__ import annotations

from doohickey.clock import SYSTEM_CLOCK
from doohickey.discover import discover_document
from doohickey.discover.registry import register_profile
from doohickey.mapping.suggest.schema import load_schema
from doohickey.twins.erp.app import build_app
from doohickey.twins.erp.state import ErpState


def test_registered_profile_entities_load_as_schemas() -> None:
    register_profile("erpdoc", discover_document(build_app(ErpState(SYSTEM_CLOCK), api_keys=("k",)).openapi()))
    read = load_schema("erpdoc.order")
    write = load_schema("erpdoc.order.write")
    assert {"id", "status", "lines[].item_code"} <= {f.path for f in read.fields}
    assert "id" not in {f.path for f in write.fields} and "lines[].quantity" in {f.path for f in write.fields}
    assert read.get("status").enum == ("draft", "confirmed", "partially_fulfilled", "fulfilled", "cancelled")
