"""``doohickey status``: backlog, lag against each flow's SLA, retries pending and dead letters, from the store.

Lag is measured two ways: the age of the oldest Event still waiting (what a person feels now) and
the recent write lag (received -> written, the median and 95th percentile of the last hour).
A flow's promise is its SLA's ``within`` when an SLA names the flow, else its ``acceptable_lag``.
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from sqlalchemy import and_, func, select

from doohickey.engine import deadletter
from doohickey.engine.store import Store, events
from doohickey.plan.model import Plan


def promise_of(plan: Plan, flow_name: str) -> dt.timedelta | None:
    """How far behind a flow may be: its SLA's ``within``, else its ``acceptable_lag``."""
    for sla in plan.slas.values():
        if sla.flow == flow_name:
            return sla.within
    return plan.flows[flow_name].acceptable_lag


def flow_status(plan: Plan, store: Store, now: dt.datetime) -> list[dict[str, Any]]:
    """One row per flow: counts by status, retries pending, oldest waiting age, recent lags, dead letters."""
    open_letters = deadletter.count_open(store)
    rows = []
    with store.begin() as conn:
        by_status = {(f, s): n for f, s, n in conn.execute(
            select(events.c.flow, events.c.status, func.count()).group_by(events.c.flow, events.c.status))}
        waiting = dict(conn.execute(select(events.c.flow, func.min(events.c.received_at))
                                    .where(events.c.status.in_(("pending", "running"))).group_by(events.c.flow)).all())
        retrying = dict(conn.execute(select(events.c.flow, func.count()).where(and_(
            events.c.status == "pending", events.c.attempts > 0)).group_by(events.c.flow)).all())
        recent = conn.execute(select(events.c.flow, events.c.received_at, events.c.finished_at).where(and_(
            events.c.status == "done", events.c.finished_at >= now - dt.timedelta(hours=1)))).all()
    lags: dict[str, list[float]] = {}
    for flow, received, finished in recent:
        lags.setdefault(flow, []).append((finished - received).total_seconds())
    for name in plan.flows:
        promise = promise_of(plan, name)
        oldest = waiting.get(name)
        age = (now - oldest).total_seconds() if oldest else 0.0
        flow_lags = sorted(lags.get(name, []))
        p95 = flow_lags[min(len(flow_lags) - 1, int(len(flow_lags) * 0.95))] if flow_lags else None
        state = "ok"
        if promise is not None and age > promise.total_seconds():
            state = "breached"
        elif promise is not None and age > promise.total_seconds() / 2:
            state = "at risk"
        rows.append({
            "flow": name, "pending": by_status.get((name, "pending"), 0) + by_status.get((name, "running"), 0),
            "retrying": retrying.get(name, 0), "done": by_status.get((name, "done"), 0),
            "skipped": by_status.get((name, "skipped"), 0) + by_status.get((name, "superseded"), 0),
            "dead_letters": open_letters.get(name, 0), "oldest_waiting_s": round(age, 1),
            "p50_lag_s": round(statistics.median(flow_lags), 3) if flow_lags else None,
            "p95_lag_s": round(p95, 3) if p95 is not None else None,
            "promise_s": promise.total_seconds() if promise else None, "state": state})
    return rows
