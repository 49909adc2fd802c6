"""The `doohickey` command: a thin Typer layer over the Python API.

Each command group lives in its own module and registers itself on the root app,
so the groups stay small and independent.
"""

from __future__ import annotations

import typer

from doohickey.cli import discover, engine, mapping, plan, reconcile, sandbox, testcases

app = typer.Typer(
    name="doohickey",
    help="Plan, check, run, test and reconcile eCommerce integrations from one integration.yaml.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def root() -> None:
    """Plan, check, run, test and reconcile eCommerce integrations from one integration.yaml."""


@app.command()
def version() -> None:
    """Print the doohickey version."""
    from doohickey import __version__

    typer.echo(__version__)


for group in (plan, sandbox, discover, mapping, engine, reconcile, testcases):
    group.register(app)


def main() -> None:
    """Entry point of the `doohickey` console script."""
    app()
