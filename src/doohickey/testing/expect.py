"""Checks and the expectation language of the plan's test cases.

A Scenario records every outcome it verifies as a :class:`Check`: which record, which field,
the expected and the actual value. A failed Check reads as one sentence a person can act on:
``erp order #1001: total expected 374.27, actual 384.27``.

The plan's ``tests:`` entries say what must hold in YAML (``expect:``); each key is a path
into what the sandbox can observe, each value what it must be::

    expect:
      erp.orders: 1                          # how many orders the ERP holds
      erp.order[#1001].total: "374.27"       # one field of one record, found by its natural key
      erp.order[#1001].lines[0].discount: "17.80"   # list items by position ...
      erp.order[#1001].lines[DH-0001-L].quantity: 2  # ... or by SKU
      erp.order[#1001].status: cancelled
      wms.order[#1001]: present              # present / absent
      shop.fulfilments[#1001]: 2             # how many records the key finds
      deadletters: 0                         # open dead letters, all flows ...
      deadletters.orders-to-erp: 1           # ... or one flow
      alerts.ops: ">=1"                      # alerts sent to a channel of the plan
      alerts.ops.mentions: Sam Rivera        # ... one of which names this text
      sla.order-in-erp: met                  # an SLA's verdict over the run

Values: a plain value must be equal (amounts compare as numbers, so ``9.9`` equals ``9.90``);
``">=1"``, ``"<=2"``, ``">0"``, ``"<5"``, ``"!=draft"`` compare; ``"~text"`` means "contains".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from doohickey.errors import DoohickeyError

PLURALS = {"orders": "order", "customers": "customer", "refunds": "refund", "fulfilments": "fulfilment",
           "fulfillments": "fulfilment", "products": "product", "variants": "variant", "stock": "stock",
           "shipments": "shipment"}
_PATH = re.compile(r"^(?P<system>[A-Za-z0-9_-]+)\.(?P<entity>[A-Za-z_]+)(?:\[(?P<key>[^\]]+)\])?(?P<rest>(?:\..+)?)$")
_STEP = re.compile(r"([^.\[\]]+)|\[([^\]]+)\]")
_OP = re.compile(r"^\s*(>=|<=|!=|>|<|~)\s*(.*)$", re.S)


class ExpectationError(DoohickeyError):
    """An ``expect:`` key or value the language does not know."""


@dataclass(frozen=True)
class Check:
    """One verified outcome: what (record and field), expected, actual, and whether it held."""

    what: str
    passed: bool
    expected: str = ""
    actual: str = ""
    note: str = ""

    def message(self) -> str:
        """The outcome in one sentence."""
        if self.passed:
            return f"{self.what}: {self.actual or self.expected or 'ok'}"
        text = f"{self.what}: expected {self.expected}, actual {self.actual}"
        return f"{text} ({self.note})" if self.note else text


@dataclass
class Checks:
    """The Checks one Scenario made, in order."""

    items: list[Check] = field(default_factory=list)

    def add(self, what: str, passed: bool, expected: Any = "", actual: Any = "", note: str = "") -> bool:
        """Record one Check; returns whether it passed."""
        self.items.append(Check(what, bool(passed), show(expected), show(actual), note))
        return bool(passed)

    def equal(self, what: str, expected: Any, actual: Any, note: str = "") -> bool:
        """``actual`` must equal ``expected`` (amounts as numbers)."""
        return self.add(what, same(expected, actual), expected, actual, note)

    def that(self, what: str, spec: Any, actual: Any, note: str = "") -> bool:
        """``actual`` must satisfy ``spec`` (a value, or an operator string like ``">=1"``)."""
        return self.add(what, satisfies(spec, actual), describe(spec), actual, note)

    @property
    def failures(self) -> list[Check]:
        """The Checks that did not hold."""
        return [c for c in self.items if not c.passed]

    @property
    def passed(self) -> bool:
        """Whether every Check held (and there was at least one)."""
        return bool(self.items) and not self.failures


def show(value: Any) -> str:
    """A value as a person reads it in a message."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def same(expected: Any, actual: Any) -> bool:
    """Equal, with numbers (and amounts as text) compared by value."""
    a, b = _number(expected), _number(actual)
    if a is not None and b is not None:
        return a == b
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected == actual
    return str(expected).strip() == str(actual).strip() if expected is not None and actual is not None \
        else expected is actual


def describe(spec: Any) -> str:
    """An expectation in words (``">=1"`` -> ``at least 1``)."""
    if isinstance(spec, str) and (m := _OP.match(spec)):
        op, value = m.groups()
        words = {">=": "at least", "<=": "at most", ">": "more than", "<": "less than", "!=": "anything but",
                 "~": "text containing"}[op]
        return f"{words} {value.strip()!s}"
    return show(spec)


def satisfies(spec: Any, actual: Any) -> bool:
    """Whether ``actual`` meets ``spec`` (see the module docstring for operators)."""
    if isinstance(spec, str) and (m := _OP.match(spec)):
        op, raw = m.group(1), m.group(2).strip()
        if op == "~":
            return raw.lower() in show(actual).lower()
        if op == "!=":
            return not same(raw, actual)
        want, have = _number(raw), _number(actual)
        if want is None or have is None:
            return False
        return {">=": have >= want, "<=": have <= want, ">": have > want, "<": have < want}[op]
    if isinstance(spec, str) and spec.lower() in ("present", "absent"):
        return bool(actual) == (spec.lower() == "present")
    return same(spec, actual)


# --- paths into records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A parsed ``expect:`` key that points into a System: ``erp.order[#1001].lines[0].discount``."""

    system: str
    entity: str
    plural: bool
    key: str | None
    path: tuple[str, ...]


def parse_target(text: str) -> Target | None:
    """Parse a System path, or None when ``text`` is not one."""
    m = _PATH.match(text.strip())
    if not m:
        return None
    entity = m.group("entity")
    plural = entity in PLURALS
    rest = m.group("rest").lstrip(".")
    steps = tuple(a or b for a, b in _STEP.findall(rest)) if rest else ()
    return Target(m.group("system"), PLURALS.get(entity, entity), plural, m.group("key"), steps)


def dig(data: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    """Follow ``path`` into nested dicts and lists (a list step is an index or a SKU); (found, value)."""
    current = data
    for step in path:
        if isinstance(current, dict):
            if step not in current:
                return False, None
            current = current[step]
        elif isinstance(current, list):
            if step.lstrip("-").isdigit():
                index = int(step)
                if not -len(current) <= index < len(current):
                    return False, None
                current = current[index]
            else:
                match = [x for x in current if isinstance(x, dict) and step in (x.get("sku"), x.get("id"),
                                                                                   x.get("number"))]
                if not match:
                    return False, None
                current = match[0]
        else:
            return False, None
    return True, current
