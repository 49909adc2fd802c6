"""The runner: what happens to one Event, as one readable list of steps.

:func:`run_event` reads top to bottom: dedupe -> order (stale?) -> echo? -> filter -> map ->
ownership and conflict -> dependencies -> look up the Binding (or find the record in the target)
-> choose the write -> write, paced -> bind with the fingerprint -> audit. Each step is a small
function taking dataclasses; the I/O steps are idempotent, so running an Event twice (after a
crash between the write and the bind) finds the first write instead of repeating it.

A step that decides the Event needs no write returns a :class:`Skip` with the reason a person
reads in ``doohickey trace`` (duplicate, stale, echo, filtered, not owner, unchanged). Failures
are exceptions from :mod:`doohickey.errors`; the engine loop classifies them once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from doohickey.clock import Clock
from doohickey.connectors.spec import Client, Connector, Record, WriteRequest, WriteResult, fingerprint
from doohickey.engine import audit as audit_log
from doohickey.engine import events as ev
from doohickey.engine.idmap import Binding, IdMap
from doohickey.engine.ownership import keep_owned
from doohickey.engine.store import Store
from doohickey.errors import DependencyMissing
from doohickey.plan.model import Flow, Plan

MapFn = Callable[[Flow, dict[str, Any]], dict[str, Any]]


@dataclass
class Context:
    """Everything a run of one Event needs: the plan, the store, live clients and the clock."""

    plan: Plan
    store: Store
    idmap: IdMap
    clients: dict[str, Client]
    connectors: dict[str, Connector]
    clock: Clock
    map_record: MapFn
    bring_dependencies: bool = True


@dataclass(frozen=True)
class Skip:
    """The Event needs no write, and why (``duplicate``, ``stale``, ``echo``, ``filtered``, ``unchanged`` ...)."""

    reason: str
    detail: str


@dataclass(frozen=True)
class Written:
    """The Event was written: where, how, and the Binding now recorded."""

    action: str
    target_id: str
    binding: Binding
    dropped: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Prepared:
    """A mapped, owner-filtered record ready to write."""

    data: dict[str, Any]
    dropped: dict[str, str]


async def run_event(ctx: Context, event: ev.Event) -> Skip | Written:
    """Apply one Event to its flow's target, or say why no write is needed."""
    flow = ctx.plan.flows[event.flow]
    binding = ctx.idmap.get(event.system, event.entity, event.external_id, flow.target)
    if skip := check_order(event, binding):
        return skip
    if skip := check_echo(ctx, event):
        return skip
    if skip := check_filter(flow, event, binding):
        return skip
    prepared = prepare(ctx, flow, event, binding)
    if binding is not None and binding.written_fingerprint == fingerprint(prepared.data):
        return Skip("unchanged", f"{flow.target} already holds this content (written from "
                                 f"version {binding.source_version or '-'})")
    await resolve_dependencies(ctx, flow, event, prepared)
    await resolve_order(ctx, flow, prepared)
    found = None if binding else await find_in_target(ctx, flow, event, prepared)
    binding = binding or found
    request = choose_write(ctx, flow, event, prepared, binding)
    if request is None and found is not None:
        # Already in the target (an earlier attempt wrote it, or it was keyed in by hand): bind, don't write.
        adopted = bind(ctx, flow, event, prepared, WriteResult(found.target_id))
        adopted = dataclasses.replace(adopted, target_fingerprint=found.target_fingerprint)
        return Written("found", found.target_id, adopted, prepared.dropped)
    if request is None:
        return Skip("no-action", f"{flow.target} {flow.entity} {binding.target_id if binding else ''} exists and "
                                 f"the connector has no update for this change")
    result = await write(ctx, flow, request)
    result = await follow_up(ctx, flow, prepared, request, result)
    bound = bind(ctx, flow, event, prepared, result)
    return Written(request.action, result.external_id, bound, prepared.dropped)


# --- the steps ------------------------------------------------------------------------------------------


def check_order(event: ev.Event, binding: Binding | None) -> Skip | None:
    """A version older than the one already applied never overwrites it."""
    if binding is None or not event.version or not binding.source_version:
        return None
    if event.version < binding.source_version:
        return Skip("stale", f"version {event.version} is older than version {binding.source_version} "
                             f"already applied")
    if event.version == binding.source_version and event.fingerprint == binding.source_fingerprint:
        return Skip("duplicate", f"version {event.version} was already applied")
    return None


def check_echo(ctx: Context, event: ev.Event) -> Skip | None:
    """A record that holds exactly what we last wrote into it is our own write coming back."""
    for written in ctx.idmap.written_into(event.system, event.entity, event.external_id):
        if written.target_fingerprint and written.target_fingerprint == event.fingerprint:
            return Skip("echo", f"this is our own write from {written.source_system} "
                                f"{written.source_entity} {written.source_id} coming back")
    return None


