"""Reconciliation runs: read both Systems page by page, diff, repair from the owner, re-check, record.

The engine plugs in through three small interfaces defined here:

- :class:`BindingLookup`: owner id <-> other id for an Entity (the engine's IdMap implements it;
  :class:`MemoryBindings` is the in-memory one used by tests);
- :class:`Repair`: receives the owner's values for the fields the owner owns and gets them written
  (the engine enqueues Events; reconciliation never writes to a System itself and never copies a
  value *towards* the owner);
- :class:`~doohickey.reconcile.history.History`: stores runs and discrepancies so drift over time shows.

A run reads like the steps it takes::

    read owner pages -> read other pages -> diff -> fill owner values -> repair -> re-check -> record
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.connectors.spec import Client, Record
from doohickey.reconcile.diff import (
    Diff,
    DiffResult,
    DiffSpec,
    Discrepancy,
    FieldDiff,
    FieldRule,
    Kind,
    ReconcileError,
    transform,
    within_tolerance,
)
from doohickey.reconcile.readers import client_pages, record_row

# --- Bindings --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BindingRef:
    """One Binding as reconciliation sees it: the same object's id in the owner and in the other System."""

    entity: str
    source_system: str
    source_id: str
    target_system: str
    target_id: str


class BindingLookup(Protocol):
    """What reconciliation needs from the IdMap."""

    def target_id(self, entity: str, source_system: str, source_id: str, target_system: str) -> str | None:
        """The other System's id of the owner's record ``source_id``, if bound."""
        ...

    def source_id(self, entity: str, target_system: str, target_id: str, source_system: str) -> str | None:
        """The owner's id of the other System's record ``target_id``, if bound."""
        ...

    def bindings(self, entity: str, source_system: str, target_system: str) -> Iterable[BindingRef]:
        """Every Binding of ``entity`` between the two Systems."""
        ...


class MemoryBindings:
    """An in-memory BindingLookup (tests, and runs without a store)."""

    def __init__(self, refs: Iterable[BindingRef] = ()) -> None:
        self._forward: dict[tuple[str, str, str, str], str] = {}
        self._back: dict[tuple[str, str, str, str], str] = {}
        for ref in refs:
            self.bind(ref)

    def bind(self, ref: BindingRef) -> None:
        """Record that ``ref.source_id`` and ``ref.target_id`` are the same object."""
        self._forward[(ref.entity, ref.source_system, ref.source_id, ref.target_system)] = ref.target_id
        self._back[(ref.entity, ref.target_system, ref.target_id, ref.source_system)] = ref.source_id

    def target_id(self, entity: str, source_system: str, source_id: str, target_system: str) -> str | None:
        return self._forward.get((entity, source_system, source_id, target_system))

    def source_id(self, entity: str, target_system: str, target_id: str, source_system: str) -> str | None:
        return self._back.get((entity, target_system, target_id, source_system))

    def bindings(self, entity: str, source_system: str, target_system: str) -> Iterator[BindingRef]:
        for (ent, src, sid, tgt), tid in self._forward.items():
            if (ent, src, tgt) == (entity, source_system, target_system):
                yield BindingRef(ent, src, sid, tgt, tid)


class IdMapBindings:
    """The engine's IdMap seen as a BindingLookup (it has ``get``, ``lookup`` and ``iter_entity``)."""

    def __init__(self, idmap: Any) -> None:
        self.idmap = idmap

    def target_id(self, entity: str, source_system: str, source_id: str, target_system: str) -> str | None:
        found = self.idmap.get(source_system, entity, source_id, target_system)
        return found.target_id if found else None

    def source_id(self, entity: str, target_system: str, target_id: str, source_system: str) -> str | None:
        for b in self.idmap.lookup(target_system, entity, target_id):
            if (b.target_system, b.target_id, b.source_system) == (target_system, target_id, source_system):
                return b.source_id
        return None

    def bindings(self, entity: str, source_system: str, target_system: str) -> Iterator[BindingRef]:
        for b in self.idmap.iter_entity(entity, source_system=source_system, target_system=target_system):
            yield BindingRef(entity, b.source_system, b.source_id, b.target_system, b.target_id)


