"""CLI commands of the sandbox group: ``doohickey sandbox serve SYSTEM`` and ``doohickey sandbox list``.

``serve`` starts one twin in the foreground on ``--host`` (127.0.0.1) and
``--port``, with generated sample data (``--seed`` chooses it; ``--no-data``
starts empty) and the faults of ``--faults FILE``, then prints the URL, the
credentials to use and where the docs are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from doohickey.errors import DoohickeyError

DEFAULT_PORTS = {"shopify": 8701, "erp": 8702, "wms": 8703}

sandbox = typer.Typer(help="Run sandbox twins of commerce systems, with injectable faults.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.add_typer(sandbox, name="sandbox")


@sandbox.command("list")
def list_twins() -> None:
    """List the twins that `sandbox serve` can start."""
    from doohickey.twins import TWINS

    for name in sorted(TWINS):
        typer.echo(f"{name:10} default port {DEFAULT_PORTS.get(name, 0)}")


@sandbox.command("serve")
def serve(
    system: str = typer.Argument(..., help="Which twin: shopify, erp, wms."),
    port: int = typer.Option(None, "--port", help="Port to listen on (default: 8701 shopify, 8702 erp, 8703 wms; "
                                                   "0 picks a free one)."),
    seed: int = typer.Option(None, "--seed", help="Seed for the sample data and the fault dice (default: the "
                                                  "faults file's seed, else 0)."),
    faults: Path = typer.Option(None, "--faults", help="YAML faults file (faults: [...], optional seed:)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (keep it on loopback)."),
    data: bool = typer.Option(True, "--data/--no-data", help="Load generated sample data at start."),
) -> None:
    """Serve one twin in the foreground until Ctrl-C."""
    from doohickey.twins import TWINS, create_twin
    from doohickey.twins.faults import load_fault_file

    if system not in TWINS:
        raise typer.BadParameter(f"unknown twin {system!r}; choose one of: {', '.join(sorted(TWINS))}",
                                 param_hint="SYSTEM")
    fault_list: list[Any] = []
    if faults is not None:
        try:
            loaded = load_fault_file(faults)
        except DoohickeyError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(2) from None
        fault_list = loaded.faults
        seed = seed if seed is not None else loaded.seed
    seed = seed or 0
    options: dict[str, Any] = {"data": True} if data else {}
    twin = create_twin(system, seed=seed, faults=fault_list, **options)
    _run(twin, host, DEFAULT_PORTS.get(system, 0) if port is None else port, faults)


def _run(twin: Any, host: str, port: int, faults: Path | None) -> None:
    import contextlib

    import uvicorn

    from doohickey.twins.server import listening_socket

    sock = listening_socket()
    try:
        sock.bind((host, port))
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}:{port} ({exc.strerror}); try --port 0 for a free port", err=True)
        raise typer.Exit(2) from None
    url = f"http://{host}:{sock.getsockname()[1]}"
    typer.echo(f"{twin.name} twin listening on {url}")
    for key, value in twin.info.items():
        shown = f"{url}{value}" if isinstance(value, str) and value.startswith("/") else value
        typer.echo(f"  {key}: {shown}")
    typer.echo(f"  faults: {len(twin.faults.faults)} loaded" + (f" from {faults}" if faults else "")
               + f"; set at run time via {url}/_twin/faults, applied ones at {url}/_twin/log")
    if twin.name == "shopify":
        typer.echo(f"  browse: {url}/ and {url}/_twin/   docs: docs/sandbox.md")
    else:
        typer.echo(f"  docs: docs/sandbox.md and docs/twins/{twin.name}.md")
    config = uvicorn.Config(twin.app, log_level="warning", access_log=False, lifespan="auto")
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
