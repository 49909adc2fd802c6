"""Several workers on one PostgreSQL store: leased engine loop, LISTEN/NOTIFY wake-up, shared API budgets.

:class:`LeasedEngine` is the engine loop (:class:`~doohickey.engine.loop.Engine`) for a store shared by
any number of worker processes on any number of machines. It differs in four ways:

* it runs a record's Events only while holding that record's lease (:mod:`doohickey.engine.lease`:
  claimed with ``FOR UPDATE SKIP LOCKED``), so per-record order holds across workers;
* it renews its leases while it works; a worker killed mid-run stops renewing and the others take
  its records over once the lease expires (``lease_seconds``, 15 s by default);
* it sleeps until woken by PostgreSQL (``LISTEN doohickey_events``; every insert of Events NOTIFYs at
  commit) or until the next retry falls due, instead of polling the table;
* it takes its share of each Connection's API budget: every live worker (heartbeat in ``workers``)
  paces at ``rate / N`` with a bucket of ``burst / N``, re-divided as workers join and leave, so N
  workers together stay within one API limit without a database round trip per API call.

``python -m doohickey.engine.workers`` runs one engine-only worker (no webhook server, no scheduler)
from a config its parent writes on stdin (pickled: the Plan object itself, so a plan narrowed in
memory runs as is; secrets never travel on a command line); :func:`spawn` starts N of them for
``doohickey run --workers N`` and ``doohickey demo --workers N``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import faulthandler
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.connectors.http import TokenBucketPacer
from doohickey.connectors.spec import Client, ConnectionSettings, ConnectOptions, Connector, Secret
from doohickey.engine import lease
from doohickey.engine.loop import Engine
from doohickey.engine.pacing import Pacers
from doohickey.engine.store import NOTIFY_CHANNEL, Store
from doohickey.plan.model import Plan

LEASE_SECONDS = 15.0


@dataclass
class BudgetShare:
    """Divides every Connection's pacing budget by the number of live workers.

    Only budgets the engine keeps by itself are divided (a request rate from the connector's published
    limits, which the API does not report back). An API that reports its own bucket with every answer
    (Shopify's throttle status: available, maximum, restore rate) is already one budget shared by all
    workers: each follows the numbers the API reports, so dividing it again would only slow them down.
    """

    pacers: Pacers
    workers: int = 1
    base: dict[str, tuple[float, float]] = field(default_factory=dict)
    applied: dict[str, tuple[float, float]] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)
    caps: dict[str, int] = field(default_factory=dict)
    holds: dict[str, list[asyncio.Task[bool]]] = field(default_factory=dict)
    position: int = 0

    def apply(self, workers: int, position: int = 0) -> None:
        """Pace at ``1 / workers`` of each locally kept rate and bucket, and of each concurrency cap.

        ``position`` is this worker's place among the live ones: the first ``cap % workers`` take one
        slot more, so the shares add up to the whole cap. Call it on the event loop's thread (a
        concurrency cap is shared by withholding slots).
        """
        self.workers = max(1, workers)
        self.position = position
        for system, pacer in self.pacers.budgets.items():
            if not isinstance(pacer, TokenBucketPacer):
                continue
            if pacer._slots is not None:
                self._share_slots(system, pacer._slots)
            if pacer.rate >= 1e5:
                continue  # a concurrency-capped API: its cap is the budget
            last = self.applied.get(system)
            if last is not None and (pacer.rate, pacer.burst) != last:
                self.reported.add(system)  # the API resized the bucket itself: it reports the shared numbers
            if system in self.reported:
                continue
            rate, burst = self.base.setdefault(system, (pacer.rate, pacer.burst))
            pacer.rate = rate / self.workers
            pacer.burst = max(1.0, burst / self.workers)
            pacer.tokens = min(pacer.tokens, pacer.burst)
            self.applied[system] = (pacer.rate, pacer.burst)

    def cap(self, system: str) -> int | None:
        """The concurrency this worker may use on ``system`` now (None when the API has no cap)."""
        if system not in self.caps:
            return None
        return self.caps[system] - len(self.holds.get(system, []))

    def _share_slots(self, system: str, slots: asyncio.Semaphore) -> None:
        # N workers x (their share) in flight = the API's cap. Slots are withheld by holding them, so a
        # request in flight is never cut short; a worker joining waits for slots to come free.
        total = self.caps.setdefault(system, slots._value)
        mine = total // self.workers + (1 if self.position < total % self.workers else 0)
        want = total - max(1, mine)
        holds = self.holds.setdefault(system, [])
        while len(holds) > want:
            hold = holds.pop()  # the newest first: still waiting for a slot, cancelled; held, given back
            if hold.done() and not hold.cancelled():
                slots.release()
            else:
                hold.cancel()
        while len(holds) < want:
            holds.append(asyncio.get_running_loop().create_task(slots.acquire()))


class Waker:
    """``LISTEN`` on the store's notify channel and set ``wake`` on every notification (PostgreSQL only)."""

    def __init__(self, store: Store, wake: asyncio.Event) -> None:
        self.store = store
        self.wake = wake
        self.notified = 0
        self.task: asyncio.Task[None] | None = None

    def conninfo(self) -> str:
        """The store's URL as libpq understands it."""
        return self.store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def start(self) -> Waker:
        """Start listening in the background (reconnecting if the connection drops)."""
        self.task = asyncio.create_task(self._listen())
        return self

    async def _listen(self) -> None:
        import psycopg

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.conninfo(), autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.wake.set()  # anything inserted before LISTEN took effect is found by the next step
                    async for _ in conn.notifies():
                        self.notified += 1
                        self.wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database restarted or the network blipped: listen again shortly
                self.wake.set()
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        """Stop listening."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


class LeasedEngine(Engine):
    """The engine loop for a store shared by several workers (see the module docstring)."""

    def __init__(self, *args: Any, lease_seconds: float = LEASE_SECONDS, owner: str | None = None,
                 batch: int = 200, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batch = batch
        """Record keys leased per claim: smaller spreads a small backlog over more workers."""
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.owner = owner or lease.worker_name()
        # The record lease is the claim: an Event stays pending while its record is held (no write per Event);
        # if the holder dies, the next holder runs it again and finds what was already written.
        self.claims = False
        self.finished: set[str] = set()
        self.share = BudgetShare(self.pacers)
        self.waker: Waker | None = None
        self.renewals = 0
        self.claimed_at = 0.0

    def start(self) -> int:
        """Register this worker, take its share of the budgets, and free Events orphaned by dead workers."""
        now = self.clock.now()
        with self.store.begin() as conn:
            lease.heartbeat(conn, self.store, self.owner, now)
        with contextlib.suppress(RuntimeError):  # outside a running loop (a synchronous caller): later
            self.share.apply(*self._standing(lease.live_owners(self.store, now, self.lease)))
        return lease.recover_orphans(self.store, now)

    def step(self, limit: int | None = None) -> int:
        """Lease record keys with due Events and start a task for each; returns how many started."""
        if self.stopping:
            return 0
        limit = limit or self.batch
        now = self.clock.monotonic()
        if len(self.inflight) >= limit // 2 and now - self.claimed_at < 0.1:
            return 0  # enough in hand: claim (and give back finished records) at most every 100 ms
        self.claimed_at = now
        done, self.finished = self.finished, set()
        try:
            keys = lease.claim_keys(self.store, self.owner, self.clock.now(), self.lease, limit=limit,
                                    skip=self.inflight, done=done)
        except Exception:
            self.finished |= done  # released with the next claim (or expired)
            raise
        for key in keys:
            self.inflight.add(key)
            task = asyncio.get_running_loop().create_task(self._leased(key))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return len(keys)

    async def _leased(self, key: str) -> None:
        try:
            await self._process_key(key)
        finally:
            # Released in the next claim's transaction; Events that arrived for this record while it was
            # held are found by that same claim (it skips only keys still in flight here).
            self.finished.add(key)
            self.wake.set()

    async def run(self, stop: asyncio.Event, *, idle_wait: float | None = None) -> None:
        """Run until ``stop``; leases are renewed meanwhile and released at the end."""
        if self.store.dialect == "postgresql":
            self.waker = await Waker(self.store, self.wake).start()
        upkeep = asyncio.create_task(self._upkeep(stop))
        try:
            await super().run(stop, idle_wait=idle_wait or (5.0 if self.waker else 0.2))
        finally:
            upkeep.cancel()
            await asyncio.gather(upkeep, return_exceptions=True)
            if self.waker is not None:
                await self.waker.close()
            with contextlib.suppress(Exception):
                await self.commits.close()
                await asyncio.to_thread(lease.leave, self.store, self.owner)

    async def _wait_wake(self, stop: asyncio.Event, timeout: float) -> None:
        # Sleep until woken (NOTIFY, a record released) or until the next retry falls due, whichever first.
        now = self.clock.now()
        due = await asyncio.to_thread(lease.next_due, self.store, now)
        if due is not None:
            timeout = min(timeout, max((due - now).total_seconds(), 0.02))
        await super()._wait_wake(stop, timeout)

    async def _upkeep(self, stop: asyncio.Event) -> None:
        # Often enough that a joining worker's share is taken within a couple of seconds (429s meanwhile
        # are held off by the pacer), and leases are renewed three times or more per lease.
        every = min(self.lease.total_seconds() / 3, 2.0)
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
            try:
                owners = await asyncio.to_thread(self.keep_up)
            except Exception:  # the store is unreachable for now; leases may lapse and others take over
                continue
            self.share.apply(*self._standing(owners))

    def _standing(self, owners: list[str]) -> tuple[int, int]:
        """(live workers, this worker's position among them)."""
        return max(1, len(owners)), owners.index(self.owner) if self.owner in owners else 0

    def keep_up(self) -> list[str]:
        """Renew leases and heartbeat, free orphaned Events, forget dead workers; returns the live workers."""
        now = self.clock.now()
        lease.renew(self.store, self.owner, now, self.lease)
        self.renewals += 1
        if lease.recover_orphans(self.store, now):
            self.wake.set()
        if self.renewals % 10 == 0:
            lease.sweep(self.store, now, self.lease)
        return lease.live_owners(self.store, now, self.lease)


# --- worker processes -------------------------------------------------------------------------------------


def connect_systems(plan: Plan, settings: dict[str, ConnectionSettings], env: str, pacers: Pacers,
                    clock: Clock = SYSTEM_CLOCK) -> tuple[dict[str, Connector], dict[str, Client]]:
    """Connectors and paced clients for every System a flow of ``plan`` uses."""
    from doohickey import connectors as registry
    from doohickey.plan.secrets import connection_settings

    used = {f.source for f in plan.flows.values()} | {f.target for f in plan.flows.values()}
    found: dict[str, Connector] = {}
    clients: dict[str, Client] = {}
    for name, system in plan.systems.items():
        if name not in used:
            continue
        found[name] = registry.load(system.connector)
        chosen = settings.get(name) or connection_settings(plan, name, env)
        pacer = pacers.for_system(name, found[name])
        clients[name] = found[name].connect(chosen, ConnectOptions(clock=clock, pacer=pacer))
    return found, clients


def settings_doc(settings: dict[str, ConnectionSettings]) -> dict[str, Any]:
    """Connection settings as JSON for a worker's stdin (the sandbox twins' URLs and keys)."""
    return {name: {"url": s.url, "secrets": {k: v.reveal() for k, v in s.secrets.items()},
                   "options": dict(s.options)} for name, s in settings.items()}


def _settings(doc: dict[str, Any]) -> dict[str, ConnectionSettings]:
    return {name: ConnectionSettings(name, s["url"], {k: Secret(v) for k, v in s["secrets"].items()},
                                     s.get("options") or {}) for name, s in doc.items()}


def load_worker_plan(config: dict[str, Any]) -> Plan:
    """The plan a worker runs: the Plan in ``config`` (or the file it names), narrowed to ``flows`` when given."""
    from doohickey.plan.load import load_plan

    plan = config["plan"] if isinstance(config["plan"], Plan) else load_plan(Path(config["plan"]))
    if config.get("flows"):
        plan = plan.model_copy(update={"flows": {k: v for k, v in plan.flows.items() if k in config["flows"]}},
                               deep=True)
    return plan


async def serve_worker(config: dict[str, Any]) -> None:
    """Run one engine-only worker until SIGTERM/SIGINT (or until the process that started it is gone)."""
    plan = load_worker_plan(config)
    store = Store.open(config["store"])
    pacers = Pacers(SYSTEM_CLOCK, scale=float(config.get("pace_scale", 1.0)))
    connectors, clients = connect_systems(plan, _settings(config.get("settings", {})), config.get("env", "production"),
                                          pacers)
    engine = LeasedEngine(plan, store, clients, connectors, seed=config.get("seed"),
                          retry_scale=float(config.get("retry_scale", 1.0)),
                          concurrency=int(config.get("concurrency", 64)), pacers=pacers,
                          lease_seconds=float(config.get("lease_seconds", LEASE_SECONDS)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 PID` prints where every thread is (a stuck worker)
    parent = config.get("parent")
    watchdog = asyncio.create_task(_watch_parent(parent, stop)) if parent else None
    print(f"worker {engine.owner} ready", flush=True)
    try:
        await engine.run(stop)
    finally:
        if watchdog is not None:
            watchdog.cancel()
        for client in clients.values():
            with contextlib.suppress(Exception):
                await client.aclose()
        store.dispose()


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    # A worker started by `doohickey run --workers N` stops with it, even if it was killed outright.
    while not stop.is_set():
        if os.getppid() != parent:
            stop.set()
            return
        await asyncio.sleep(1.0)


def spawn(config: dict[str, Any], count: int, *, log: Path | None = None) -> list[subprocess.Popen]:
    """Start ``count`` worker processes with ``config`` (sent on stdin); their output goes to ``log`` (else ours)."""
    procs = []
    body = pickle.dumps({**config, "parent": os.getpid()})
    for _ in range(count):
        out: Any = log.open("ab") if log else None
        proc = subprocess.Popen([sys.executable, "-W", "ignore", "-m", "doohickey.engine.workers"],
                                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
        assert proc.stdin is not None
        proc.stdin.write(body)
        proc.stdin.close()
        procs.append(proc)
    return procs


def stop_all(procs: list[subprocess.Popen], *, timeout: float = 30.0) -> list[int | None]:
    """SIGTERM each worker (they finish what is in flight), wait, SIGKILL any still running; exit codes."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    codes = []
    for proc in procs:
        try:
            codes.append(proc.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes.append(proc.wait())
    return codes


@contextlib.contextmanager
def scratch_schema(url: str, prefix: str) -> Iterator[str]:
    """A fresh schema in the PostgreSQL database at ``url``, dropped afterwards; yields a URL that uses it."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url.replace("postgresql+psycopg://", "postgresql://"))
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conninfo = parsed.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    # The parent process wrote this config on our stdin: it is trusted as the parent itself is.
    asyncio.run(serve_worker(pickle.loads(sys.stdin.buffer.read())))