# --- Repair ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepairRequest:
    """The owner's values to write into the other System for one Discrepancy.

    ``action`` is ``create`` (missing: ``record`` is the owner's whole record) or ``update``
    (mismatch: ``values`` holds only the differing fields the owner owns, by canonical name);
    ``key`` holds the natural key fields, for APIs that address records by them (stock by SKU).
    When the plan's Flow maps this entity, ``mapped`` is the owner's record through that FieldMap, and
    ``values`` and ``key`` use the other System's field names (the engine maps ``record`` itself).
    """

    entity: str
    action: str
    owner_system: str
    other_system: str
    owner_id: str | None
    other_id: str | None
    values: Mapping[str, Any]
    record: Mapping[str, Any] | None
    discrepancy: Discrepancy
    key: Mapping[str, Any] = field(default_factory=dict)
    mapped: Mapping[str, Any] | None = None


class Repair(Protocol):
    """Gets a RepairRequest written (the engine: enqueue an Event on the owner -> other Flow)."""

    async def push(self, request: RepairRequest) -> None:
        """Have the owner's values written into the other System."""
        ...


class ClientRepair:
    """A Repair that writes through the other System's Client, for runs outside the engine.

    Creates carry an idempotency key derived from the owner's record, so a repeated repair cannot make
    a second record where the API honours keys. The engine's own Repair enqueues Events instead
    (durable, paced, retried); prefer it whenever the engine runs.
    """

    def __init__(self, client: Client, actions: Sequence[str]) -> None:
        self.client = client
        self.actions = tuple(actions)
        self.requests: list[RepairRequest] = []

    def _action(self, wanted: str) -> str:
        for name in {"create": ("create", "upsert", "set"), "update": ("update", "upsert", "set")}[wanted]:
            if name in self.actions:
                return name
        raise ReconcileError(f"repair: the other system has no action to {wanted} this entity "
                             f"(it declares: {', '.join(self.actions) or 'none'})")

    async def push(self, request: RepairRequest) -> None:
        from doohickey.connectors.spec import WriteRequest

        self.requests.append(request)
        if request.action == "create":
            data = request.mapped if request.mapped is not None else request.record
            await self.client.write(WriteRequest(request.entity, self._action("create"), dict(data or {}),
                                                 idempotency_key=f"reconcile:{request.owner_system}:"
                                                                 f"{request.owner_id}"))
        else:
            await self.client.write(WriteRequest(request.entity, self._action("update"),
                                                 {**request.key, **request.values}, external_id=request.other_id))


# --- what to compare and where to read it ---------------------------------------------------------------


@dataclass
class Source:
    """One side of a reconciliation: a System read through its Client, or through a bulk export.

    ``bulk`` returns a fresh iterable of pages each time it is called (a re-check reads again).
    """

    system: str
    client: Client | None = None
    bulk: Callable[[], Iterable[Sequence[Mapping[str, Any]]] | AsyncIterable[Sequence[Mapping[str, Any]]]] | None = None
    page_size: int = 250
    project: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None

    async def pages(self, entity: str) -> AsyncIterator[Sequence[Mapping[str, Any]]]:
        """The rows of ``entity`` page by page (through ``project`` when set: the Flow's FieldMap)."""
        if self.project is None:
            async for page in self._raw_pages(entity):
                yield page
            return
        async for page in self._raw_pages(entity):
            yield [self.project(row) for row in page]

    async def _raw_pages(self, entity: str) -> AsyncIterator[Sequence[Mapping[str, Any]]]:
        if self.bulk is not None:
            source = self.bulk()
            if isinstance(source, AsyncIterable):
                async for page in source:
                    yield page
            else:
                for page in source:
                    yield page
            return
        if self.client is None:
            raise ReconcileError(f"reconcile: system {self.system!r} has neither a client nor a bulk export")
        async for page in client_pages(self.client, entity, page_size=self.page_size):
            yield page


@dataclass(frozen=True)
class ReconcileSpec:
    """One reconciliation: its name, the diff, the owner and other System, the owned fields and the person.

    ``owned`` names the compared fields the owner System owns (``None``: all of them); only those
    are ever pushed by a repair. ``by_bindings`` matches records through the IdMap rather than a
    natural key (automatic when the key is the owner's id and bindings are given).
    """

    name: str
    diff: DiffSpec
    owner: str
    other: str
    owned: frozenset[str] | None = None
    by_bindings: bool = False
    person: str | None = None
    repair: bool = False
    alert: str | None = None
    every: dt.timedelta | None = None

    @property
    def entity(self) -> str:
        """The Entity compared."""
        return self.diff.entity


