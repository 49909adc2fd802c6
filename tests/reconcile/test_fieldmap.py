"""Reconciling through the plan's FieldMap: owner records are compared in the other System's shape."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from doohickey.clock import ManualClock
from doohickey.plan import load_plan
from doohickey.reconcile.diff import Kind
from doohickey.reconcile.reconciler import ClientRepair, Source, owner_projection, reconcile, spec_from_plan

from .memory import MemoryClient

PLAN = """
name: mapped
systems:
  erp: {kind: erp, connector: erp}
  wms: {kind: wms, connector: wms}
ownership:
  stock: erp
flows:
  stock-to-wms:
    entity: stock
    from: erp
    to: wms
    trigger: {poll: 5m}
    map:
      - "sku -> sku"
      - "location -> location"
      - "available -> qty_free"
reconcile:
  stock: {between: [erp, wms], fields: [qty_free], tolerance: 0}
"""


@pytest.mark.anyio
async def test_owner_records_go_through_the_flow_map_before_comparing_and_repairing(tmp_path: Path) -> None:
    path = tmp_path / "integration.yaml"
    path.write_text(PLAN)
    plan = load_plan(path)
    spec = replace(spec_from_plan(plan, "stock"), repair=True)
    assert [(r.name, r.transform) for r in spec.diff.fields] == [("qty_free", "int")]  # guessed from "qty"
    erp = MemoryClient("erp", {"stock": {"e1": {"sku": "A", "location": "WH", "available": 7},
                                         "e2": {"sku": "B", "location": "WH", "available": 1}}})
    wms = MemoryClient("wms", {"stock": {"w1": {"sku": "A", "location": "WH", "qty_free": 4}}})
    owner = Source("erp", erp, project=owner_projection(plan, spec))
    repair = ClientRepair(wms, ("set",))
    run = await reconcile(spec, owner, Source("wms", wms), repair=repair, clock=ManualClock())
    found = {(d.kind, d.key): d for d in run.found.discrepancies}
    assert set(found) == {(Kind.MISMATCH, "A/WH"), (Kind.MISSING, "B/WH")}
    assert [(f.name, f.owner, f.other) for f in found[(Kind.MISMATCH, "A/WH")].fields] == [("qty_free", 7, 4)]
    assert sorted((w.action, tuple(sorted(w.data.items()))) for w in wms.writes) == [
        ("set", (("location", "WH"), ("qty_free", 1), ("sku", "B"))),
        ("set", (("location", "WH"), ("qty_free", 7), ("sku", "A"))),
    ]
    assert run.status == "repaired", run.summary()
