"""Benchmark: the sync engine end to end on SQLite (WAL, fsync on every commit) with the ERP twin on loopback.

Run: ``python bench/engine.py [--events 3000] [--rates 50,200] [--seconds 10] [--no-group-commit]
[--postgresql postgresql://postgres@127.0.0.1/postgres [--workers 1,2,4] [--only-postgresql]]``
(prints a table; nothing is asserted).

Three processes, so the load generator and the twin do not steal the engine's interpreter:
the ERP twin (uvicorn on 127.0.0.1), the load generator (signed Shopify ``customers/create``
webhooks over loopback HTTP) and the engine (webhook server, store, loop) in this process.
Rows:

* intake only: webhooks verified, parsed and committed (one fsync'd transaction each), engine idle;
* end to end, null target: intake + runner + store, the target an in-memory client (the engine's ceiling);
* end to end, ERP twin: every event creates a customer in the ERP twin over HTTP (a find, then a create);
* fixed rate: latency from webhook received to written in the ERP twin, p50/p95/p99;
* peak memory (max RSS) after the short and after the long run: flat means no growth with events.

With ``--postgresql URL``: ``doohickey run --workers N`` (N = 1, 2, 4) on a scratch schema of that
database, events/s and p50/p99 latency against an unlimited ERP twin; then against a paced ERP twin
(5 requests in flight, 20 ms each, 429 beyond that) the share of its concurrency budget the N workers
keep busy (sampled every 10 ms) and the 429s they caused.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

SECRET = "bench-webhook-secret"


# --- the load generator (its own process) -------------------------------------------------------------


def _payload(i: int, run: str) -> tuple[bytes, dict[str, str]]:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = json.dumps({"id": 9_000_000 + i, "email": f"bench.{run}.{i}@example.com", "first_name": "Bench",
                       "last_name": f"Customer {i}", "phone": None, "created_at": now, "updated_at": now,
                       "addresses": [], "tags": "", "admin_graphql_api_id": f"gid://shopify/Customer/{9_000_000 + i}"},
                      separators=(",", ":")).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return body, {"Content-Type": "application/json", "X-Shopify-Topic": "customers/create",
                  "X-Shopify-Hmac-Sha256": signature, "X-Shopify-Webhook-Id": f"{run}-{i}",
                  "X-Shopify-Triggered-At": now, "X-Shopify-Event-Id": f"{run}-{i}"}


async def _blast(url: str, run: str, start: int, n: int, rate: float | None, concurrency: int) -> dict[str, Any]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    statuses: dict[int, int] = {}
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        queue: asyncio.Queue[int] = asyncio.Queue()
        began = time.monotonic()

        async def one(i: int) -> None:
            body, headers = _payload(i, run)
            answer = await client.post(url, content=body, headers=headers)
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

        async def worker() -> None:
            while True:
                i = await queue.get()
                try:
                    await one(i)
                finally:
                    queue.task_done()

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        for k in range(n):
            if rate:
                delay = began + k / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await queue.put(start + k)
        await queue.join()
        for w in workers:
            w.cancel()
        return {"seconds": time.monotonic() - began, "statuses": statuses}


def _blast_process(url: str, run: str, start: int, n: int, rate: float | None, concurrency: int, out: Any) -> None:
    out.put(asyncio.run(_blast(url, run, start, n, rate, concurrency)))


def blast(url: str, run: str, start: int, n: int, *, rate: float | None = None, concurrency: int = 32) -> dict:
    """Send ``n`` signed webhooks from another process (at ``rate`` per second, or as fast as possible)."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_blast_process, args=(url, run, start, n, rate, concurrency, out))
    proc.start()
    result = out.get()
    proc.join()
    return result


def _erp_twin_process(port_out: Any, options: dict[str, Any] | None = None) -> None:
    from doohickey.twins import create_twin
    from doohickey.twins.server import TwinServer

    twin = create_twin("erp", seed=1, **(options or {}))
    server = TwinServer(twin.app).start()
    port_out.put((server.url, twin.info["api_key"]))
    while True:
        time.sleep(3600)


# --- the engine (this process) ---------------------------------------------------------------------


