"""CLI commands of the engine: run, demo, sync, status, trace, deadletters, db upgrade.

Each command is a thin layer over :mod:`doohickey.engine`; the store defaults to the plan's
``runtime.store`` or ``.doohickey/state.sqlite`` beside where the command runs.
"""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from doohickey.errors import DoohickeyError


def _console(stderr: bool = False) -> Console:
    """A console sized to the terminal of this invocation (COLUMNS is read each time)."""
    return Console(stderr=stderr)


class _Lazy:
    def __init__(self, stderr: bool) -> None:
        self.stderr = stderr

    def __getattr__(self, name: str) -> Any:
        return getattr(_console(self.stderr), name)


console: Any = _Lazy(False)
err: Any = _Lazy(True)

WorkersOpt = Annotated[int, typer.Option("--workers", min=1, max=64,
                                          help="Worker processes in this run (more than 1 needs PostgreSQL).")]
PlanArg = Annotated[Path, typer.Argument(help="The integration.yaml to use.", exists=False)]
StoreOpt = Annotated[str | None, typer.Option("--store", help="Store URL: sqlite:///path or postgresql://...")]


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


def _plan(path: Path) -> Any:
    from doohickey.plan.load import load_plan

    if not path.exists():
        _fail(f"no plan at {path}")
    try:
        return load_plan(path)
    except DoohickeyError as exc:
        _fail(f"{path}: {exc.message}")


def _store(url: str | None, plan: Any = None) -> Any:
    from doohickey.engine.store import Store

    try:
        return Store.open(url or (plan.runtime.store if plan is not None else None))
    except Exception as exc:  # a bad URL or an unreachable database: say which, no traceback
        _fail(f"cannot open the store {url or '(default)'}: {type(exc).__name__}: {exc}")


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.command("run")(run)
    app.command("demo")(demo)
    app.command("sync")(sync)
    app.command("status")(status)
    app.command("trace")(trace)
    letters = typer.Typer(help="List, show, replay and discard dead letters.", no_args_is_help=True)
    letters.command("list")(deadletters_list)
    letters.command("show")(deadletters_show)
    letters.command("replay")(deadletters_replay)
    letters.command("discard")(deadletters_discard)
    app.add_typer(letters, name="deadletters")
    db = typer.Typer(help="The engine's database.", no_args_is_help=True)
    db.command("upgrade")(db_upgrade)
    app.add_typer(db, name="db")


def run(plan_path: PlanArg, env: Annotated[str, typer.Option("--env", help="sandbox or production")] = "sandbox",
        store: StoreOpt = None,
        listen: Annotated[str | None, typer.Option("--listen", help="host:port of the webhook server")] = None,
        workers: Annotated[int | None, typer.Option(
            "--workers", min=1, max=64, help="Worker processes in this run (default: the plan's runtime.workers; "
                                              "more than 1 needs PostgreSQL).")] = None) -> None:
    """Run the plan: webhook server on 127.0.0.1, pollers, workers and scheduler, until stopped (SIGTERM/Ctrl-C).

    With --env sandbox the plan's twins are started in-process. Stopping is graceful: Events in
    flight finish (or stay in the store and resume at the next start). With --workers N on a
    PostgreSQL store this process and N-1 engine-only worker processes share the work; several
    `doohickey run` on other machines may share the same database.
    """
    from doohickey.engine.runtime import Runtime, RuntimeOptions

    if env not in ("sandbox", "production"):
        _fail(f"--env must be sandbox or production, not {env!r}")
    plan = _plan(plan_path)
    workers = workers or plan.runtime.workers
    _check_workers(workers, store or plan.runtime.store)

    async def main() -> None:
        runtime = Runtime(plan, RuntimeOptions(env=env, store_url=store, listen=listen, workers=workers))
        try:
            await runtime.start()
        except DoohickeyError as exc:
            await runtime.close()
            _fail(exc.message)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runtime.request_stop)
        console.print(f"[green]running[/green] {plan.name} ({env}); webhooks at {runtime.url}/webhooks/<system>; "
                      f"store {runtime.store.engine.url if runtime.store else ''}"
                      + (f"; {workers} worker processes" if workers > 1 else ""))
        try:
            await runtime.run()
        except DoohickeyError as exc:
            err.print(f"[red]stopped:[/red] {exc}")
        finally:
            await runtime.close()
            console.print("stopped; unfinished work stays in the store and resumes at the next start")

    asyncio.run(main())


