"""Assembling a running engine from a Plan: store, Connections, engine loop, intake, scheduler, web server.

:class:`Runtime` is what ``doohickey run``, ``doohickey demo`` and the integration tests start:
with ``env="sandbox"`` the plan's twins are started in-process first and their webhooks pointed at
the engine's endpoint on 127.0.0.1. Stopping is graceful: the web server stops accepting, the
scheduler stops polling, and the Events in flight finish before the store is closed; anything not
finished stays pending in the store and is picked up by the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from doohickey import connectors as registry
from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.connectors.spec import Client, ConnectionSettings, ConnectOptions, Connector
from doohickey.engine.alerts import Alerter, alerter_for_plan
from doohickey.engine.commit import GroupCommit
from doohickey.engine.intake import Intake
from doohickey.engine.loop import Engine
from doohickey.engine.monitor import Monitor
from doohickey.engine.pacing import Pacers
from doohickey.engine.sandbox import SandboxTwins, start_twins
from doohickey.engine.scheduler import Scheduler
from doohickey.engine.status import flow_status
from doohickey.engine.store import Store
from doohickey.engine.workers import LeasedEngine, settings_doc, spawn, stop_all
from doohickey.plan.model import Plan
from doohickey.twins.faults import Fault


@dataclass
class RuntimeOptions:
    """How to run a plan: environment, store, address and the knobs the demo and tests turn."""

    env: str = "sandbox"
    store_url: str | None = None
    listen: str | None = None
    clock: Clock = SYSTEM_CLOCK
    seed: int | None = None
    retry_scale: float = 1.0
    poll_scale: float = 1.0
    pace_scale: float = 1.0
    concurrency: int = 64
    twin_faults: dict[str, list[Fault]] = field(default_factory=dict)
    twin_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, ConnectionSettings] = field(default_factory=dict)
    start_scheduler: bool = True
    replay_window: dt.timedelta = dt.timedelta(hours=1)
    workers: int = 1
    """Worker processes in this run (PostgreSQL): this one (webhooks, scheduler, engine loop) and ``workers - 1``
    engine-only ones (:mod:`doohickey.engine.workers`)."""
    lease_seconds: float = 15.0
    """How long a worker's hold on a record outlives the worker (a killed worker's records wait this long)."""
    group_commit: bool = True
    """Events finishing together share one transaction (one fsync): measured 2x the loop's throughput here."""
    group_commit_intake: bool = False
    """Webhooks share transactions too. Off by default: over HTTP the batches stayed small on this machine and
    the bookkeeping cost more than the fsyncs saved; worth trying where fsync is slow (network volumes)."""


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the runtime owns SIGTERM and stops gracefully."""

    def capture_signals(self):  # type: ignore[override]
        import contextlib

        return contextlib.nullcontext()


class Runtime:
    """A plan running: twins (sandbox), clients, engine loop, intake, scheduler and the web server."""

    def __init__(self, plan: Plan, options: RuntimeOptions | None = None) -> None:
        self.plan = plan
        self.options = options or RuntimeOptions()
        self.store: Store | None = None
        self.twins: SandboxTwins | None = None
        self.connectors: dict[str, Connector] = {}
        self.clients: dict[str, Client] = {}
        self.engine: Engine | None = None
        self.intake: Intake | None = None
        self.scheduler: Scheduler | None = None
        self.alerter: Alerter | None = None
        self.monitor: Monitor | None = None
        self.server: _QuietServer | None = None
        self.server_task: asyncio.Task[None] | None = None
        self.url = ""
        self.stop_event = asyncio.Event()
        self.settings: dict[str, ConnectionSettings] = {}
        self.worker_procs: list[Any] = []

    async def start(self) -> Runtime:
        """Open everything and start the web server (the loop and scheduler start in :meth:`run`)."""
        opts = self.options
        self.store = Store.open(opts.store_url or self.plan.runtime.store)
        if opts.workers > 1 and self.store.dialect != "postgresql":
            self.store.dispose()
            raise ValueError(f"{opts.workers} workers need a PostgreSQL store (postgresql://...); "
                             f"SQLite is for one process")
        settings = dict(opts.settings)
        secrets: dict[str, str] = {}
        if opts.env == "sandbox" and any(s.sandbox and s.sandbox.twin for s in self.plan.systems.values()):
            self.twins = start_twins(self.plan, clock=opts.clock, faults=opts.twin_faults,
                                     options=opts.twin_options)
            settings = {**self.twins.settings, **settings}
            secrets.update(self.twins.webhook_secrets())
        pacers = Pacers(opts.clock, scale=opts.pace_scale)
        used = {f.source for f in self.plan.flows.values()} | {f.target for f in self.plan.flows.values()}
        for name, system in self.plan.systems.items():
            if name not in used:
                continue  # a System no flow touches needs no Connection
            self.connectors[name] = registry.load(system.connector)
            if name not in settings:
                from doohickey.plan.secrets import connection_settings

                settings[name] = connection_settings(self.plan, name, opts.env)
            if "webhook_secret" in settings[name].secrets:
                secrets.setdefault(name, settings[name].secrets["webhook_secret"].reveal())
            pacer = pacers.for_system(name, self.connectors[name])
            self.clients[name] = self.connectors[name].connect(
                settings[name], ConnectOptions(clock=opts.clock, pacer=pacer))
        self.settings = settings
        # On PostgreSQL any number of processes may share the store: every one runs the leased loop.
        shared = self.store.dialect == "postgresql"
        extra: dict[str, Any] = {"lease_seconds": opts.lease_seconds} if shared else {}
        self.engine = (LeasedEngine if shared else Engine)(
            self.plan, self.store, self.clients, self.connectors, clock=opts.clock, seed=opts.seed,
            retry_scale=opts.retry_scale, concurrency=opts.concurrency, pacers=pacers,
            commits=GroupCommit(self.store, enabled=opts.group_commit), **extra)
        self.intake = Intake(self.plan, self.store, self.connectors, secrets=secrets, clock=opts.clock,
                             replay_window=opts.replay_window, on_recorded=self.engine.wake.set,
                             commits=self.engine.commits if opts.group_commit_intake else None)
        self.scheduler = Scheduler(self.plan, self.intake, self.clients, opts.clock, interval_scale=opts.poll_scale,
                                   connectors=self.connectors)
        self.alerter = alerter_for_plan(self.plan, clock=opts.clock)
        self.monitor = Monitor(self.plan, self.store, self.clients, self.connectors, self.alerter, clock=opts.clock,
                               interval=max(30.0 * opts.poll_scale, 0.5))
        await self._serve()
        if self.twins is not None:
            for name in self.twins.twins:
                topics = [t for f in self.plan.flows.values() if f.source == name for t in f.trigger.webhook]
                if topics:
                    self.twins.subscribe(name, f"{self.url}/webhooks/{name}", topics)
        return self

    async def _serve(self) -> None:
        from doohickey.web.app import create_app

        host, _, port = (self.options.listen or self.plan.runtime.listen).rpartition(":")
        app = create_app(self.intake, self.store, self.status)
        config = uvicorn.Config(app, host=host or "127.0.0.1", port=int(port or 0), log_level="warning",
                                lifespan="off", access_log=False)
        self.server = _QuietServer(config)
        self.server_task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.server_task.done():
                self.server_task.result()
                raise RuntimeError(f"the webhook server could not start on {host}:{port}")
            await asyncio.sleep(0.01)
        bound = self.server.servers[0].sockets[0].getsockname()
        self.url = f"http://{bound[0]}:{bound[1]}"

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run the engine loop and the scheduler until ``stop`` (or :meth:`request_stop`)."""
        stop = stop or self.stop_event
        assert self.engine is not None and self.scheduler is not None and self.monitor is not None
        if self.options.workers > 1 and not self.worker_procs:
            self.worker_procs = spawn(self.worker_config(), self.options.workers - 1)
        tasks = [asyncio.create_task(self.engine.run(stop))]
        if self.options.start_scheduler:
            tasks.append(asyncio.create_task(self.scheduler.run(stop)))
            tasks.append(asyncio.create_task(self.monitor.run(stop)))
        try:
            await asyncio.gather(*tasks)
        finally:
            stop.set()
            for task in tasks:
                if not task.done():
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.stop_workers()

    def worker_config(self) -> dict[str, Any]:
        """What an engine-only worker process needs to run this plan like this one (sent on its stdin)."""
        assert self.store is not None
        opts = self.options
        return {"plan": self.plan, "store": self.store.engine.url.render_as_string(hide_password=False),
                "settings": settings_doc(self.settings), "env": opts.env, "seed": opts.seed,
                "retry_scale": opts.retry_scale, "pace_scale": opts.pace_scale, "concurrency": opts.concurrency,
                "lease_seconds": opts.lease_seconds}

    async def stop_workers(self) -> list[int | None]:
        """Stop the engine-only worker processes (they finish what is in flight); their exit codes."""
        procs, self.worker_procs = self.worker_procs, []
        return await asyncio.to_thread(stop_all, procs) if procs else []

    def request_stop(self) -> None:
        """Ask :meth:`run` to stop gracefully."""
        self.stop_event.set()

    def status(self) -> dict[str, Any]:
        """Per-flow status plus what this process has done since it started."""
        assert self.store is not None and self.engine is not None
        tally = self.engine.tally
        return {"plan": self.plan.name, "flows": flow_status(self.plan, self.store, self.options.clock.now()),
                "written": tally.written, "retried": tally.retried, "dead_lettered": tally.dead,
                "skipped": dict(tally.skipped)}

    async def close(self) -> None:
        """Stop the web server and any worker processes, close clients and twins and the store."""
        await self.stop_workers()
        if self.server is not None and self.server_task is not None:
            self.server.should_exit = True
            await asyncio.gather(self.server_task, return_exceptions=True)
        for client in self.clients.values():
            with contextlib.suppress(httpx.HTTPError, RuntimeError):
                await client.aclose()
        if self.twins is not None:
            self.twins.stop()
        if self.store is not None:
            self.store.dispose()