class NullClient:
    """A target that accepts every write at once (to see the engine's own ceiling)."""

    def __init__(self) -> None:
        self.n = 0

    async def find(self, entity: str, key: Any) -> list:
        return []

    async def write(self, request: Any) -> Any:
        from doohickey.connectors.spec import WriteResult

        self.n += 1
        return WriteResult(f"NULL-{self.n}", "", {"id": f"NULL-{self.n}"})

    async def aclose(self) -> None:
        return None


async def _start(folder: str, erp_url: str, erp_key: str) -> Any:
    from doohickey.connectors.spec import ConnectionSettings, Secret
    from doohickey.engine.demo import EXAMPLE
    from doohickey.engine.runtime import Runtime, RuntimeOptions
    from doohickey.plan.load import load_plan

    plan = load_plan(EXAMPLE)
    plan = plan.model_copy(update={"flows": {"customers-to-erp": plan.flows["customers-to-erp"]}}, deep=True)
    settings = {"shop": ConnectionSettings("shop", "http://127.0.0.1:9", {"token": Secret("x"),
                                                                          "webhook_secret": Secret(SECRET)}),
                "erp": ConnectionSettings("erp", erp_url, {"api_key": Secret(erp_key)})}
    options = RuntimeOptions(env="production", store_url=f"sqlite:///{folder}/state.sqlite", listen="127.0.0.1:0",
                             settings=settings, start_scheduler=False, concurrency=64)
    return await Runtime(plan, options).start()


def _store_stats(runtime: Any, run: str) -> dict[str, Any]:
    from doohickey.engine.store import events

    with runtime.store.begin() as conn:
        rows = conn.execute(select(events.c.received_at, events.c.finished_at, events.c.status).where(
            events.c.delivery_id.like(f"{run}-%"))).all()
    done = [r for r in rows if r.status == "done"]
    lat = sorted((r.finished_at - r.received_at).total_seconds() for r in done)
    span = (max(r.finished_at for r in done) - min(r.received_at for r in done)).total_seconds() if done else 0
    pick = (lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] * 1000) if lat else (lambda q: float("nan"))
    return {"recorded": len(rows), "written": len(done), "span": span, "p50": pick(0.5), "p95": pick(0.95),
            "p99": pick(0.99), "mean": statistics.fmean(lat) * 1000 if lat else float("nan")}


async def _wait_written(runtime: Any, run: str, n: int, timeout: float) -> None:
    from doohickey.engine.store import events

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.store.begin() as conn:
            done = conn.execute(select(func.count()).select_from(events).where(
                events.c.delivery_id.like(f"{run}-%"), events.c.status == "done")).scalar_one()
        if done >= n:
            return
        await asyncio.sleep(0.2)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def bench(events: int, rates: list[float], seconds: float, long_factor: int,
                group_commit: bool = True) -> list[tuple[str, str]]:
    """Run every row; returns (row, result) pairs."""
    ctx = mp.get_context("spawn")
    port_out = ctx.Queue()
    twin = ctx.Process(target=_erp_twin_process, args=(port_out,), daemon=True)
    twin.start()
    erp_url, erp_key = port_out.get(timeout=30)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="doohickey-bench-") as folder:
        runtime = await _start(folder, erp_url, erp_key)
        runtime.engine.commits.enabled = group_commit
        url = f"{runtime.url}/webhooks/shop"
        loop = asyncio.get_running_loop()
        try:
            # 1. intake only: the engine loop is not running
            sent = await loop.run_in_executor(None, lambda: blast(url, "intake", 0, events))
            rows.append(("intake only (verify, parse, fsync'd commit, 2xx)",
                         f"{events / sent['seconds']:.0f} webhooks/s  {sent['statuses']}"))
            # 2. end to end with a null target: start the loop, swap the target for the null client
            real = runtime.clients["erp"]
            runtime.clients["erp"] = NullClient()
            stop = asyncio.Event()
            task = asyncio.create_task(runtime.engine.run(stop))
            await _wait_written(runtime, "intake", events, 600)  # drain the intake row first
            sent = await loop.run_in_executor(None, lambda: blast(url, "null", 10**6, events))
            await _wait_written(runtime, "null", events, 600)
            s = _store_stats(runtime, "null")
            rows.append(("end to end, null target (engine ceiling)", f"{s['written'] / s['span']:.0f} events/s"))
            # 3. end to end against the ERP twin
            runtime.clients["erp"] = real
            sent = await loop.run_in_executor(None, lambda: blast(url, "twin", 2 * 10**6, events))
            await _wait_written(runtime, "twin", events, 600)
            s = _store_stats(runtime, "twin")
            rows.append(("end to end, ERP twin target (find + create)", f"{s['written'] / s['span']:.0f} events/s"))
            # 4. latency at fixed rates (one below capacity, one at the target rate)
            for k, each in enumerate(rates):
                n = int(each * seconds)
                run = f"rate{k}"
                first = (3 + k) * 10**6 + 10**5
                await loop.run_in_executor(None, lambda n=n, run=run, each=each, first=first: blast(
                    url, run, first, n, rate=each))
                await _wait_written(runtime, run, n, 600)
                s = _store_stats(runtime, run)
                rows.append((f"latency at {each:g}/s for {seconds:g} s, ERP twin (received -> written)",
                             f"p50 {s['p50']:.0f} ms  p95 {s['p95']:.0f} ms  p99 {s['p99']:.0f} ms"))
            rss_short = _rss_mb()
            # 5. a long run (null target) to see whether memory grows with events
            runtime.clients["erp"] = NullClient()
            long_n = events * long_factor
            await loop.run_in_executor(None, lambda: blast(url, "long", 9 * 10**6, long_n))
            await _wait_written(runtime, "long", long_n, 1200)
            rows.append(("peak memory (max RSS) after the short runs / after "
                         f"{long_n:,} more events", f"{rss_short:.0f} MB / {_rss_mb():.0f} MB"))
            stop.set()
            await task
        finally:
            await runtime.close()
            twin.kill()
    return rows


