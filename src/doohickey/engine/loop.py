"""The engine loop: find due Events, run each record's Events in order, record what happened.

One asyncio task per record key (so one record's Events apply one at a time, in version order)
and many keys at once (different records run in parallel, up to ``concurrency`` writes in
flight). Every outcome is committed in one transaction with its audit rows: a write's Binding and
the Event's close together, a failure's Attempt and its retry time (or dead letter) together.
Errors are classified once (:func:`doohickey.errors.classify`): retry later with backoff, dead-letter
with a reason in words, or stop the run (bad credentials: every further call would fail too).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import socket
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, insert, or_, update
from sqlalchemy.engine import Connection

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.connectors.spec import Client, Connector
from doohickey.engine import audit as audit_log
from doohickey.engine import deadletter
from doohickey.engine import events as ev
from doohickey.engine.commit import GroupCommit
from doohickey.engine.idmap import IdMap
from doohickey.engine.mapping import resolve_map_record
from doohickey.engine.pacing import Pacers
from doohickey.engine.retry import RetryPolicy
from doohickey.engine.runner import Context, Skip, Written, run_event
from doohickey.engine.store import Store, attempts
from doohickey.engine.store import events as events_table
from doohickey.errors import Outcome, Verdict, classify
from doohickey.plan.model import Plan

LEASE = dt.timedelta(minutes=5)
INTERNAL_ERROR_PAUSE = 5.0


class RunFailed(Exception):
    """The run must stop: an error every further call would repeat (bad credentials, a broken plan)."""

    def __init__(self, outcome: Outcome, flow: str) -> None:
        super().__init__(f"flow {flow}: {outcome.message}")
        self.outcome = outcome
        self.flow = flow


@dataclass
class Tally:
    """What the loop has done since it started: counts and write lags (bounded), for status and the demo."""

    written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    retried: int = 0
    dead: int = 0
    lags: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))
    source_lags: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))


class Engine:
    """Runs a plan's Events against live clients."""

    def __init__(self, plan: Plan, store: Store, clients: dict[str, Client], connectors: dict[str, Connector], *,
                 clock: Clock = SYSTEM_CLOCK, seed: int | None = None, retry_scale: float = 1.0,
                 concurrency: int = 64, pacers: Pacers | None = None, map_record: Any = None,
                 commits: GroupCommit | None = None) -> None:
        self.plan = plan
        self.store = store
        self.clock = clock
        self.idmap = IdMap(store)
        self.ctx = Context(plan, store, self.idmap, clients, connectors, clock, map_record or resolve_map_record())
        self.pacers = pacers or Pacers(clock)
        self.policies = {name: RetryPolicy.from_plan(flow.on_failure, scale=retry_scale)
                         for name, flow in plan.flows.items()}
        self.rng = random.Random(seed)
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.wake = asyncio.Event()
        self.inflight: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.concurrency = concurrency
        self.slots: dict[str, asyncio.Semaphore] = {}
        self.tally = Tally()
        self.failure: RunFailed | None = None
        self.grace = 10.0
        self.waiters: dict[tuple[str, str, str], set[int]] = {}
        """Events retrying for a missing dependency, by the record they wait for (in memory: after a restart
        they simply wait out their backoff)."""
        self.commits = commits or GroupCommit(store, enabled=False)
        # One process on SQLite owns every Event: the in-memory set of keys in flight is the claim, and a
        # crash needs no lease to expire (every Event still pending simply runs again, found-not-created).
        # On PostgreSQL several workers share the table, so each claim is written with a lease.
        self.claims = store.dialect != "sqlite"
        self.stopping = False

    # --- the loop ---------------------------------------------------------------------------------------

    def start(self) -> int:
        """Take back Events a previous run left running (it was killed); returns how many."""
        return ev.recover(self.store, self.clock.now(), sole=True)

    def step(self, limit: int = 500) -> int:
        """Start a task for each record with due Events not already in flight; returns how many started."""
        keys = ev.due_keys(self.store, self.clock.now(), limit=limit, skip=self.inflight)
        for key in keys:
            self.inflight.add(key)
            task = asyncio.get_running_loop().create_task(self._process_key(key))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return len(keys)

    async def run(self, stop: asyncio.Event, *, idle_wait: float = 0.2) -> None:
        """Run until ``stop`` is set (then let in-flight Events finish) or the run fails."""
        self.start()
        try:
            while not stop.is_set():
                if self.failure:
                    raise self.failure
                started = self.step()
                self.wake.clear()
                if not started or len(self.inflight) >= 500:
                    await self._wait_wake(stop, idle_wait)
                else:
                    await asyncio.sleep(0)
        finally:
            await self.finish_inflight()

    async def _wait_wake(self, stop: asyncio.Event, timeout: float) -> None:
        waiters = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def finish_inflight(self, grace: float | None = None) -> None:
        """Let the Events in flight finish for up to ``grace`` seconds, then cancel the rest.

        A cancelled Event stays "running" in the store and is taken back at the next start; if its
        write had reached the target, the runner finds the record there instead of writing it again.
        """
        self.stopping = True
        tasks = list(self.tasks)
        if tasks:
            _done, waiting = await asyncio.wait(tasks, timeout=self.grace if grace is None else grace)
            for task in waiting:
                task.cancel()
            if waiting:
                await asyncio.gather(*waiting, return_exceptions=True)
        self.stopping = False

    async def drain(self, *, timeout: float = 60.0, settle: float = 0.0) -> bool:
        """Process until nothing is due or running (retries in the future are left); False on timeout."""
        deadline = self.clock.monotonic() + timeout
        self.start()
        while self.clock.monotonic() < deadline:
            if self.failure:
                raise self.failure
            started = self.step()
            if not started and not self.inflight:
                return True
            await asyncio.sleep(0.01 if self.inflight else settle)
        return False

    # --- one record ---------------------------------------------------------------------------------------

    async def _process_key(self, key: str) -> None:
        try:
            while not self.stopping and self.failure is None:
                pending = ev.pending_for(self.store, key)
                now = self.clock.now()
                due = [e for e in pending if e.next_attempt_at <= now]
                if not pending or pending[0].next_attempt_at > now or not due:
                    return
                head = pending[0]
                flow = self.plan.flows.get(head.flow)
                if flow is None:
                    self._close(head, "skipped", f"flow {head.flow} is no longer in the plan", "skipped")
                    continue
                if flow.coalesce == "latest" and len(due) > 1:
                    head = self._coalesce(due)
                # One budget of slots per target System, so a slow API (stock to a throttled shop) never
                # starves the flows writing elsewhere.
                slots = self.slots.setdefault(flow.target, asyncio.Semaphore(self.concurrency))
                async with slots:
                    if not await self._run_one(head):
                        return
                if len(pending) == 1 or (head is due[-1] and len(due) == len(pending)):
                    return  # nothing else was waiting; later arrivals are found by the next step()
        except Exception as exc:  # a bug must not kill the loop; the Event stays pending and is retried
            self.tally.skipped["internal-error"] = self.tally.skipped.get("internal-error", 0) + 1
            audit_log_error(self.store, key, exc, self.clock.now())
            self._hold_key(key, INTERNAL_ERROR_PAUSE)
        finally:
            self.inflight.discard(key)
            self.wake.set()

    def _hold_key(self, key: str, seconds: float) -> None:
        """Push a record's pending Events back a little, so an unexpected error is not retried in a tight loop."""
        # If the store itself is failing, this fails too and the next step simply tries again.
        with contextlib.suppress(Exception), self.store.begin() as conn:
            mine = or_(events_table.c.status == "pending",
                       and_(events_table.c.status == "running", events_table.c.lease_owner == self.owner))
            conn.execute(update(events_table).where(and_(events_table.c.record_key == key, mine)).values(
                status="pending", lease_owner=None, lease_until=None,
                next_attempt_at=self.clock.now() + dt.timedelta(seconds=seconds)))

    def _coalesce(self, due: list[ev.Event]) -> ev.Event:
        latest = due[-1]
        now = self.clock.now()
        with self.store.begin() as conn:
            for old in due[:-1]:
                ev.finish(conn, old.id, "superseded", f"coalesced into version {latest.version}", now)
                audit_log.note(conn, at=now, flow=old.flow, system=old.system, entity=old.entity,
                               external_id=old.external_id, event_id=old.id, action="coalesced",
                               detail=f"version {old.version} not sent: version {latest.version} is newer")
        return latest

    async def _run_one(self, event: ev.Event) -> bool:
        started = self.clock.now()
        if self.claims:
            with self.store.begin() as conn:
                if not ev.claim(conn, event.id, self.owner, started + LEASE):
                    return False
        try:
            result = await run_event(self.ctx, event)
        except Exception as exc:  # every error becomes data here, classified once
            await self._failed(event, exc, started)
            return True
        await self._succeeded(event, result, started)
        return True

    async def _succeeded(self, event: ev.Event, result: Skip | Written, started: dt.datetime) -> None:
        now = self.clock.now()
        flow = self.plan.flows[event.flow]
        common = {"at": now, "flow": event.flow, "system": event.system, "entity": event.entity,
                  "external_id": event.external_id, "event_id": event.id}
        if isinstance(result, Skip):
            def skipped(conn: Connection) -> None:
                ev.finish(conn, event.id, "skipped", f"{result.reason}: {result.detail}", now)
                audit_log.note(conn, **common, action="skipped", detail=f"{result.reason}: {result.detail}")

            await self.commits.run(skipped)
            self.tally.skipped[result.reason] = self.tally.skipped.get(result.reason, 0) + 1
            return
        dropped = (f"; not written (not owner): {', '.join(f'{k} ({v})' for k, v in result.dropped.items())}"
                   if result.dropped else "")
        notes = [
            {**common, "action": "written",
             "detail": f"{result.action} in {flow.target} as {flow.entity} {result.target_id} "
                       f"(version {event.version or '-'}, attempt {event.attempts + 1}){dropped}"},
            {**common, "system": flow.target, "entity": flow.entity, "external_id": result.target_id,
             "action": "bound", "detail": f"bound to {event.system} {event.entity} {event.external_id}"}]

        waiting = self.waiters.pop((event.system, event.entity, event.external_id), set())

        def written(conn: Connection) -> None:
            # The Binding, the Event's close and the audit commit together: a crash leaves all or none.
            if waiting:  # Events that waited for this record go now, not at the end of their backoff
                conn.execute(update(events_table).where(and_(events_table.c.id.in_(list(waiting)),
                                                             events_table.c.status == "pending"))
                             .values(next_attempt_at=now))
            conn.execute(insert(attempts).values(event_id=event.id, number=event.attempts + 1, started_at=started,
                                                 finished_at=now, outcome="written"))
            self.idmap.bind(conn, result.binding, now)
            ev.finish(conn, event.id, "done", f"{result.action} {flow.target} {flow.entity} {result.target_id}",
                      now, target_id=result.target_id)
            audit_log.note_many(conn, notes)

        await self.commits.run(written)
        if waiting:
            self.wake.set()
        self.tally.written += 1
        self.tally.lags.append((now - event.received_at).total_seconds())

    async def _failed(self, event: ev.Event, exc: BaseException, started: dt.datetime) -> None:
        outcome = classify(exc)
        flow = self.plan.flows[event.flow]
        policy = self.policies[event.flow]
        now = self.clock.now()
        tries = event.attempts + 1
        if outcome.kind in ("RateLimited", "Unavailable"):
            self.pacers.hold(flow.target, outcome.retry_after)
        retry = outcome.verdict == Verdict.RETRY and not policy.exhausted(tries)
        common = {"at": now, "flow": event.flow, "system": event.system, "entity": event.entity,
                  "external_id": event.external_id, "event_id": event.id}
        due = policy.next_at(now, tries, self.rng, outcome.retry_after)
        reason = dead_letter_reason(flow.target, event, outcome, tries, policy)

        def failed(conn: Connection) -> None:
            conn.execute(insert(attempts).values(
                event_id=event.id, number=tries, started_at=started, finished_at=now,
                outcome=outcome.verdict.value, error_kind=outcome.kind, message=outcome.message[:2000]))
            if outcome.verdict == Verdict.FAIL_RUN:
                ev.reschedule(conn, event.id, tries, now + dt.timedelta(seconds=policy.cap), outcome.message)
                audit_log.note(conn, **common, action="failed-run", detail=outcome.message)
            elif retry:
                ev.reschedule(conn, event.id, tries, due, outcome.message)
                audit_log.note(conn, **common, action="retry",
                               detail=f"attempt {tries} failed ({outcome.kind}): {outcome.message}; "
                                      f"next try in {(due - now).total_seconds():.1f} s")
            else:
                if policy.dead_letter:
                    deadletter.add(conn, event, reason=reason, kind=outcome.kind, detail=outcome.detail,
                                   tries=tries, owner=flow.on_failure.owner if flow.on_failure else None, at=now)
                ev.finish(conn, event.id, "dead", reason, now, error=outcome.message)
                audit_log.note(conn, **common, action="dead-lettered", detail=reason)

        await self.commits.run(failed)
        if retry and outcome.kind == "DependencyMissing":
            for key in depends_on(event):
                self.waiters.setdefault(key, set()).add(event.id)
        if outcome.verdict == Verdict.FAIL_RUN:
            self.failure = RunFailed(outcome, event.flow)
        elif retry:
            self.tally.retried += 1
        else:
            self.tally.dead += 1

    def _close(self, event: ev.Event, status: str, outcome: str, action: str) -> None:
        now = self.clock.now()
        with self.store.begin() as conn:
            ev.finish(conn, event.id, status, outcome, now)
            audit_log.note(conn, at=now, flow=event.flow, system=event.system, entity=event.entity,
                           external_id=event.external_id, event_id=event.id, action=action, detail=outcome)


