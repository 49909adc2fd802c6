"""CLI commands of the plan group: ``doohickey plan check | report | schema | init``.

A thin layer: each command calls the Python API in ``doohickey.plan`` and
prints; exit codes are the check's (0 ready, 1 discovery-level, 2 errors).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

plan_app = typer.Typer(help="Write, check and report the integration plan (integration.yaml).",
                       no_args_is_help=True)

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


@plan_app.command("check")
def check(
    plan: Path = typer.Argument(..., help="The plan file (integration.yaml)."),
    as_json: bool = typer.Option(False, "--json", help="Print a stable JSON document (findings, verdict)."),
) -> None:
    """Find the plan's risks and say whether it is ready to build (exit 0), discovery-level (1) or broken (2)."""
    from doohickey.plan.check import check_plan

    result = check_plan(plan)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        raise typer.Exit(result.exit_code)
    console = Console(highlight=False, soft_wrap=True)
    if result.plan is None:
        console.print(f"[bold red]{escape(str(plan))} cannot be loaded:[/]")
        for problem in result.problems:
            console.print(f"  {escape(str(problem))}")
        console.print("\n[bold red]verdict: errors[/] (exit 2)")
        raise typer.Exit(2)
    for finding in result.findings:
        style = _STYLE[str(finding.severity)]
        console.print(f"[{style}]{finding.severity}[/] [bold]{escape(finding.id)}[/] {escape(finding.title)}")
        console.print(f"    where: {escape(finding.where)}")
        console.print(f"    why:   {escape(finding.why)}")
        console.print(f"    fix:   {escape(finding.fix)}\n")
    _verdict(console, result)
    raise typer.Exit(result.exit_code)


def _verdict(console: Console, result: object) -> None:
    from doohickey.plan.check import CheckResult, Verdict

    assert isinstance(result, CheckResult)
    if result.verdict is Verdict.READY:
        infos = len(result.findings)
        console.print("[bold green]verdict: ready to build[/]" + (f" ({infos} note(s))" if infos else ""))
    elif result.verdict is Verdict.DISCOVERY:
        decisions = result.open_decisions
        console.print(f"[bold yellow]verdict: discovery-level[/]: {len(decisions)} open decision(s)")
        for finding in decisions:
            console.print(f"  - {escape(finding.title)} [dim]({escape(finding.where)})[/]")
    else:
        errors = [f for f in result.findings if str(f.severity) == "error"]
        console.print(f"[bold red]verdict: errors[/]: {len(errors)} error(s) must be fixed before anything runs")


@plan_app.command("schema")
def schema(out: Path | None = typer.Option(None, "--out", help="Write the schema to this file.")) -> None:
    """Print the JSON Schema of integration.yaml (for editor autocomplete)."""
    from doohickey.plan.schema import plan_schema

    text = json.dumps(plan_schema(), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}")


@plan_app.command("init")
def init(
    directory: Path = typer.Argument(..., help="Folder to create the plan in."),
    template: str = typer.Option("shopify-erp-wms", "--template", "-t", help="Template to start from."),
) -> None:
    """Scaffold a commented integration.yaml (and its maps) from a template; never overwrites."""
    from doohickey.plan.templates import TEMPLATES, TemplateError, scaffold

    try:
        written = scaffold(template, directory)
    except TemplateError as exc:
        typer.echo(f"error: {exc}", err=True)
        typer.echo(f"templates: {', '.join(sorted(TEMPLATES))}", err=True)
        raise typer.Exit(2) from None
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(f"next: doohickey plan check {directory / 'integration.yaml'}")


@plan_app.command("report")
def report(
    plan: Path = typer.Argument(..., help="The plan file (integration.yaml)."),
    out: Path = typer.Option(Path("plan-report"), "--out", help="Folder for report.html and report.md."),
) -> None:
    """Write the stakeholder report: system map, entity table, rules, owners, SLAs, tests, risks."""
    from doohickey.plan.check import check_plan
    from doohickey.plan.report import write_report

    result = check_plan(plan)
    if result.plan is None:
        for problem in result.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2)
    html, markdown = write_report(result, out)
    typer.echo(f"wrote {html}\nwrote {markdown}\nverdict: {result.verdict}")


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.add_typer(plan_app, name="plan")