def demo(orders: Annotated[int, typer.Option("--orders", min=1, max=20000, help="Orders to place.")] = 200,
         faults: Annotated[str, typer.Option("--faults", help="default or none")] = "default",
         as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line of the numbers.")] = False,
         seed: Annotated[int, typer.Option("--seed", help="Data and fault seed.")] = 7,
         store: Annotated[str | None, typer.Option("--store", help="postgresql://... to run on PostgreSQL (in a "
                                                   "scratch schema, dropped after); default a temporary SQLite file")
                          ] = None,
         workers: WorkersOpt = 1) -> None:
    """Run the example integration on twins with trouble injected, and show that nothing is lost or doubled."""
    import warnings

    # The README's first command: keep library warnings (pydantic schema notes in a twin) off the screen.
    warnings.filterwarnings("ignore", module="pydantic")
    from doohickey.engine.demo import run_demo

    if faults not in ("default", "none"):
        _fail(f"--faults must be default or none, not {faults!r}")
    if store and not store.startswith("postgresql"):
        _fail(f"--store for the demo must be a postgresql://... URL (the default is a temporary SQLite file), "
              f"not {store!r}")
    _check_workers(workers, store)
    if not as_json:
        console.print(f"Starting the Shopify, ERP and WMS twins and the engine; placing {orders} orders "
                      f"({'with' if faults == 'default' else 'without'} faults) ...")
    try:
        result = asyncio.run(run_demo(orders, faults=faults, seed=seed, store_url=store, workers=workers))
    except Exception as exc:  # on PostgreSQL: the server unreachable, a missing database ... said plainly
        if not store:
            raise
        _fail(f"the demo could not use the store {store}: {type(exc).__name__}: {exc}")
    _print_demo(result, as_json)
    s = result.summary
    if s["duplicate_orders_in_erp"] or s["lost_orders"] or not s["settled"]:
        raise typer.Exit(1)


def _check_workers(workers: int, store: str | None) -> None:
    if workers > 1 and not (store or "").startswith("postgresql"):
        _fail(f"--workers {workers} needs a PostgreSQL store (--store postgresql://...): several processes "
              f"cannot share one SQLite file")


def _print_demo(result: Any, as_json: bool) -> None:
    s = result.summary
    table = Table(title="doohickey demo: Shopify -> ERP -> WMS", show_header=False)
    rows = [("orders placed in the shop", s["orders_created"]), ("orders in the ERP", s["orders_in_erp"]),
            ("duplicate orders in the ERP", s["duplicate_orders_in_erp"]), ("orders lost", s["lost_orders"]),
            ("dead letters (explained below)", s["dead_letters"]),
            ("stock levels differing shop vs ERP", s["stock_mismatches"]),
            ("lag shop -> ERP, median / 95th percentile", f"{s['p50_lag_s']} s / {s['p95_lag_s']} s"),
            ("events by outcome", ", ".join(f"{k} {v}" for k, v in sorted(s["events"].items()))),
            ("faults injected", ", ".join(f"{k} {v}" for k, v in sorted(result.faults_applied.items())) or "none"),
            ("duration", f"{s['duration_s']} s")]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    for letter in result.dead_letters:
        console.print(f"dead letter {letter.id} ({letter.flow}, owner {letter.owner or '-'}): {letter.reason}")
    if s["settled"] and not s["duplicate_orders_in_erp"] and not s["lost_orders"]:
        console.print("[green]Every order reached the ERP exactly once or was dead-lettered with its reason.[/green]")
    else:
        console.print("[red]Not every order settled: see the numbers above.[/red]")
    if as_json:
        typer.echo(json.dumps({k: v for k, v in s.items()}, default=str, separators=(",", ":")))


