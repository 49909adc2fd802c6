"""``doohickey test PLAN``: run the plan's named test cases against sandbox twins and judge each use case.

Exit codes: 0 every test case passed; 1 a test case failed; 2 the plan or a test case name is
wrong (the message says where, and suggests the nearest scenario name).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

ENVS = ("sandbox",)


def test_command(
    plan: Path = typer.Argument(..., help="The integration.yaml."),
    scenario: list[str] = typer.Option([], "--scenario", "-s", help="Run only this test case or library scenario "
                                                                    "(repeat for several)."),
    env: str = typer.Option("sandbox", "--env", help="Environment: sandbox (the plan's twins, and the real test "
                                                      "systems its sandbox connections point to)."),
    junit: Path | None = typer.Option(None, "--junit", help="Write JUnit XML here (for CI)."),
    html: Path | None = typer.Option(None, "--html", help="Write the HTML report here."),
    time_scale: float | None = typer.Option(None, "--time-scale", help="Compress plan time by this factor "
                                                                       "(default 0.02: 15 minutes = 18 s)."),
) -> None:
    """Run the plan's named test cases (happy-path, refund, black-friday ...) and report per business use case."""
    from rich.console import Console

    from doohickey.errors import DoohickeyError
    from doohickey.plan import load_plan
    from doohickey.testing.runner import run_tests, select_cases

    console = Console(highlight=False, soft_wrap=True)
    if env not in ENVS:
        console.print(f"[red]error:[/red] --env {env}: test cases place and cancel orders, so they run only "
                      f"against the sandbox (twins, or test systems the plan's sandbox connections point to)")
        raise typer.Exit(2)
    try:
        loaded = load_plan(plan)
        cases = select_cases(loaded, scenario or None)
    except DoohickeyError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from None

    def progress(case, result) -> None:
        if result is None:
            console.print(f"[bold]▶ {case.name}[/bold] [dim]({case.scenario or case.name})[/dim] ...")
            return
        colour = {"passed": "green", "failed": "red", "skipped": "yellow"}[result.status]
        mark = {"passed": "✔", "failed": "✘", "skipped": "–"}[result.status]
        console.print(f"  [{colour}]{mark} {result.status}[/{colour}] [dim]{len(result.checks)} checks, "
                      f"{result.seconds:.1f} s[/dim]")
        for line in result.failures[:8]:
            console.print(f"    [red]{line}[/red]", soft_wrap=True)
        if result.skipped:
            console.print(f"    [yellow]{result.skipped}[/yellow]")
        bf = result.metrics.get("black_friday")
        if bf:
            console.print(f"    {bf['orders_placed']} orders placed in {bf['placed_in_s']:.1f} s "
                          f"({bf['placed_per_minute']:g}/min; profile {bf['offered_per_minute']:g}/min); achieved "
                          f"{bf['achieved_per_minute']}/min; lag p50 {_s(bf['lag_p50_s'])} p95 {_s(bf['lag_p95_s'])}"
                          f" p99 {_s(bf['lag_p99_s'])}; lost {bf['lost']}, doubled {bf['doubled']}")

    with console.status("running test cases on the sandbox twins ..."):
        run = asyncio.run(run_tests(loaded, cases, env=env, time_scale=time_scale, progress=progress))
    _verdicts(console, run)
    from doohickey.testing.report import write_reports

    for path in write_reports(run, junit=junit, html_path=html):
        console.print(f"report: {path}")
    raise typer.Exit(0 if run.passed else 1)


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} s"


def _verdicts(console, run) -> None:
    from rich.table import Table

    table = Table(title=f"{run.plan}: business use cases", title_justify="left")
    for column in ("Use case", "Verdict", "Test cases", "Lag p50 / p95 against the promise"):
        table.add_column(column)
    for verdict in run.verdicts():
        colour = {"passed": "green", "failed": "red", "skipped": "yellow"}[verdict.status]
        lags = "\n".join(f"{lag['flow']}: {_s(lag['p50_s'])} / {_s(lag['p95_s'])}"
                         + (f" vs {lag['promise']} = {_s(lag['within_s'])} "
                            f"({'met' if lag.get('met') else 'NOT met'})" if lag.get("promise") else "")
                         for lag in verdict.lags) or "–"
        table.add_row(verdict.use_case, f"[{colour}]{verdict.status}[/{colour}]", ", ".join(verdict.cases), lags)
    console.print(table)
    passed = sum(1 for r in run.results if r.status == "passed")
    console.print(f"{passed} of {len(run.results)} test case(s) passed in {run.seconds:.1f} s")


def register(app: typer.Typer) -> None:
    """Add ``doohickey test`` to the root app."""
    app.command("test")(test_command)
