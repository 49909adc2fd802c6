"""SLA monitors: is each business promise of the plan met, at risk, or broken right now?

A plan SLA ("every new order is in the ERP within 15 minutes") is measured on its
flow from the store: the lag of every change written in the window (from the
source's change time, or the time we received it, to written in the target),
plus the changes still waiting, failed (dead letters) or missing. Waiting longer
than ``within`` is a breach even when nothing ever failed; a source probe
(:func:`probe_source`) finds records the source holds that never reached us at
all (a lost webhook before the next poll), so a breach is seen even when no event
ever arrived.

Verdicts: **breached** (the on-time share is below the target, or a record is
already late), **at risk** (a record has waited more than half the allowance, or
p95 lag is above 80% of it), **met**, or **no data**.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.connectors.spec import Client
from doohickey.engine.alerts import Alert, Alerter
from doohickey.engine.idmap import IdMap
from doohickey.engine.store import Store, dead_letters, events
from doohickey.plan.model import Plan, Sla

WAITING = ("pending", "running")
LISTED = 50  # record ids kept per SLA state


@dataclass(frozen=True)
class SlaState:
    """One SLA right now: its verdict, the measured lag, and the records that break or threaten it."""

    name: str
    use_case: str
    flow: str
    within_s: float
    target: float
    verdict: str
    measured: int = 0
    on_time_share: float | None = None
    p50_lag_s: float | None = None
    p95_lag_s: float | None = None
    max_lag_s: float | None = None
    late: tuple[str, ...] = ()
    at_risk: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    explanation: str = ""

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for `doohickey status --json`."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


@dataclass
class _Window:
    lags: list[float] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    at_risk: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def measure(plan: Plan, store: Store, *, clock: Clock = SYSTEM_CLOCK,
            window: dt.timedelta = dt.timedelta(hours=24)) -> list[SlaState]:
    """The state of every SLA of ``plan`` over the last ``window``."""
    return [measure_one(name, sla, store, clock=clock, window=window)
            for name, sla in plan.slas.items() if sla.flow]


def measure_one(name: str, sla: Sla, store: Store, *, clock: Clock = SYSTEM_CLOCK,
                window: dt.timedelta = dt.timedelta(hours=24)) -> SlaState:
    """The state of one SLA over the last ``window``."""
    now = clock.now()
    within = sla.within.total_seconds()
    seen = _read_window(store, sla.flow or "", now, now - window, within)
    lags = sorted(seen.lags)
    on_time = sum(1 for lag in lags if lag <= within)
    measured = len(lags) + len(seen.late) + len(seen.failed)
    share = (on_time / measured) if measured else None
    verdict, why = _verdict(sla, share, lags, seen, within)
    return SlaState(
        name=name, use_case=sla.use_case, flow=sla.flow or "", within_s=within, target=sla.target,
        verdict=verdict, measured=measured, on_time_share=share, p50_lag_s=_percentile(lags, 0.50),
        p95_lag_s=_percentile(lags, 0.95), max_lag_s=lags[-1] if lags else None,
        late=tuple(seen.late[:LISTED]), at_risk=tuple(seen.at_risk[:LISTED]), failed=tuple(seen.failed[:LISTED]),
        explanation=why)


def _read_window(store: Store, flow: str, now: dt.datetime, since: dt.datetime, within: float) -> _Window:
    seen = _Window()
    started = func.coalesce(events.c.source_time, events.c.received_at)
    with store.begin() as conn:
        done = conn.execute(select(started, events.c.finished_at).where(and_(
            events.c.flow == flow, events.c.status == "done", events.c.finished_at >= since))).all()
        waiting = conn.execute(select(events.c.external_id, started).where(and_(
            events.c.flow == flow, events.c.status.in_(WAITING)))).all()
        failed = conn.execute(select(dead_letters.c.external_id).where(and_(
            dead_letters.c.flow == flow, dead_letters.c.status == "open",
            or_(dead_letters.c.created_at >= since, dead_letters.c.resolved_at.is_(None))))).scalars().all()
    seen.lags = [max((finished - begun).total_seconds(), 0.0) for begun, finished in done if finished and begun]
    for external_id, begun in waiting:
        age = (now - begun).total_seconds()
        if age > within:
            seen.late.append(external_id)
        elif age > within / 2:
            seen.at_risk.append(external_id)
    seen.failed = sorted(set(failed))
    return seen


def _verdict(sla: Sla, share: float | None, lags: list[float], seen: _Window, within: float) -> tuple[str, str]:
    allowance = f"within {_words(within)}"
    if seen.late or seen.failed:
        parts = []
        if seen.late:
            parts.append(f"{len(seen.late)} change(s) waiting longer than {_words(within)}")
        if seen.failed:
            parts.append(f"{len(seen.failed)} dead-lettered")
        return "breached", "; ".join(parts)
    if share is None:
        return "no data", "nothing went through this flow in the window"
    if share < sla.target:
        return "breached", f"{share:.1%} on time, the promise is {sla.target:.0%} {allowance}"
    p95 = _percentile(lags, 0.95)
    if seen.at_risk or (p95 is not None and p95 > 0.8 * within):
        why = f"{len(seen.at_risk)} change(s) past half the allowance" if seen.at_risk else \
            f"p95 lag {_words(p95 or 0)} is close to {_words(within)}"
        return "at risk", why
    return "met", f"{share:.1%} on time {allowance} (promise {sla.target:.0%})"


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[index]


def _words(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


async def probe_source(plan: Plan, name: str, client: Client, idmap: IdMap, *, clock: Clock = SYSTEM_CLOCK,
                       lookback: dt.timedelta | None = None, limit: int = 250) -> list[str]:
    """Records the SLA's source changed more than ``within`` ago that have no Binding in the target.

    This is how a breach is noticed when no event ever arrived (a lost webhook before the next poll).
    """
    sla = plan.slas[name]
    flow = plan.flows[sla.flow or ""]
    now = clock.now()
    lookback = lookback or sla.within * 4
    page = await client.read(flow.entity, since=now - lookback, limit=limit)
    missing = []
    for record in page.records:
        changed = record.updated_at or now
        if (now - changed) > sla.within and idmap.get(flow.source, flow.entity, record.external_id,
                                                       flow.target) is None:
            missing.append(record.external_id)
    return missing


def breach_alert(plan: Plan, state: SlaState) -> Alert | None:
    """The alert for a breached SLA, to its owner's channel (the SLA's, else its flow's)."""
    sla = plan.slas[state.name]
    flow = plan.flows.get(state.flow)
    channel = sla.alert or (flow.on_failure.alert if flow and flow.on_failure else None)
    if state.verdict != "breached" or channel is None:
        return None
    owner = sla.owner or (flow.on_failure.owner if flow and flow.on_failure else "") or ""
    return Alert(key=f"sla:{state.name}", kind="sla-breach", channel=channel, flow=state.flow, owner=owner,
                 title=f"SLA broken: {state.use_case}", records=state.late + state.failed,
                 detail=state.explanation,
                 action=f"Run `doohickey status` and `doohickey deadletters list --flow {state.flow}`; "
                        "fix what blocks these records, then replay them.")


async def monitor_once(plan: Plan, store: Store, alerter: Alerter, *, clock: Clock = SYSTEM_CLOCK) -> list[SlaState]:
    """Measure every SLA; alert the owner of each breach and announce recovery of the ones met again."""
    states = measure(plan, store, clock=clock)
    for state in states:
        alert = breach_alert(plan, state)
        if alert is not None:
            await alerter.raise_alert(alert)
        elif state.verdict == "met":
            await alerter.resolve(f"sla:{state.name}")
    return states
