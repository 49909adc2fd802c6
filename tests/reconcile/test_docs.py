"""Every option of the reconcile and match commands is documented in docs/reconcile.md."""

from __future__ import annotations

from pathlib import Path

import click
import typer

from doohickey.cli import app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reconcile.md"


def test_every_option_of_the_commands_is_in_the_docs() -> None:
    text = DOCS.read_text()
    root = typer.main.get_command(app)
    ctx = click.Context(root)
    commands = [root.get_command(ctx, "reconcile"), root.get_command(ctx, "match").get_command(ctx, "customers")]
    options = {opt for cmd in commands for p in cmd.params for opt in p.opts if opt.startswith("--")}
    assert options >= {"--repair", "--report", "--against"}
    assert sorted(o for o in options if o not in text) == []
