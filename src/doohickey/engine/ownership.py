"""Ownership and conflict rules: which mapped fields a source System may write into a target.

The plan names the owner of each entity and of single fields (``order.status: erp``). A field whose
owner is another System is dropped before the write (the engine never writes a field from a System
that does not own it). A field with several owners (a list in the plan) is shared, and the flow's
conflict rule decides: ``owner-wins`` keeps it only when the source is listed first, ``newest``
keeps it when the source record's trusted timestamp is newer than what we last wrote, and
``manual-protected`` never overwrites it once the target holds a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from doohickey.plan.model import ConflictRule, Flow, Plan


@dataclass(frozen=True)
class OwnedFields:
    """The fields kept for the write and, by name, those dropped and why."""

    data: dict[str, Any]
    dropped: dict[str, str]


def keep_owned(plan: Plan, flow: Flow, data: dict[str, Any], *, newer: bool = True,
               target_has: set[str] | None = None) -> OwnedFields:
    """Keep the top-level fields of ``data`` that ``flow.source`` may write (see the module docstring).

    ``newer`` says whether the source record is newer than what the target last got from us
    (for the ``newest`` rule); ``target_has`` names fields the target already holds (for
    ``manual-protected``).
    """
    kept: dict[str, Any] = {}
    dropped: dict[str, str] = {}
    conflict = flow.conflict
    for name, value in data.items():
        owners = plan.owner_of(flow.entity, name) if name != "id" else []
        if not owners or owners == [flow.source]:
            kept[name] = value
            continue
        if flow.source not in owners:
            dropped[name] = f"owned by {', '.join(owners)}"
            continue
        rule = conflict.rule if conflict and (not conflict.fields or name in conflict.fields) \
            else ConflictRule.OWNER_WINS
        if rule == ConflictRule.OWNER_WINS and owners[0] != flow.source:
            dropped[name] = f"shared; {owners[0]} wins (owner-wins)"
        elif rule == ConflictRule.NEWEST and not newer:
            dropped[name] = "shared; the target's value is newer (newest)"
        elif rule == ConflictRule.MANUAL_PROTECTED and target_has and name in target_has:
            dropped[name] = "shared; the target's value is protected (manual-protected)"
        else:
            kept[name] = value
    return OwnedFields(kept, dropped)
