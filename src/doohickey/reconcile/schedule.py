"""Scheduled reconciliation: what `doohickey run` calls on each tick to run the plan's due entries.

The engine's scheduler supplies how to reach a System (``sources``), how to repair
(``repair_for``: its Event-enqueuing Repair) and how to alert (``alert``: its alert
channels); this module decides which entries are due (from the stored history), runs
them, and alerts the entry's owner when drift beyond tolerance remains.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.reconcile.history import History
from doohickey.reconcile.reconciler import (
    ReconcileRun,
    ReconcileSpec,
    Repair,
    Source,
    drift_alert,
    due,
    owner_projection,
    reconcile,
    spec_from_plan,
)


async def run_due(plan: Any, *, sources: Callable[[str], Source], history: History,
                  alert: Callable[[ReconcileSpec, str], Awaitable[None]],
                  repair_for: Callable[[ReconcileSpec], Repair | None] = lambda spec: None,
                  clock: Clock = SYSTEM_CLOCK) -> list[ReconcileRun]:
    """Run every reconcile entry of ``plan`` whose ``every:`` has passed; alert on remaining drift.

    Entries with ``repair: push-owner`` repair through ``repair_for(spec)``; the others only report.
    """
    specs = [spec_from_plan(plan, name) for name in plan.reconcile]
    last = {}
    for spec in specs:
        recent = history.recent(spec.name, limit=1)
        if recent:
            last[spec.name] = recent[-1].started_at
    runs = []
    for spec in (s for s in specs if s.name in due(specs, last, clock.now())):
        owner, other = sources(spec.owner), sources(spec.other)
        if owner.project is None:
            owner = replace(owner, project=owner_projection(plan, spec))
        run = await reconcile(spec, owner, other, repair=repair_for(spec) if spec.repair else None,
                              history=history, clock=clock)
        runs.append(run)
        message = drift_alert(run)
        if message is not None:
            await alert(spec, message)
    return runs