@dataclass
class ReconcileRun:
    """The outcome of one run: what was found, what was repaired, and what a re-check still finds."""

    spec: ReconcileSpec
    started_at: dt.datetime
    finished_at: dt.datetime
    found: DiffResult
    repaired: list[RepairRequest] = field(default_factory=list)
    recheck: DiffResult | None = None
    run_id: int | None = None

    @property
    def result(self) -> DiffResult:
        """What remains: the re-check after a repair, else what was found."""
        return self.recheck if self.recheck is not None else self.found

    @property
    def status(self) -> str:
        """``clean``, ``repaired`` (found drift, none left) or ``drift``."""
        if self.found.clean:
            return "clean"
        return "repaired" if self.recheck is not None and self.recheck.clean else "drift"

    def summary(self) -> str:
        """One line for a person (alerts, logs)."""
        counts = ", ".join(f"{v} {k}" for k, v in self.found.counts.items() if v) or "no differences"
        line = (f"{self.spec.name}: {self.spec.entity} {self.spec.owner} -> {self.spec.other}: {counts} "
                f"({self.found.owner_rows} owner / {self.found.other_rows} other records)")
        if self.repaired:
            left = self.recheck.total if self.recheck else "?"
            line += f"; repaired {len(self.repaired)}, {left} left"
        return line


# --- the run ---------------------------------------------------------------------------------------------


async def compare(spec: ReconcileSpec, owner: Source, other: Source, *, bindings: BindingLookup | None = None,
                  clock: Clock = SYSTEM_CLOCK) -> DiffResult:
    """Read both sides page by page and diff them; owner values of digest mismatches are fetched after."""
    resolve = None
    # Records keyed by the owner's own id can only be found in the other System through the IdMap.
    if spec.by_bindings or (bindings is not None and spec.diff.key == (spec.diff.owner_id,)):
        if bindings is None:
            raise ReconcileError(f"reconcile {spec.name}: matching by bindings needs the IdMap (bindings)")

        def resolve(other_id: Any) -> str | None:
            return bindings.source_id(spec.entity, spec.other, str(other_id), spec.owner)

    diff = Diff(spec.diff, now=clock.now(), resolve=resolve)
    async for page in owner.pages(spec.entity):
        diff.add_owner(page)
    async for page in other.pages(spec.entity):
        diff.add_other(page)
    result = diff.finish()
    if result.needs_owner_values and owner.client is not None:
        await _fill_owner_values(spec, owner, result)
    return result


async def reconcile(spec: ReconcileSpec, owner: Source, other: Source, *, bindings: BindingLookup | None = None,
                    repair: Repair | None = None, clock: Clock = SYSTEM_CLOCK, history: Any = None,
                    recheck: bool = True) -> ReconcileRun:
    """Run one reconciliation: compare, repair from the owner when asked, re-check, and record it.

    Only **missing** and **mismatch** are repaired, and only with the owner's values for the
    fields it owns; orphans and duplicates are reported for a person to decide (deleting or
    merging records is not a safe automatic step).
    """
    started = clock.now()
    found = await compare(spec, owner, other, bindings=bindings, clock=clock)
    run = ReconcileRun(spec, started, started, found)
    if spec.repair and repair is not None and not found.clean:
        run.repaired = await _repair(spec, owner, found, repair, bindings)
        if recheck and run.repaired:
            run.recheck = await compare(spec, owner, other, bindings=bindings, clock=clock)
    run.finished_at = clock.now()
    if history is not None:
        run.run_id = history.record(run)
    return run


async def _owner_record(spec: ReconcileSpec, owner: Source, d: Discrepancy) -> Record | None:
    if owner.client is None:
        return None
    if d.owner_id:
        return await owner.client.get(spec.entity, d.owner_id)
    if spec.diff.key == (spec.diff.owner_id,):
        return await owner.client.get(spec.entity, d.key)
    parts = d.key.split("/") if len(spec.diff.key) > 1 else [d.key]
    found = await owner.client.find(spec.entity, dict(zip(spec.diff.key, parts, strict=True)))
    return found[0] if found else None


async def _fill_owner_values(spec: ReconcileSpec, owner: Source, result: DiffResult) -> None:
    """Digest mismatches know only the other side's values: read the owner's record and compare fields."""
    rules = spec.diff.fields
    for n, d in enumerate(result.discrepancies):
        if d.note != "owner values to be fetched":
            continue
        record = await _owner_record(spec, owner, d)
        if record is None:
            continue
        row = record_row(record)
        if owner.project is not None:
            row = dict(owner.project(row))
        theirs = {f.name: f.other for f in d.fields}
        fields = tuple(FieldDiff(r.name, mine, theirs.get(r.name)) for r in rules
                       if (mine := _owner_value(r, row)) != theirs.get(r.name)
                       and not (r.tolerance and within_tolerance(mine, theirs.get(r.name), r.tolerance)))
        result.discrepancies[n] = replace(d, owner_id=record.external_id, fields=fields, note="")
    # A record the owner changed back between the two reads no longer differs: it is not drift.
    settled = [d for d in result.discrepancies if d.kind == Kind.MISMATCH and not d.fields]
    if settled:
        result.discrepancies[:] = [d for d in result.discrepancies if d.kind != Kind.MISMATCH or d.fields]
        result.counts["mismatch"] -= len(settled)
        result.matched += len(settled)