def depends_on(event: ev.Event) -> list[tuple[str, str, str]]:
    """The records of the same System an Event may wait for: an order's customer, a fulfilment's or refund's order."""
    keys = []
    customer = event.data.get("customer")
    if isinstance(customer, dict) and customer.get("id"):
        keys.append((event.system, "customer", str(customer["id"])))
    if event.data.get("order_id"):
        keys.append((event.system, "order", str(event.data["order_id"])))
    return keys


def dead_letter_reason(target: str, event: ev.Event, outcome: Outcome, tries: int, policy: RetryPolicy) -> str:
    """The reason a person reads: what was refused, by whom, in their words, and after how many tries."""
    what = f"{event.entity} {event.data.get('number') or event.data.get('email') or event.external_id}"
    if outcome.kind == "MappingError":
        return f"could not map {what} for {target}: {outcome.message}"
    if outcome.verdict == Verdict.RETRY:
        return f"gave up on {what} after {tries} attempts ({policy.retries} retries): {outcome.message}"
    if outcome.kind == "RejectedError":
        # "erp rejected the request (HTTP 400): product code X does not exist" -> keep the API's own words
        said = outcome.message.split("): ", 1)[1] if "): " in outcome.message else outcome.message
        return f"{target} rejected {what}: {said}"
    return f"{what} could not be written to {target}: {outcome.message}"


def audit_log_error(store: Store, key: str, exc: BaseException, at: dt.datetime) -> None:
    """Record an unexpected engine error against the record it happened on."""
    flow, system, entity, external_id = ([*key.split("|"), "", "", "", ""])[:4]
    try:
        with store.begin() as conn:
            audit_log.note(conn, at=at, flow=flow, system=system, entity=entity, external_id=external_id,
                           action="engine-error", detail=f"{type(exc).__name__}: {exc}"[:2000])
    except Exception:  # the store itself is failing; the Event stays pending and the next step retries
        pass