def sync(plan_path: PlanArg, flow: Annotated[str, typer.Argument(help="Flow to load.")],
         backfill: Annotated[bool, typer.Option("--backfill", help="Load existing records (required).")] = False,
         since: Annotated[str | None, typer.Option("--since", help="Only records changed since (YYYY-MM-DD).")] = None,
         env: Annotated[str, typer.Option("--env")] = "production", store: StoreOpt = None,
         wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Write them now, not only record them.")] = True
         ) -> None:
    """Load existing records of one flow (customers, products, open orders) with a progress bar; safe to run twice."""
    from rich.progress import Progress

    from doohickey.engine.runtime import Runtime, RuntimeOptions

    if not backfill:
        _fail("say --backfill to load existing records (doohickey sync PLAN FLOW --backfill [--since DATE])")
    plan = _plan(plan_path)
    if flow not in plan.flows:
        _fail(f"no flow {flow!r} in {plan_path}; flows: {', '.join(plan.flows)}")
    start = None
    if since:
        try:
            start = datetime.fromisoformat(since).replace(tzinfo=UTC)
        except ValueError:
            _fail(f"--since {since!r} is not a date (YYYY-MM-DD)")

    async def main() -> None:
        runtime = Runtime(plan, RuntimeOptions(env=env, store_url=store, listen="127.0.0.1:0",
                                               start_scheduler=False))
        try:
            await runtime.start()
        except DoohickeyError as exc:
            await runtime.close()
            _fail(exc.message)
        try:
            assert runtime.intake is not None and runtime.engine is not None
            with Progress(console=_console()) as bar:
                task = bar.add_task(f"reading {plan.flows[flow].source} {plan.flows[flow].entity}", total=None)
                result = await runtime.intake.poll(flow, runtime.clients[plan.flows[flow].source], since=start,
                                                   use_cursor=False, via="backfill",
                                                   progress=lambda n: bar.advance(task, n))
                console.print(f"read {result.records} records in {result.pages} pages; {result.new_events} new "
                              f"(the rest were already recorded)")
                if wait:
                    write = bar.add_task("writing", total=None)
                    await runtime.engine.drain(timeout=3600)
                    bar.update(write, completed=1, total=1)
            tally = runtime.engine.tally
            console.print(f"written {tally.written}, skipped {sum(tally.skipped.values())}, dead letters {tally.dead}, "
                          f"retries {tally.retried}")
        finally:
            await runtime.close()

    asyncio.run(main())