def _owner_value(rule: FieldRule, row: Mapping[str, Any]) -> Any:
    value: Any = row
    for part in rule.owner.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return transform(rule.transform).fn(value)


async def _repair(spec: ReconcileSpec, owner: Source, found: DiffResult, repair: Repair,
                  bindings: BindingLookup | None) -> list[RepairRequest]:
    pushed = []
    for d in found.discrepancies:
        if d.kind not in (Kind.MISSING, Kind.MISMATCH) or d.side == "owner":
            continue
        request = await _repair_request(spec, owner, d, bindings)
        if request is not None:
            await repair.push(request)
            pushed.append(request)
    return pushed


async def _repair_request(spec: ReconcileSpec, owner: Source, d: Discrepancy,
                          bindings: BindingLookup | None) -> RepairRequest | None:
    record = await _owner_record(spec, owner, d)
    row = record_row(record) if record is not None else None
    if row is not None and owner.project is not None:
        row = dict(owner.project(row))
    mapped = {k: v for k, v in row.items() if not k.startswith("_")} if row and owner.project else None
    owned = spec.owned
    if d.kind == Kind.MISSING:
        if row is None:
            return None  # the owner no longer has it: nothing to copy, the next run will not report it
        # A stale Binding means the other System lost (or someone deleted) the record: it is created again,
        # and ``other_id`` tells the engine which Binding to replace.
        other_id = bindings.target_id(spec.entity, spec.owner, record.external_id, spec.other) \
            if bindings is not None and record is not None else None
        return RepairRequest(spec.entity, "create", spec.owner, spec.other,
                             record.external_id if record else None, other_id, {}, dict(record.data), d,
                             mapped=mapped)
    rules = {r.name: r for r in spec.diff.fields}
    values = {}
    for f in d.fields:
        if owned is not None and f.name not in owned:
            continue
        rule = rules[f.name]
        values[rule.name] = _raw(rule, row) if row is not None else f.owner
    if not values:
        return None
    key = {} if spec.diff.key == (spec.diff.owner_id,) else dict(
        zip(spec.diff.key, d.key.split("/") if len(spec.diff.key) > 1 else [d.key], strict=True))
    if row is not None:
        key = {k: _raw(FieldRule(k), row) for k in key}
    return RepairRequest(spec.entity, "update", spec.owner, spec.other, record.external_id if record else d.owner_id,
                         d.other_ids[0] if d.other_ids else None, values, None, d, key)


def _raw(rule: FieldRule, row: Mapping[str, Any]) -> Any:
    value: Any = row
    for part in rule.owner.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


# --- from the plan ---------------------------------------------------------------------------------------

DEFAULT_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "stock": (("available", "int"),),
    "order": (("total", "money"), ("currency", "casefold"), ("financial_status", "casefold")),
    "customer": (("email", "email"), ("first_name", "text"), ("last_name", "text"), ("phone", "text")),
    "product": (("title", "text"), ("status", "casefold")),
    "variant": (("price", "money"), ("title", "text")),
    "refund": (("amount", "money"),),
    "fulfilment": (("tracking_number", "text"), ("status", "casefold")),
}
DEFAULT_KEYS: dict[str, tuple[str, ...]] = {
    "stock": ("sku", "location"), "customer": ("email",), "order": ("number",), "variant": ("sku",),
    "product": ("code",), "refund": ("order_number",), "fulfilment": ("tracking_number",),
}
KEY_TRANSFORMS = {"customer": "email"}
FIELD_TRANSFORMS = {
    "available": "int", "on_hand": "int", "reserved": "int", "quantity": "int", "total": "money", "price": "money",
    "amount": "money", "subtotal": "money", "tax_total": "money", "email": "email", "status": "casefold",
}


_WORD_TRANSFORMS = (
    (("qty", "quantity", "available", "on_hand", "onhand", "stock", "count", "reserved"), "int"),
    (("price", "total", "amount", "cost", "subtotal", "fee", "tax"), "money"),
    (("email", "mail"), "email"),
    (("status", "state", "currency", "country"), "casefold"),
)


