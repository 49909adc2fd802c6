"""The scheduler: polls each flow's source on its interval, and runs batch flows on their schedule.

Polling is the safety net for webhooks that never arrive (every flow with ``trigger.poll``);
batch flows (``trigger.schedule``, a five-field cron expression) poll their source when the
expression matches the minute. A failed poll is kept as ``last_error`` for ``doohickey status``
and tried again at the next interval; the Cursor did not move, so nothing is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.connectors.spec import Client, Connector
from doohickey.engine.intake import Intake
from doohickey.errors import classify
from doohickey.plan.model import Plan


@dataclass
class PollState:
    """What the scheduler knows about one flow's polling."""

    last_run: dt.datetime | None = None
    last_error: str | None = None
    polls: int = 0
    new_events: int = 0


def cron_matches(expression: str, moment: dt.datetime) -> bool:
    """Whether a five-field cron expression (minute hour day month weekday; ``*``, ``*/n``, ``a,b``, ``a-b``)
    matches ``moment``'s minute."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"cron expression {expression!r} needs five fields: minute hour day month weekday")
    values = (moment.minute, moment.hour, moment.day, moment.month, moment.isoweekday() % 7)
    return all(_field_matches(f, v) for f, v in zip(fields, values, strict=True))


def _field_matches(spec: str, value: int) -> bool:
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part == "*":
            if value % step == 0:
                return True
            continue
        low, _, high = part.partition("-")
        lo, hi = int(low), int(high or low)
        if lo <= value <= hi and (value - lo) % step == 0:
            return True
    return False


@dataclass
class Scheduler:
    """Runs the plan's polls and batch flows until stopped."""

    plan: Plan
    intake: Intake
    clients: dict[str, Client]
    clock: Clock = SYSTEM_CLOCK
    interval_scale: float = 1.0
    overlap: dt.timedelta = dt.timedelta(minutes=2)
    state: dict[str, PollState] = field(default_factory=dict)
    on_error: Callable[[str, str], None] | None = None
    connectors: dict[str, Connector] | None = None

    def readable(self, flow_name: str) -> bool:
        """Whether the flow's source can be read at all (some entities arrive by webhook only)."""
        flow = self.plan.flows[flow_name]
        if self.connectors is None:
            return True
        spec = self.connectors[flow.source].entities.get(flow.entity)
        if spec is None or not spec.read:
            self.state.setdefault(flow_name, PollState()).last_error = (
                f"{flow.source} cannot be polled for {flow.entity}; this flow relies on webhooks alone")
            return False
        return True

    async def poll_once(self, flow_name: str) -> int:
        """Poll one flow now; returns how many new Events it recorded (0 on a failed poll)."""
        flow = self.plan.flows[flow_name]
        state = self.state.setdefault(flow_name, PollState())
        state.last_run = self.clock.now()
        state.polls += 1
        try:
            result = await self.intake.poll(flow_name, self.clients[flow.source], overlap=self.overlap)
        except Exception as exc:  # a failed poll is retried next interval; the cursor has not moved
            state.last_error = classify(exc).message
            if self.on_error:
                self.on_error(flow_name, state.last_error)
            return 0
        state.last_error = None
        state.new_events += result.new_events
        return result.new_events

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every polled flow on its interval and every batch flow on its schedule, until ``stop``."""
        tasks = [asyncio.create_task(self._every(name, flow.trigger.poll.total_seconds() * self.interval_scale, stop))
                 for name, flow in self.plan.flows.items() if flow.trigger.poll and self.readable(name)]
        tasks += [asyncio.create_task(self._cron(name, flow.trigger.schedule, stop))
                  for name, flow in self.plan.flows.items() if flow.trigger.schedule]
        if not tasks:
            await stop.wait()
            return
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _every(self, flow_name: str, seconds: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.poll_once(flow_name)
            await self._sleep(max(seconds, 0.05), stop)

    async def _cron(self, flow_name: str, expression: str, stop: asyncio.Event) -> None:
        last: tuple[int, ...] | None = None
        while not stop.is_set():
            now = self.clock.now()
            minute = (now.year, now.month, now.day, now.hour, now.minute)
            if minute != last and cron_matches(expression, now):
                last = minute
                await self.poll_once(flow_name)
            await self._sleep(20.0, stop)

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