def status(plan_path: PlanArg, store: StoreOpt = None,
           as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Backlog, lag per flow against its SLA, retries pending and dead letters."""
    from doohickey.engine.status import flow_status

    plan = _plan(plan_path)
    rows = flow_status(plan, _store(store, plan), datetime.now(UTC))
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table(title=f"{plan.name}: flows")
    for col in ("flow", "state", "pending", "retrying", "done", "skipped", "dead letters", "oldest waiting",
                "lag p50/p95", "promise"):
        table.add_column(col)
    for r in rows:
        color = {"ok": "green", "at risk": "yellow", "breached": "red"}[r["state"]]
        table.add_row(r["flow"], f"[{color}]{r['state']}[/{color}]", str(r["pending"]), str(r["retrying"]),
                      str(r["done"]), str(r["skipped"]), str(r["dead_letters"]), f"{r['oldest_waiting_s']} s",
                      f"{r['p50_lag_s']}/{r['p95_lag_s']} s" if r["p50_lag_s"] is not None else "-",
                      f"{r['promise_s']:g} s" if r["promise_s"] else "-")
    console.print(table)


def trace(system: Annotated[str, typer.Argument(help="System name in the plan (shop, erp ...).")],
          entity: Annotated[str, typer.Argument(help="Entity (order, customer, stock ...).")],
          record_id: Annotated[str, typer.Argument(metavar="ID", help="The record's id in that System.")],
          store: StoreOpt = None) -> None:
    """The life of a record: how it was received, attempts, what was written where, and why anything was skipped."""
    from doohickey.engine import audit

    entries = audit.trace(_store(store), system, entity, record_id)
    if not entries:
        _fail(f"nothing recorded for {system} {entity} {record_id}")
    table = Table(title=f"{system} {entity} {record_id}")
    for col in ("time", "flow", "record", "what", "detail"):
        table.add_column(col)
    for e in entries:
        table.add_row(e.at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], e.flow or "-",
                      f"{e.system} {e.entity} {e.external_id}", e.action, e.detail)
    console.print(table)


def deadletters_list(store: StoreOpt = None, flow: Annotated[str | None, typer.Option("--flow")] = None,
                     all_: Annotated[bool, typer.Option("--all", help="Include replayed and discarded.")] = False,
                     ) -> None:
    """Open dead letters, newest first, with their reasons."""
    from doohickey.engine import deadletter

    letters = deadletter.list_open(_store(store), flow=flow, status=None if all_ else "open")
    if not letters:
        console.print("no dead letters")
        return
    table = Table(title="dead letters")
    for col in ("id", "flow", "record", "attempts", "owner", "status", "reason"):
        table.add_column(col)
    for d in letters:
        table.add_row(str(d.id), d.flow, f"{d.system} {d.entity} {d.external_id}", str(d.attempts), d.owner or "-",
                      d.status, d.reason)
    console.print(table)


def deadletters_show(letter_id: Annotated[int, typer.Argument(metavar="ID")], store: StoreOpt = None) -> None:
    """One dead letter: the reason, the attempts and the original record."""
    from doohickey.engine import deadletter

    s = _store(store)
    d = deadletter.get(s, letter_id)
    if d is None:
        _fail(f"no dead letter {letter_id}")
    console.print(f"[bold]dead letter {d.id}[/bold] ({d.status}) flow {d.flow}, owner {d.owner or '-'}")
    console.print(f"record: {d.system} {d.entity} {d.external_id} version {d.version or '-'}")
    console.print(f"reason: {d.reason}")
    if d.detail:
        console.print(f"detail: {d.detail}")
    for a in deadletter.attempts_of(s, d.event_id):
        console.print(f"  attempt {a['number']} at {a['started_at']:%Y-%m-%d %H:%M:%S}: {a['outcome']} "
                      f"{a['error_kind'] or ''} {a['message'] or ''}")
    console.print_json(json.dumps(d.record, default=str))


def deadletters_replay(letter_ids: Annotated[list[int], typer.Argument(metavar="ID...")],
                       store: StoreOpt = None) -> None:
    """Replay dead letters after fixing their cause; a running engine (or the next run) writes them once."""
    from doohickey.engine import deadletter

    s = _store(store)
    for letter_id in letter_ids:
        try:
            event_id = deadletter.replay(s, letter_id, datetime.now(UTC))
        except (KeyError, ValueError) as exc:
            _fail(str(exc.args[0]))
        console.print(f"dead letter {letter_id} replayed as event {event_id}")


def deadletters_discard(letter_ids: Annotated[list[int], typer.Argument(metavar="ID...")],
                        note: Annotated[str, typer.Option("--note", help="Why (kept with the dead letter).")] = "",
                        store: StoreOpt = None) -> None:
    """Close dead letters without replaying them (e.g. keyed in by hand), keeping a note of why."""
    from doohickey.engine import deadletter

    s = _store(store)
    for letter_id in letter_ids:
        try:
            deadletter.discard(s, letter_id, datetime.now(UTC), note)
        except KeyError as exc:
            _fail(str(exc.args[0]))
        console.print(f"dead letter {letter_id} discarded")


def db_upgrade(store: StoreOpt = None) -> None:
    """Create or upgrade the engine's tables to the latest schema version."""
    from doohickey.engine.store import LATEST, Store, default_url

    try:
        s = Store(store or default_url())
        applied = s.upgrade()
    except Exception as exc:  # unreachable database or bad URL: say so plainly
        _fail(f"cannot upgrade {store or '(default store)'}: {type(exc).__name__}: {exc}")
    console.print(f"schema at version {LATEST}" + (f" (applied {', '.join(map(str, applied))})" if applied
                                                   else " (already up to date)"))