def _field_and_transform(text: str, entity: str) -> tuple[str, str]:
    """``name`` or ``name:transform`` from the plan's ``fields:``; the transform is guessed from the name's words."""
    name, _, explicit = text.partition(":")
    name = name.strip()
    if explicit.strip():
        transform(explicit.strip())  # unknown names fail here, listing the known ones
        return name, explicit.strip()
    known = FIELD_TRANSFORMS.get(name) or dict(DEFAULT_FIELDS.get(entity, ())).get(name)
    if known:
        return name, known
    words = set(name.casefold().replace(".", "_").split("_"))
    for hints, guessed in _WORD_TRANSFORMS:
        if words & set(hints):
            return name, guessed
    return name, "text"


def spec_from_plan(plan: Any, name: str) -> ReconcileSpec:
    """Build a ReconcileSpec from the plan's ``reconcile.<name>`` entry (fields, tolerance, grace, ownership)."""
    try:
        entry = plan.reconcile[name]
    except KeyError:
        known = ", ".join(plan.reconcile) or "none"
        raise ReconcileError(f"the plan has no reconcile entry {name!r} (it has: {known})") from None
    entity = plan.reconcile_entity(name)
    owner, other = entry.between
    names = list(entry.fields) or [f for f, _ in DEFAULT_FIELDS.get(entity, ())]
    if not names:
        raise ReconcileError(f"reconcile.{name}: list the fields to compare (no default for entity {entity!r})")
    tolerance = entry.tolerance
    parsed = [_field_and_transform(f, entity) for f in names]
    names = [n for n, _ in parsed]
    rules = tuple(FieldRule(n, t, tolerance=(tolerance.get(n, 0) if isinstance(tolerance, dict) else tolerance))
                  for n, t in parsed)
    owned = frozenset(f for f in names if owner in (plan.owner_of(entity, f) or [owner]))
    diff = DiffSpec(entity, rules, key=DEFAULT_KEYS.get(entity, ("_id",)),
                    key_transform=KEY_TRANSFORMS.get(entity, "text"), grace=entry.grace or dt.timedelta(0))
    return ReconcileSpec(name, diff, owner, other, owned=owned, person=entry.owner,
                         repair=str(entry.repair) == "push-owner", alert=entry.alert, every=entry.every)


def owner_projection(plan: Any, spec: ReconcileSpec) -> Callable[[Mapping[str, Any]], Mapping[str, Any]] | None:
    """The owner -> other Flow's FieldMap and status table as a row projection, if the plan maps this entity.

    With it, owner records are compared in the other System's shape, as the engine would have written them;
    the compared fields are then named as the other System names them.
    """
    flow = next((f for f in getattr(plan, "flows", {}).values()
                 if f.entity == spec.entity and f.source == spec.owner and f.target == spec.other), None)
    if flow is None or (flow.map is None and flow.status is None):
        return None
    from doohickey.mapping.fieldmap import map_record

    def project(row: Mapping[str, Any]) -> Mapping[str, Any]:
        data = {k: v for k, v in row.items() if not k.startswith("_")}
        mapped = map_record(flow, data)
        mapped.update({k: v for k, v in row.items() if k.startswith("_")})
        return mapped

    return project


# --- scheduling and alerting (called by the engine's scheduler under `doohickey run`) ----------------------


def due(specs: Iterable[ReconcileSpec], last_started: Mapping[str, dt.datetime], now: dt.datetime) -> list[str]:
    """The scheduled reconciliations whose ``every`` has passed since their last run (never run: due now)."""
    out = []
    for spec in specs:
        if spec.every is None:
            continue
        last = last_started.get(spec.name)
        if last is None or now - last >= spec.every:
            out.append(spec.name)
    return out


def drift_alert(run: ReconcileRun) -> str | None:
    """The alert text for the reconciliation's named owner when drift remains beyond tolerance, else ``None``.

    Tolerances are applied inside the diff, so any remaining discrepancy is drift beyond tolerance.
    """
    if run.result.clean:
        return None
    who = f" for {run.spec.person}" if run.spec.person else ""
    worst = "; ".join(
        f"{d.kind} {d.key}" + "".join(f" {f.name} {f.owner}->{f.other}" for f in d.fields[:3])
        for d in run.result.discrepancies[:5])
    return f"Reconciliation drift{who}: {run.summary()}. Worst: {worst}"
