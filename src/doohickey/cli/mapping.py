"""CLI commands of the mapping group: ``doohickey map suggest`` and ``doohickey map values``.

Both are thin: they load the inputs, call :mod:`doohickey.mapping.suggest` or
:mod:`doohickey.mapping.values`, and print a table (or JSON), optionally writing a draft
FieldMap or status table for a person to review. Bad input exits with code 2 and one
line saying where and what.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from doohickey.errors import MappingError

map_app = typer.Typer(
    name="map",
    help="Propose field mappings and status value mappings between two systems (offline).",
    no_args_is_help=True,
)

_SOURCE_HELP = ("schema: a field-list JSON file, an OpenAPI component (spec.yaml#/components/schemas/Order) "
                "or a registered system.entity name")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _console() -> Console:
    # Piped output is read in files and logs: do not squeeze it into 80 columns.
    return Console(width=None if sys.stdout.isatty() else 160)


def _load(ref: str, schema_dirs: list[Path]) -> object:
    from doohickey.mapping.suggest import add_schema_folder, load_schema

    for folder in schema_dirs:
        add_schema_folder(folder)
    return load_schema(ref)


@map_app.command("suggest")
def suggest_command(
    source: str = typer.Argument(..., help=f"Source {_SOURCE_HELP}."),
    target: str = typer.Argument(..., help=f"Target {_SOURCE_HELP}."),
    as_json: bool = typer.Option(False, "--json", help="Print {threshold, matches} JSON (top 3 per source field)."),
    threshold: float = typer.Option(0.5, "--threshold", "-t", min=0.0, max=1.0,
                                    help="Accept 1:1 matches scoring at least this (0..1)."),
    write: Path | None = typer.Option(None, "--write", "-w", help="Write the accepted rows as a draft FieldMap YAML."),
    top: int = typer.Option(3, "--top", min=1, max=10, help="Candidates listed per source field."),
    schema_dir: list[Path] = typer.Option([], "--schema-dir", help="Folder of <system>.<entity>.json schemas "
                                          "that system.entity names resolve to (repeatable)."),
) -> None:
    """Propose, for every source field, ranked target fields with scores and reasons."""
    from doohickey.mapping.suggest import suggest, write_draft

    try:
        src = _load(source, schema_dir)
        dst = _load(target, schema_dir)
        result = suggest(src, dst, threshold=threshold, top=top)  # type: ignore[arg-type]
        written = write_draft(write, result) if write else None
    except MappingError as exc:
        raise _fail(exc.message) from None
    if as_json:
        typer.echo(json.dumps(result.to_json(top=top), indent=1))
        return
    console = _console()
    table = Table(title=f"{result.source.name} -> {result.target.name} (threshold {threshold})", show_lines=False)
    table.add_column("source field", overflow="fold")
    table.add_column("proposed target", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("why", overflow="fold")
    table.add_column("alternatives", overflow="fold", style="dim")
    for path, cands in result.candidates.items():
        chosen = result.accepted_for(path)
        best = chosen or (cands[0] if cands else None)
        if best is None:
            continue
        others = ", ".join(f"{c.target} {c.score:.2f}" for c in cands if c is not best)
        target_cell = best.target if chosen else f"[dim](none; best {best.target})[/dim]"
        style = "green" if chosen and best.score >= 0.8 else ("yellow" if chosen else "")
        table.add_row(path, target_cell, f"[{style}]{best.score:.2f}[/{style}]" if style else f"{best.score:.2f}",
                      "; ".join(best.reasons[:3]), others)
    console.print(table)
    console.print(f"{len(result.accepted)} of {len(result.candidates)} source fields mapped at threshold {threshold}.")
    if written is not None:
        console.print(f"Wrote {written} draft FieldMap rows to {write}: review them before use.")


@map_app.command("values")
def values_command(
    source_values: str = typer.Argument(..., help="Source values: a comma list (pending,paid,refunded) or "
                                        "schema.json#field.path (the field's enum)."),
    target_values: str = typer.Argument(..., help="Target values, in the same forms."),
    as_json: bool = typer.Option(False, "--json", help="Print {threshold, matches, unmapped} JSON."),
    threshold: float = typer.Option(0.5, "--threshold", "-t", min=0.0, max=1.0,
                                    help="Accept matches scoring at least this (0..1)."),
    write: Path | None = typer.Option(None, "--write", "-w", help="Write the status table YAML {source: target}."),
    schema_dir: list[Path] = typer.Option([], "--schema-dir", help="Folder of <system>.<entity>.json schemas "
                                          "that system.entity names resolve to (repeatable)."),
) -> None:
    """Match status values of one system to those of another (e.g. financial_status to invoice states)."""
    from doohickey.mapping.suggest import add_schema_folder
    from doohickey.mapping.values import match_values, parse_values, write_status_table

    for folder in schema_dir:
        add_schema_folder(folder)
    try:
        src, src_label = parse_values(source_values)
        dst, dst_label = parse_values(target_values)
        result = match_values(src, dst, threshold=threshold)
        if write:
            try:
                write_status_table(write, result, src_label, dst_label)
            except OSError as exc:
                raise MappingError(f"cannot write the status table to {write}: {exc}") from exc
    except MappingError as exc:
        raise _fail(exc.message) from None
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=1))
        return
    console = _console()
    table = Table(title=f"{src_label} -> {dst_label} (threshold {threshold})")
    table.add_column("source value")
    table.add_column("target value")
    table.add_column("score", justify="right")
    table.add_column("why", overflow="fold")
    accepted = result.table()
    for value, cands in result.candidates.items():
        best = cands[0] if cands else None
        if value in accepted and best is not None:
            table.add_row(value, best.target, f"{best.score:.2f}", "; ".join(best.reasons))
        else:
            hint = f"best {best.target} {best.score:.2f}" if best and best.score > 0 else "nothing close"
            table.add_row(value, "[dim](unmapped)[/dim]", "", hint)
    console.print(table)
    if write:
        console.print(f"Wrote the status table ({len(accepted)} values) to {write}: review it before use.")


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.add_typer(map_app, name="map")