def check_filter(flow: Flow, event: ev.Event, binding: Binding | None = None) -> Skip | None:
    """Only records whose fields hold one of the flow's ``when`` values go through.

    A cancellation of a record already sent always goes through: a paid order the warehouse holds must
    hear that it was cancelled even though a cancelled order is no longer "paid".
    """
    if binding is not None and (event.data.get("cancelled_at") or event.data.get("status") == "cancelled"):
        return None
    for name, allowed in flow.when.items():
        value = event.data.get(name)
        if str(value) not in allowed:
            return Skip("filtered", f"{name} is {value!r}; this flow takes only {', '.join(allowed)}")
    return None


def prepare(ctx: Context, flow: Flow, event: ev.Event, binding: Binding | None) -> Prepared:
    """Map the record through the flow's FieldMap, then keep only the fields the source owns."""
    mapped = ctx.map_record(flow, event.data)
    newer = binding is None or not binding.source_version or event.version >= binding.source_version
    owned = keep_owned(ctx.plan, flow, mapped, newer=newer)
    return Prepared(owned.data, owned.dropped)


async def resolve_dependencies(ctx: Context, flow: Flow, event: ev.Event, prepared: Prepared) -> None:
    """Make sure what the target record needs is bound first (an order's customer); bring it or wait.

    A customer the target already holds (found by email) is bound on the spot. One it does not hold
    is brought by recording an Event on the plan's customer flow between the same systems, and this
    Event waits (DependencyMissing is retried) until that one has been written.
    """
    spec = ctx.connectors[flow.target].entities.get(flow.entity)
    if spec is None or "customer" not in spec.depends_on:
        return
    customer = prepared.data.get("customer") or {}
    email = customer.get("email") or prepared.data.get("email")
    source_id = str(customer.get("id") or "")
    if source_id and ctx.idmap.get(flow.source, "customer", source_id, flow.target):
        return
    if not email:
        return
    hit = await find_customer(ctx, flow.target, {**customer, "email": email})
    found = [hit[0]] if hit else []
    now = ctx.clock.now()
    if found:
        if source_id:
            with ctx.store.begin() as conn:
                ctx.idmap.bind(conn, Binding(flow.source, "customer", source_id, flow.target, "customer",
                                             found[0].external_id, "", None, None, found[0].fingerprint), now)
                audit_log.note(conn, at=now, flow=event.flow, system=flow.source, entity="customer",
                               external_id=source_id, event_id=event.id, action="bound",
                               detail=f"found as {flow.target} customer {found[0].external_id} by email")
        return
    bringer = _customer_flow(ctx.plan, flow)
    if bringer and source_id and ctx.bring_dependencies:
        with ctx.store.begin() as conn:
            ev.record(ctx.store, conn, [ev.Incoming(bringer, Record(flow.source, "customer", source_id,
                                                                    {**customer, "email": email}), "dependency")],
                      now)
    raise DependencyMissing(f"{flow.target} has no customer {email} yet; the order waits for it"
                            + (f" (brought by flow {bringer})" if bringer else ""), system=flow.target)


async def resolve_order(ctx: Context, flow: Flow, prepared: Prepared) -> None:
    """Translate the order a refund or fulfilment belongs to into the target's id (and number), or wait for it.

    The source names the order by its own id (Shopify's ``refunds/create`` carries only ``order_id``);
    the Binding of that order says what it is called in the target. Without a Binding the record can
    still go when it carries the order number the target can search by; otherwise it waits.
    """
    spec = ctx.connectors[flow.target].entities.get(flow.entity)
    source_order = str(prepared.data.get("order_id") or "")
    if spec is None or "order" not in spec.depends_on or flow.entity == "order" or not source_order:
        return
    binding = ctx.idmap.get(flow.source, "order", source_order, flow.target)
    if binding is None:
        if prepared.data.get("order_number"):
            return
        raise DependencyMissing(f"order {source_order} is not in {flow.target} yet; the {flow.entity} waits for it",
                                system=flow.target)
    prepared.data["order_id"] = binding.target_id
    if not prepared.data.get("order_number"):
        record = await ctx.clients[flow.target].get("order", binding.target_id)
        prepared.data["order_number"] = (record.data.get("number") or "") if record else ""


def _customer_flow(plan: Plan, flow: Flow) -> str | None:
    for name, other in plan.flows.items():
        if other.entity == "customer" and other.source == flow.source and other.target == flow.target:
            return name
    return None


async def find_in_target(ctx: Context, flow: Flow, event: ev.Event, prepared: Prepared) -> Binding | None:
    """Look for the record in the target by its natural key before creating it.

    This is what makes a create safe to repeat: if a previous attempt wrote the record but died
    before binding it, the record is found here and bound instead of created twice.
    """
    spec = ctx.connectors[flow.target].entities.get(flow.entity)
    if spec is not None and "create" not in spec.actions:
        return None  # upsert and set are safe to repeat: nothing to look for
    if flow.entity == "customer":
        return await match_customer(ctx, flow, event, prepared)
    key_field = spec.key if spec else "id"
    value = prepared.data.get(key_field)
    if not value or key_field == "id":
        return None
    found = [r for r in await ctx.clients[flow.target].find(flow.entity, {key_field: str(value)})
             if key_field != "order_number" or same_aftermath(prepared.data, r.data)]
    if not found:
        return None
    record = found[0]
    return Binding(event.system, event.entity, event.external_id, flow.target, flow.entity, record.external_id,
                   "", None, None, record.fingerprint, event.flow)


