"""CLI commands of the reconcile group: ``doohickey reconcile`` and ``doohickey match customers``.

Both are thin: they load the plan, connect the Systems it names (secrets by reference) and
call :func:`doohickey.reconcile.reconciler.reconcile` or :mod:`doohickey.reconcile.matching`.
Runs are recorded in the engine's store (the plan's ``runtime.store``, else ``.doohickey/state.sqlite``;
``--store`` to change), so the HTML report can chart drift over past runs.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from doohickey.errors import DoohickeyError

ENV_HELP = "Which connections of the plan to use: sandbox or production."


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _load(plan_path: Path) -> Any:
    from doohickey.plan import load_plan

    return load_plan(plan_path)


async def _connect(plan: Any, system: str, env: str, stack: AsyncExitStack) -> tuple[Any, Any]:
    """A Client on one System of the plan, and its connector declaration."""
    from doohickey.connectors import load
    from doohickey.connectors.spec import ConnectOptions
    from doohickey.plan.secrets import connection_settings

    settings = connection_settings(plan, system, env)
    if not settings.url:
        raise DoohickeyError(f"system {system!r} has no url for {env}: start its twin with `doohickey sandbox` "
                             f"and give systems.{system}.{env}.url, or use --env production")
    connector = load(plan.systems[system].connector)
    client = connector.connect(settings, ConnectOptions())
    stack.push_async_callback(client.aclose)
    return client, connector


def _entries(plan: Any, wanted: str | None) -> list[str]:
    if wanted is None:
        return list(plan.reconcile)
    names = [n for n in plan.reconcile if wanted in (n, plan.reconcile_entity(n))]
    if not names:
        known = ", ".join(f"{n} ({plan.reconcile_entity(n)})" for n in plan.reconcile) or "none"
        raise DoohickeyError(f"the plan reconciles no {wanted!r}; it reconciles: {known}")
    return names


async def reconcile_plan(plan: Any, names: list[str], *, env: str, repair: bool, history: Any) -> list[Any]:
    """Run the plan's reconcile entries ``names``; repair from the owner only when ``repair`` is set."""
    from doohickey.reconcile.reconciler import ClientRepair, Source, owner_projection, reconcile, spec_from_plan

    runs = []
    async with AsyncExitStack() as stack:
        for name in names:
            spec = spec_from_plan(plan, name)
            owner_client, _ = await _connect(plan, spec.owner, env, stack)
            other_client, other_connector = await _connect(plan, spec.other, env, stack)
            entity = other_connector.entities.get(spec.entity)
            fixer = ClientRepair(other_client, entity.actions if entity else ())
            # At the command line only --repair writes; the plan's `repair: push-owner` governs scheduled runs.
            spec = replace(spec, repair=repair)
            owner = Source(spec.owner, owner_client, project=owner_projection(plan, spec))
            runs.append(await reconcile(spec, owner, Source(spec.other, other_client), repair=fixer,
                                        history=history))
    return runs


