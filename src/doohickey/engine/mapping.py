"""How the engine maps a Record through a Flow: the plan's FieldMap and status table.

The mapping itself belongs to :mod:`doohickey.mapping.fieldmap` (``map_record(flow, data)``,
raising MappingError). This module only finds it, and keeps a minimal stand-in (pass-through plus
the status table) for a checkout where that module is absent, so the engine still runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from doohickey.errors import MappingError
from doohickey.plan.model import Flow

MapFn = Callable[[Flow, dict[str, Any]], dict[str, Any]]


def resolve_map_record() -> MapFn:
    """``doohickey.mapping.fieldmap.map_record`` when present, else :func:`passthrough_map`."""
    try:
        module = importlib.import_module("doohickey.mapping.fieldmap")
        return module.map_record
    except (ImportError, AttributeError):
        return passthrough_map


def passthrough_map(flow: Flow, data: dict[str, Any]) -> dict[str, Any]:
    """Canonical to canonical: copy the record, then apply the flow's status table if it has one."""
    out = dict(data)
    table = flow.status
    if table is not None and table.source in data:
        value = str(data[table.source])
        if value in table.values:
            out[table.target] = table.values[value]
        elif table.default is not None:
            out[table.target] = table.default
        else:
            raise MappingError(f"{table.source} {value!r} has no entry in the flow's status table "
                               f"(known: {', '.join(table.values)})")
    return out