# --- PostgreSQL: N worker processes ---------------------------------------------------------------------


def _twin(options: dict[str, Any]) -> tuple[Any, str, str]:
    ctx = mp.get_context("spawn")
    port_out = ctx.Queue()
    proc = ctx.Process(target=_erp_twin_process, args=(port_out, options), daemon=True)
    proc.start()
    url, key = port_out.get(timeout=30)
    return proc, url, key


async def _sample_twin(erp_url: str, samples: list[int], stop: asyncio.Event) -> None:
    """Read the paced twin's requests in flight every 10 ms (the share of its concurrency budget in use)."""
    import httpx

    base = erp_url.split("/api/")[0]
    async with httpx.AsyncClient() as client:
        while not stop.is_set():
            state = (await client.get(f"{base}/_twin/state")).json()
            samples.append(state["concurrency"]["in_flight"])
            await asyncio.sleep(0.01)


async def _twin_rejected(erp_url: str) -> int:
    import httpx

    async with httpx.AsyncClient() as client:
        return (await client.get(f"{erp_url.split('/api/')[0]}/_twin/state")).json()["concurrency"]["rejected"]


async def _pg_run(pg_url: str, erp_url: str, erp_key: str, workers: int, events: int, run: str,
                  paced: bool) -> dict[str, Any]:
    """One `doohickey run --workers N` on a scratch schema: blast ``events`` webhooks, wait, measure."""
    from doohickey.connectors.spec import ConnectionSettings, Secret
    from doohickey.engine.demo import EXAMPLE
    from doohickey.engine.runtime import Runtime, RuntimeOptions
    from doohickey.engine.store import workers as workers_table
    from doohickey.engine.workers import scratch_schema
    from doohickey.plan.load import load_plan

    plan = load_plan(EXAMPLE)
    plan = plan.model_copy(update={"flows": {"customers-to-erp": plan.flows["customers-to-erp"]}}, deep=True)
    settings = {"shop": ConnectionSettings("shop", "http://127.0.0.1:9", {"token": Secret("x"),
                                                                          "webhook_secret": Secret(SECRET)}),
                "erp": ConnectionSettings("erp", erp_url, {"api_key": Secret(erp_key)})}
    with scratch_schema(pg_url, "doohickey_bench") as url:
        options = RuntimeOptions(env="production", store_url=url, listen="127.0.0.1:0", settings=settings,
                                 start_scheduler=False, workers=workers)
        runtime = await Runtime(plan, options).start()
        stop, sampling = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(runtime.run(stop))
        try:
            while True:  # every worker registered, so each paces at its share from the first request
                with runtime.store.begin() as conn:
                    if conn.execute(select(func.count()).select_from(workers_table)).scalar_one() >= workers:
                        break
                await asyncio.sleep(0.2)
            await asyncio.sleep(2.5)  # one upkeep round: every worker has re-divided the budgets
            rejected_before = await _twin_rejected(erp_url) if paced else 0
            samples: list[int] = []
            sampler = asyncio.create_task(_sample_twin(erp_url, samples, sampling)) if paced else None
            loop = asyncio.get_running_loop()
            url_in = f"{runtime.url}/webhooks/shop"
            await loop.run_in_executor(None, lambda: blast(url_in, run, 0, events))
            await _wait_written(runtime, run, events, 900)
            sampling.set()
            if sampler:
                await sampler
            s = _store_stats(runtime, run)
            s["in_flight"] = statistics.fmean(samples[len(samples) // 10:-max(1, len(samples) // 10)] or [0])
            s["rejected"] = (await _twin_rejected(erp_url) - rejected_before) if paced else 0
            return s
        finally:
            stop.set()
            await asyncio.gather(task, return_exceptions=True)
            await runtime.close()


async def bench_postgresql(pg_url: str, events: int, counts: list[int]) -> list[tuple[str, str]]:
    """PostgreSQL rows: throughput and p99 with N worker processes; the share of a paced API's budget they use."""
    rows: list[tuple[str, str]] = []
    fast, fast_url, fast_key = _twin({"concurrency_limit": None})
    limit, service = 5, 0.02
    paced, paced_url, paced_key = _twin({"concurrency_limit": limit, "service_seconds": service})
    try:
        for n in counts:
            s = await _pg_run(pg_url, fast_url, fast_key, n, events, f"pg{n}", paced=False)
            rows.append((f"PostgreSQL, {n} worker process{'es' if n > 1 else ''}, ERP twin (find + create)",
                         f"{s['written'] / s['span']:.0f} events/s  p50 {s['p50']:.0f} ms  p99 {s['p99']:.0f} ms"))
        for n in counts:
            s = await _pg_run(pg_url, paced_url, paced_key, n, events // 3, f"paced{n}", paced=True)
            rows.append((f"PostgreSQL, {n} worker process{'es' if n > 1 else ''}, paced ERP twin "
                         f"({limit} in flight, {service * 1000:.0f} ms each)",
                         f"{s['written'] / s['span']:.0f} events/s  budget used {s['in_flight'] / limit:.0%}  "
                         f"429s {s['rejected']}"))
    finally:
        fast.kill()
        paced.kill()
    return rows


def main() -> None:
    """Parse the options, run the rows, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rates", default="50,200", help="fixed rates for the latency rows (events/s)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--long-factor", type=int, default=5)
    parser.add_argument("--postgresql", metavar="URL",
                        help="also run the PostgreSQL rows (N worker processes) on this database, in scratch schemas")
    parser.add_argument("--workers", default="1,2,4", help="worker process counts for the PostgreSQL rows")
    parser.add_argument("--only-postgresql", action="store_true", help="skip the SQLite rows")
    parser.add_argument("--no-group-commit", action="store_true",
                        help="one transaction (one fsync) per finished Event instead of shared ones")
    args = parser.parse_args()
    began = time.monotonic()
    rates = [float(r) for r in args.rates.split(",")]
    rows = [] if args.only_postgresql else asyncio.run(bench(args.events, rates, args.seconds, args.long_factor,
                                                             not args.no_group_commit))
    if args.postgresql:
        rows += asyncio.run(bench_postgresql(args.postgresql, args.events,
                                             [int(n) for n in args.workers.split(",")]))
    width = max(len(r) for r, _ in rows)
    if args.only_postgresql:
        print(f"doohickey engine benchmark, PostgreSQL rows ({args.events} events per row; Python "
              f"{sys.version.split()[0]})")
    else:
        print(f"doohickey engine benchmark (SQLite WAL, synchronous=FULL, group commit "
              f"{'off' if args.no_group_commit else 'on'}; {args.events} events per row; Python "
              f"{sys.version.split()[0]})")
    for row, result in rows:
        print(f"{row:<{width}}  {result}")
    print(f"total {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
