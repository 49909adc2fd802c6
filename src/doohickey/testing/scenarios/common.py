"""What many Scenarios verify the same way: an order copied exactly, its status per the table, the SLA, alerts.

Every check reads the outcome through the Systems' own APIs (the connectors' clients) and
compares it with the source System's record, field by field, so a failure names the record,
the field, the expected and the actual value.
"""

from __future__ import annotations

import importlib
import statistics
from decimal import Decimal
from typing import Any

from doohickey.plan.model import Flow, format_duration
from doohickey.testing.expect import show
from doohickey.testing.harness import find_one, money
from doohickey.testing.scenarios import Context

ORDER_TOTALS = ("currency", "discount_total", "shipping_total", "tax_total", "total")


def tax_of(line: dict[str, Any]) -> Decimal:
    """The tax charged on one order line (all its tax lines)."""
    return sum((money(t.get("amount")) or Decimal(0) for t in line.get("taxes") or []), Decimal(0))


def expected_status(ctx: Context, flow: Flow, source: dict[str, Any]) -> str | None:
    """The status the flow's status table gives the source record, in the target's canonical words."""
    table = flow.status
    if table is None or table.source not in source:
        return None
    value = table.values.get(str(source[table.source]), table.default)
    if value is None:
        return None
    connector = ctx.plan.systems[flow.target].connector
    try:
        vocabulary = getattr(importlib.import_module(f"doohickey.connectors.{connector}.maps"), "STATUS", {})
    except ImportError:
        vocabulary = {}
    return vocabulary.get(value, value)


def dead_letter_note(ctx: Context, number: str) -> str:
    """Why a record is missing, when the engine dead-lettered it."""
    for letter in ctx.sandbox.dead_letters():
        if str(letter.record.get("number")) == number:
            return f"dead-lettered by {letter.flow}: {letter.reason}"
    return ""


async def target_orders(ctx: Context, flow: Flow, number: str) -> list[Any]:
    """The target System's orders named ``number``."""
    return await ctx.sandbox.client(flow.target).find("order", {"number": number})


async def wait_for_order(ctx: Context, flow: Flow, number: str, *, timeout: float = 20.0,
                         when: Any = None) -> Any:
    """Wait until the target holds order ``number`` (and ``when(data)`` holds); the Record or None."""

    async def arrived() -> Any:
        found = await target_orders(ctx, flow, number)
        return next((r for r in found if when is None or when(r.data)), None)

    return await ctx.sandbox.wait_for(arrived, timeout=timeout)


async def check_order_copied(ctx: Context, flow_name: str, flow: Flow, number: str, *,
                             status: bool = True) -> dict[str, Any] | None:
    """The target holds exactly one copy of order ``number`` whose lines and totals equal the source's."""
    source = await find_one(ctx.sandbox.client(flow.source), "order", {"number": number})
    found = await target_orders(ctx, flow, number)
    label = f"{flow.target} order {number}"
    if not ctx.checks.equal(f"{label}: copies in {flow.target}", 1, len(found),
                            note=dead_letter_note(ctx, number) if not found else ""):
        return None
    if source is None:
        ctx.checks.add(f"{flow.source} order {number}", False, "present in the storefront", "not found")
        return None
    target, src = found[0].data, source.data
    # Some ERPs (Tryton) book discount, shipping and tax as amount lines of the order, not on product lines:
    # their records carry the total only, so that is what can be compared.
    folded = "discount_total" not in target
    for name in ORDER_TOTALS:
        if name in target or not folded:
            ctx.checks.equal(f"{label}: {name}", src.get(name), target.get(name))
    by_sku = {ln.get("sku"): ln for ln in target.get("lines") or []}
    ctx.checks.equal(f"{label}: number of lines", len(src.get("lines") or []), len(target.get("lines") or []))
    for line in src.get("lines") or []:
        sku = line.get("sku")
        other = by_sku.get(sku)
        if other is None:
            ctx.checks.add(f"{label}: line {sku}", False, f"quantity {line.get('quantity')}", "no such line")
            continue
        for name in ("quantity", "unit_price") if folded else ("quantity", "unit_price", "discount"):
            ctx.checks.equal(f"{label}: line {sku} {name}", line.get(name), other.get(name))
        if not folded:
            ctx.checks.equal(f"{label}: line {sku} tax", tax_of(line), tax_of(other))
    if status:
        want = expected_status(ctx, flow, src)
        if want is not None:
            table = flow.status
            ctx.checks.equal(f"{label}: status", want, target.get("status"),
                             note=f"status table: {table.source} {src.get(table.source)} -> "
                                  f"{table.values.get(str(src.get(table.source)), table.default)}" if table else "")
    return target