async def find_customer(ctx: Context, target: str, customer: dict[str, Any]) -> tuple[Record, str] | None:
    """The target's customer for this one, and why: by the plan's matching rules (email, phone ...), else by email."""
    email = customer.get("email")
    if not ctx.plan.matching.get("customer"):
        found = await ctx.clients[target].find("customer", {"email": email}) if email else []
        return (found[0], f"same email: {email}") if found else None
    from doohickey.reconcile.matching import find_existing, parse_rules

    hit = await find_existing(ctx.clients[target], customer, parse_rules(ctx.plan.matching["customer"]))
    if hit is None or hit[1] is None:
        return None
    return hit[1], "; ".join(hit[0].reasons)


async def match_customer(ctx: Context, flow: Flow, event: ev.Event, prepared: Prepared) -> Binding | None:
    """Bind to the target's existing customer found by the plan's matching rules instead of creating a duplicate."""
    hit = await find_customer(ctx, flow.target, prepared.data)
    if hit is None:
        return None
    record, why = hit
    with ctx.store.begin() as conn:
        audit_log.note(conn, at=ctx.clock.now(), flow=event.flow, system=event.system, entity=event.entity,
                       external_id=event.external_id, event_id=event.id, action="matched",
                       detail=f"same customer as {flow.target} {record.external_id}: {why}")
    return Binding(event.system, event.entity, event.external_id, flow.target, flow.entity, record.external_id,
                   "", None, None, record.fingerprint, event.flow)


def same_aftermath(mine: dict[str, Any], theirs: dict[str, Any]) -> bool:
    """Whether a fulfilment or refund found by its order's number is this very one, not a sibling.

    An order can have several parcels and several refunds, so the order number alone does not
    identify one: a parcel is the same when its tracking number (or, without one, its lines) match;
    a refund when its amount and lines match.
    """
    if mine.get("tracking_number") or theirs.get("tracking_number"):
        return mine.get("tracking_number") == theirs.get("tracking_number")
    if "amount" in mine and str(mine.get("amount")) != str(theirs.get("amount")):
        return False
    return _line_set(mine) == _line_set(theirs)


def _line_set(data: dict[str, Any]) -> list[tuple[str, int]]:
    return sorted((str(ln.get("sku")), int(ln.get("quantity") or 0)) for ln in data.get("lines") or [])


def choose_write(ctx: Context, flow: Flow, event: ev.Event, prepared: Prepared,
                 binding: Binding | None) -> WriteRequest | None:
    """The write action: create when unbound; cancel, update, upsert or set when bound; None when none fits."""
    spec = ctx.connectors[flow.target].entities.get(flow.entity)
    actions = spec.actions if spec else ("create",)
    if binding is None:
        action = next((a for a in ("create", "upsert", "set", "receive") if a in actions), None)
        if action is None:
            return None
        return WriteRequest(flow.entity, action, prepared.data, idempotency_key=event.idempotency_key)
    cancelled = bool(prepared.data.get("cancelled_at")) or prepared.data.get("status") == "cancelled"
    if cancelled and "cancel" in actions:
        action: str | None = "cancel"
    else:
        action = next((a for a in ("update", "upsert", "set") if a in actions), None)
    if action is None:
        return None
    return WriteRequest(flow.entity, action, prepared.data, external_id=binding.target_id,
                        idempotency_key=event.idempotency_key)


async def follow_up(ctx: Context, flow: Flow, prepared: Prepared, request: WriteRequest,
                    result: WriteResult) -> WriteResult:
    """A record first seen already cancelled is created, then cancelled, so the target ends in its state.

    (When the create's webhook is late or lost, the first version the engine sees may be the cancelled one.)
    """
    spec = ctx.connectors[flow.target].entities.get(flow.entity)
    cancelled = bool(prepared.data.get("cancelled_at")) or prepared.data.get("status") == "cancelled"
    if request.action != "create" or not cancelled or spec is None or "cancel" not in spec.actions:
        return result
    return await write(ctx, flow, WriteRequest(flow.entity, "cancel", prepared.data, external_id=result.external_id))


async def write(ctx: Context, flow: Flow, request: WriteRequest) -> WriteResult:
    """Send the write to the target; the client paces itself on the Connection's budget."""
    return await ctx.clients[flow.target].write(request)


def bind(ctx: Context, flow: Flow, event: ev.Event, prepared: Prepared, result: WriteResult) -> Binding:
    """The Binding to record: the target's id, the version applied and the fingerprints of what was written."""
    return Binding(event.system, event.entity, event.external_id, flow.target, flow.entity, result.external_id,
                   event.version, event.fingerprint, fingerprint(prepared.data),
                   fingerprint(result.data) if result.data else None, event.flow)


def now_of(ctx: Context) -> dt.datetime:
    """The engine's current time."""
    return ctx.clock.now()