def reconcile_command(
    plan: Path = typer.Argument(..., help="The integration.yaml."),
    entity: str | None = typer.Argument(None, help="A reconcile entry or entity (default: every entry)."),
    repair: bool = typer.Option(False, "--repair", help="Push the owner's values for owned fields, then re-check."),
    report: Path | None = typer.Option(None, "--report", help="Write a report: .html, .csv or .json."),
    env: str = typer.Option("sandbox", "--env", help=ENV_HELP),
    store_url: str | None = typer.Option(None, "--store", help="The engine's store, where runs are kept "
                                         "(default: the plan's runtime.store, else .doohickey/state.sqlite)."),
) -> None:
    """Compare an entity across two Systems and report missing, orphan, mismatch and duplicate records."""
    from doohickey.engine.store import Store, metadata
    from doohickey.reconcile.history import History
    from doohickey.reconcile.report import write_report

    try:
        loaded = _load(plan)
        names = _entries(loaded, entity)
        history = History(Store.open(store_url or loaded.runtime.store).engine, metadata)
        runs = asyncio.run(reconcile_plan(loaded, names, env=env, repair=repair, history=history))
    except DoohickeyError as exc:
        _fail(exc.message + (f" ({exc.detail})" if exc.detail else ""))
        return
    for run in runs:
        colour = typer.colors.GREEN if run.status != "drift" else typer.colors.YELLOW
        typer.secho(run.summary(), fg=colour)
        for d in run.result.discrepancies[:10]:
            fields = "; ".join(f"{f.name}: {f.owner} -> {f.other}" for f in d.fields)
            typer.echo(f"  {d.kind:<9} {d.key}  {' '.join(d.other_ids)}  {fields}")
    if report is not None and runs:
        for run in runs:
            target = report if len(runs) == 1 else report.with_name(f"{report.stem}-{run.spec.name}{report.suffix}")
            try:
                write_report(run, target, history.recent(run.spec.name))
            except DoohickeyError as exc:
                _fail(exc.message)
            typer.echo(f"report: {target}")
    if any(run.status == "drift" for run in runs):
        raise typer.Exit(1)


async def _customers(client: Any, page_size: int = 250) -> list[Any]:
    from doohickey.reconcile.readers import client_pages

    rows = []
    async for page in client_pages(client, "customer", page_size=page_size):
        rows.extend(page)
    return rows


async def match_systems(plan: Any, system: str, against: str | None, *, env: str) -> list[Any]:
    """Suspected duplicate customers in ``system``, or customers of ``system`` that already exist in ``against``."""
    from doohickey.reconcile.matching import (
        CustomerIndex,
        find_duplicates,
        find_match,
        parse_rules,
        profile_of,
    )

    rules = parse_rules(plan.matching.get("customer") or ["email", "phone",
                                                           {"fuzzy": "name+address", "threshold": 0.92}])
    async with AsyncExitStack() as stack:
        client, _ = await _connect(plan, system, env, stack)
        mine = [profile_of(r, id=r["_id"], system=system, rules=rules) for r in await _customers(client)]
        if against is None:
            return find_duplicates(mine, rules)
        other, _ = await _connect(plan, against, env, stack)
        index = CustomerIndex(rules).add_all(
            profile_of(r, id=r["_id"], system=against, rules=rules) for r in await _customers(other))
    return [m for m in (find_match(p, index) for p in mine) if m is not None]


def match_customers(
    system: str = typer.Argument(..., help="The System whose customers are checked."),
    against: str | None = typer.Option(None, "--against", help="Match against this System's customers instead."),
    plan: Path = typer.Option(Path("integration.yaml"), "--plan", help="The plan (its matching.customer rules)."),
    env: str = typer.Option("sandbox", "--env", help=ENV_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the matches as JSON lines."),
) -> None:
    """Report suspected duplicate customers (each with its rule, score and reasons)."""
    try:
        loaded = _load(plan)
        matches = asyncio.run(match_systems(loaded, system, against, env=env))
    except DoohickeyError as exc:
        _fail(exc.message + (f" ({exc.detail})" if exc.detail else ""))
        return
    for m in matches:
        if as_json:
            typer.echo(json.dumps(m.to_dict()))
        else:
            typer.echo(f"{m.left} = {m.right}  [{m.rule} {m.score:.2f}]  " + "; ".join(m.reasons))
    where = f"{system} vs {against}" if against else system
    typer.echo(f"{len(matches)} suspected duplicate(s) in {where}", err=as_json)


def register(app: typer.Typer) -> None:
    """Add ``reconcile`` and ``match customers`` to the root app."""
    app.command("reconcile")(reconcile_command)
    match = typer.Typer(help="Customer matching: find customers that are the same person.", no_args_is_help=True)
    match.command("customers")(match_customers)
    app.add_typer(match, name="match")