def promise(ctx: Context, flow_name: str) -> tuple[str, float] | None:
    """The flow's promise: (words, seconds) from the SLA naming it, else its acceptable lag."""
    for name, sla in ctx.plan.slas.items():
        if sla.flow == flow_name:
            return f"SLA {name} ({format_duration(sla.within)})", sla.within.total_seconds()
    lag = ctx.plan.flows[flow_name].acceptable_lag
    if lag is not None:
        return f"acceptable lag {format_duration(lag)}", lag.total_seconds()
    return None


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile of sorted ``values`` (nearest rank)."""
    if not values:
        return None
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def check_sla(ctx: Context, flow_name: str, numbers: set[str] | None = None) -> None:
    """Measure the flow's lag for these orders; record p50/p95/max and check the worst against the promise."""
    lags = ctx.sandbox.lags(flow_name, numbers)
    scale = ctx.sandbox.options.time_scale
    found = promise(ctx, flow_name)
    entry: dict[str, Any] = {"flow": flow_name, "count": len(lags), "time_scale": scale,
                             "p50_s": percentile(lags, 0.5), "p95_s": percentile(lags, 0.95),
                             "max_s": lags[-1] if lags else None,
                             "mean_s": statistics.fmean(lags) if lags else None}
    if found:
        words, seconds = found
        entry.update(promise=words, within_s=seconds * scale, met=bool(lags) and lags[-1] <= seconds * scale)
        what = f"{flow_name}: lag of every record within {words}"
        if scale != 1:
            what += f" = {seconds * scale:.2f} s at time scale 1/{round(1 / scale)}"
        ctx.checks.add(what, entry["met"], f"at most {seconds * scale:.2f} s",
                       f"max {lags[-1]:.2f} s over {len(lags)} record(s)" if lags else "nothing was written")
    ctx.metrics.setdefault("lags", {})[flow_name] = entry


async def check_alerted(ctx: Context, flow_name: str, records: list[str]) -> None:
    """An alert went to the flow's channel, naming the flow's owner and the records."""
    flow = ctx.plan.flows[flow_name]
    policy = flow.on_failure
    if policy is None or not policy.alert:
        ctx.checks.add(f"{flow_name}: alert", False, "an alert channel in on_failure", "none in the plan")
        return
    messages = [m for m in await ctx.sandbox.collect_alerts() if m.channel == policy.alert and not m.recovery]
    about = [m for m in messages if flow_name in m.text]
    ctx.checks.add(f"alert to {policy.alert} about {flow_name}", bool(about), "at least 1", len(about))
    if about:
        text = "\n".join(m.text for m in about)
        if policy.owner:
            ctx.checks.add(f"alert to {policy.alert} names the owner", policy.owner in text, policy.owner,
                           _first_line_with(text, "Owner") or "no owner named")
        for record in records:
            ctx.checks.add(f"alert to {policy.alert} lists {record}", record in text, record,
                           "not listed" if record not in text else record)
    ctx.metrics["alerts"] = [{"channel": m.channel, "subject": m.subject} for m in messages]


def _first_line_with(text: str, word: str) -> str:
    return next((line.strip() for line in text.splitlines() if word in line), "")


def check_no_dead_letters(ctx: Context, flow_names: list[str] | None = None) -> None:
    """No record of these flows (all flows when None) was given up on."""
    letters = [d for d in ctx.sandbox.dead_letters() if flow_names is None or d.flow in flow_names]
    ctx.checks.add("dead letters" + (f" in {', '.join(flow_names)}" if flow_names else ""), not letters, 0,
                   len(letters), note="; ".join(f"{d.flow} {d.record.get('number') or d.external_id}: {d.reason}"
                                                for d in letters[:3]))


def note_fault_log(ctx: Context, system: str) -> list[dict[str, Any]]:
    """The faults actually applied to ``system``'s twin (also kept in the metrics)."""
    twin = ctx.sandbox.twin(system)
    log = list(twin.faults.log) if twin else []
    counts: dict[str, int] = {}
    for entry in log:
        counts[entry["kind"]] = counts.get(entry["kind"], 0) + 1
    ctx.metrics.setdefault("faults", {})[system] = counts
    return log


def lines_for(ctx: Context, n: int = 3) -> list[dict[str, Any]]:
    """Order lines for ``n`` different stocked products at their catalogue prices."""
    return [{"sku": v.sku, "quantity": q, "price": str(v.price)}
            for v, q in zip(ctx.sandbox.products(n), (2, 1, 3, 1, 2), strict=False)]


def shopper(ctx: Context, index: int = 0) -> str:
    """A shopper's email, distinct per Scenario order."""
    return f"shopper{index}.{ctx.case.name}@example.com"


__all__ = ["check_alerted", "check_no_dead_letters", "check_order_copied", "check_sla", "lines_for", "shopper",
           "show", "wait_for_order"]
