"""Sandbox twins: wire-compatible emulators of commerce Systems, with injectable Faults.

``TWINS`` maps a twin's name to its factory (``module:function``), imported only
when asked for so that starting one twin does not load the others.
:func:`create_twin` builds one: a :class:`Twin` with its ASGI ``app`` (fault
middleware and ``/_twin/`` admin routes applied), its ``state`` (seed and inspect
data directly) and its ``faults`` (:class:`~doohickey.twins.faults.FaultSet`).
Serve it over loopback with :class:`~doohickey.twins.server.TwinServer`.

Every factory has the signature
``create_twin(*, seed=0, faults=None, clock=None, **options) -> Twin``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from doohickey.clock import Clock
from doohickey.twins.faults import ASGIApp, Fault, FaultSet

TWINS: dict[str, str] = {
    "shopify": "doohickey.twins.shopify:create_twin",
    "erp": "doohickey.twins.erp:create_twin",
    "wms": "doohickey.twins.wms:create_twin",
    "tryton": "doohickey.twins.tryton:create_twin",  # a real Tryton behind the fault proxy
}


@dataclass
class Twin:
    """One built twin: ``app`` to serve, ``state`` to seed and inspect, ``faults`` to inject trouble."""

    name: str
    app: ASGIApp
    state: Any
    faults: FaultSet
    info: dict[str, Any] = field(default_factory=dict)
    """What a person needs to use it: e.g. ``{"token": ..., "endpoint": ..., "docs": ...}``."""


class UnknownTwin(KeyError):
    """No twin is registered under that name."""


def create_twin(
    name: str,
    *,
    seed: int = 0,
    faults: list[Fault] | FaultSet | None = None,
    clock: Clock | None = None,
    **options: Any,
) -> Twin:
    """Build the twin registered as ``name`` (see ``TWINS``) with its seed, faults, clock and options."""
    try:
        target = TWINS[name]
    except KeyError:
        raise UnknownTwin(f"no twin named {name!r}; known twins: {', '.join(sorted(TWINS))}") from None
    module_name, _, func_name = target.partition(":")
    factory = getattr(importlib.import_module(module_name), func_name)
    return factory(seed=seed, faults=faults, clock=clock, **options)


def make_faultset(faults: list[Fault] | FaultSet | None, seed: int, clock: Clock | None) -> FaultSet:
    """The FaultSet a twin factory should use: the given one, or a new one from a list of faults."""
    if isinstance(faults, FaultSet):
        return faults
    return FaultSet(list(faults or ()), seed=seed, clock=clock)
