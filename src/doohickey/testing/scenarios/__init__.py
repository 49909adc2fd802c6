"""The scenario library: named test cases a plan's ``tests:`` uses by name.

A :class:`Scenario` sets up data through the twins (as shoppers and merchants would), injects
Faults through the twins' FaultSets, lets the engine run against the twins over loopback HTTP,
and records :class:`~doohickey.testing.expect.Check` s of business outcomes: exact target
records and totals, stock equality, statuses per the flow's status table, alerts to the named
owner, SLA met with the measured lag. Families live in one module each:

* :mod:`.orders`: happy-path, duplicate-event, delayed-sync, failed-webhook, out-of-order, cancellation
* :mod:`.aftersale`: refund, partial-shipment, manual-reconciliation
* :mod:`.trouble`: outage, maintenance-window, rate-limit-storm
* :mod:`.load`: black-friday
* :mod:`.custom`: a test case written only in YAML (data, faults, expect)

:func:`lookup` finds a Scenario by name and suggests the nearest names for a typo.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from doohickey.errors import DoohickeyError
from doohickey.plan.model import Flow, Plan, TestCase
from doohickey.testing.expect import Checks
from doohickey.testing.harness import Sandbox, flow_between
from doohickey.twins.faults import Fault


class UnknownScenario(DoohickeyError):
    """A test case names a scenario the library does not have (and gives no data/expect of its own)."""


class NotApplicable(DoohickeyError):
    """The plan lacks what a scenario needs (e.g. no order flow from a storefront to an ERP)."""


@dataclass
class Context:
    """What a running Scenario works with: the plan, its test case, the sandbox, checks and measurements."""

    plan: Plan
    case: TestCase
    sandbox: Sandbox
    checks: Checks = field(default_factory=Checks)
    metrics: dict[str, Any] = field(default_factory=dict)
    orders: list[str] = field(default_factory=list)
    """Numbers of the orders this Scenario placed (``#1001``)."""

    def option(self, name: str, default: Any) -> Any:
        """A knob from the test case's ``data:`` (``orders_per_minute: 60``), else ``default``."""
        value = self.case.data.get(name, default)
        return type(default)(value) if isinstance(default, int | float) and not isinstance(default, bool) \
            else value

    def flow(self, entity: str, source_kind: str | None = None, target_kind: str | None = None) -> tuple[str, Flow]:
        """The flow this Scenario exercises: the test case's ``flow:``, else the first fitting one."""
        name = self.case.flow if self.case.flow and self.plan.flows.get(self.case.flow) and \
            self.plan.flows[self.case.flow].entity == entity else None
        found = flow_between(self.plan, entity, source_kind=source_kind, target_kind=target_kind, name=name)
        if found is None:
            where = " -> ".join(k or "any" for k in (source_kind, target_kind))
            raise NotApplicable(f"the plan has no {entity} flow ({where}) for scenario {self.case.name}")
        return found

    def system(self, kind: str) -> str:
        """The plan's first System of ``kind`` (storefront, erp, wms)."""
        for name, system in self.plan.systems.items():
            if str(system.kind) == kind:
                return name
        raise NotApplicable(f"the plan has no {kind} system for scenario {self.case.name}")

    def storefront(self) -> Any:
        """The storefront twin's state (orders are placed there)."""
        name = self.system("storefront")
        twin = self.sandbox.twin(name)
        if twin is None or twin.name != "shopify":
            raise NotApplicable(f"scenario {self.case.name} places orders in a storefront twin; "
                                f"system {name} has none in this environment")
        return twin.state

    def inject(self, system: str, *faults: Fault) -> None:
        """Add Faults to ``system``'s twin now; windows (``start``/``end``) count from now."""
        twin = self.sandbox.twin(system)
        if twin is None:
            raise NotApplicable(f"cannot inject faults into {system}: it is not a twin in this environment")
        offset = twin.faults.elapsed()
        for fault in faults:
            update = {k: getattr(fault, k) + offset for k in ("start", "end")
                      if isinstance(getattr(fault, k), int | float)}
            twin.faults.add(fault.model_copy(update=update))


Run = Callable[[Context], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    """A named test case of the library: what it proves, how it runs, and how its twins must be set up."""

    name: str
    summary: str
    run: Run
    entity: str = "order"
    twin_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Options by twin name (``{"wms": {"partial_share": 1.0}}``)."""
    time_scale: float | None = None


LIBRARY: dict[str, Scenario] = {}


def scenario(name: str, summary: str, *, entity: str = "order", twin_options: dict[str, dict[str, Any]] | None = None,
             time_scale: float | None = None) -> Callable[[Run], Run]:
    """Register the decorated coroutine as the library Scenario ``name``."""

    def register(fn: Run) -> Run:
        LIBRARY[name] = Scenario(name, summary, fn, entity, twin_options or {}, time_scale)
        return fn

    return register


def suggest(name: str, known: list[str]) -> str:
    """`` (did you mean 'happy-path'?)`` for a near miss, else the list of known names."""
    close = difflib.get_close_matches(name, known, n=2, cutoff=0.5)
    if close:
        return f"did you mean {' or '.join(repr(c) for c in close)}?"
    return f"known scenarios: {', '.join(sorted(known))}"


def lookup(case: TestCase) -> Scenario:
    """The Scenario a test case runs: its ``scenario:`` (default its name), or the YAML-only one."""
    wanted = case.scenario or case.name
    if wanted in LIBRARY:
        return LIBRARY[wanted]
    if case.scenario is None and (case.data or case.expect):
        return LIBRARY["custom"]
    field_name = "scenario" if case.scenario else "name"
    raise UnknownScenario(f"test case {case.name!r}: no scenario named {wanted!r} ({field_name}); "
                          f"{suggest(wanted, list(LIBRARY))} A test case of your own needs data: and expect:.")


from doohickey.testing.scenarios import aftersale, custom, load, orders, trouble  # noqa: E402, F401  (registers)
