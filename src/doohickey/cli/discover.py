"""CLI commands of the discover group: ``doohickey discover SPEC`` and ``doohickey auth setup|test SYSTEM``.

A thin layer: discovery, guides and probes live in ``doohickey.discover`` and
``doohickey.auth``. Bad input ends with a one-line message naming the file and place
(exit code 2), never a traceback.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from doohickey.errors import DoohickeyError

auth_app = typer.Typer(name="auth", help="Guided auth: what credentials a System needs, and a test call.",
                       no_args_is_help=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def discover_command(
    spec: Annotated[list[Path], typer.Argument(help="OpenAPI 3.x or Swagger 2 file(s), YAML or JSON; several "
                                                    "files of one System are merged.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the profile as JSON.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the profile (YAML, or JSON for .json).")] = None,
) -> None:
    """Read a System's API document and propose its entities, operations, auth, pagination and webhooks."""
    from doohickey.discover import discover_many
    from doohickey.discover.render import render

    try:
        profile = discover_many(list(spec))
    except DoohickeyError as exc:
        raise _fail(exc.message) from None
    if out is not None:
        profile.write(out)
    if as_json:
        typer.echo(profile.to_json())
    else:
        render(profile)
        if out is not None:
            typer.echo(f"profile written to {out}")


def _load_plan(plan: Path | None) -> Any:
    if plan is None:
        default = Path("integration.yaml")
        if not default.exists():
            return None
        plan = default
    from doohickey.plan import load_plan

    try:
        return load_plan(plan)
    except DoohickeyError as exc:
        raise _fail(exc.message) from None


def _system(plan: Any, name: str) -> Any:
    if plan is None:
        return None
    if name not in plan.systems:
        raise _fail(f"the plan has no system {name!r} (it has: {', '.join(sorted(plan.systems))})")
    return plan.systems[name]


def _profile_for(system: Any, plan: Any, profile: Path | None) -> Any:
    from doohickey.discover import load_profile

    path = profile
    if path is None and system is not None and getattr(system, "profile", None):
        base = plan.path.parent if plan is not None and plan.path else Path(".")
        path = base / system.profile
    if path is None:
        return _fetch_profile(system, plan)
    try:
        if path.suffix.lower() in (".yaml", ".yml", ".json"):
            try:
                return load_profile(path)
            except DoohickeyError:
                from doohickey.discover import discover

                return discover(path)  # an API document rather than a profile
        return load_profile(path)
    except DoohickeyError as exc:
        raise _fail(exc.message) from None


def _fetch_profile(system: Any, plan: Any) -> Any:
    """For an openapi System without a profile: discover its own ``/openapi.json`` (as the connector does)."""
    if system is None or system.connector != "openapi":
        return None
    connection = system.production or system.sandbox
    url = connection.url if connection is not None else None
    if not url:
        return None
    import httpx

    from doohickey.discover import discover_document

    spec_url = url.rstrip("/") + "/openapi.json"
    try:
        response = httpx.get(spec_url, timeout=10)
        response.raise_for_status()
        return discover_document(response.json(), spec_url)
    except (httpx.HTTPError, ValueError) as exc:
        raise _fail(f"the system has no profile and {spec_url} could not be read ({exc}); give --profile") \
            from None
    except DoohickeyError as exc:
        raise _fail(exc.message) from None


@auth_app.command("setup")
def setup(
    system: Annotated[str, typer.Argument(help="The System's name in the plan (or any name with --profile).")],
    plan: Annotated[Path | None, typer.Option("--plan", help="The plan (default ./integration.yaml).")] = None,
    profile: Annotated[Path | None, typer.Option("--profile", help="Discovery profile (or API document).")] = None,
    scheme: Annotated[str | None, typer.Option("--scheme", help="Auth scheme to use when several.")] = None,
    env: Annotated[str, typer.Option("--env", help="sandbox or production.")] = "production",
) -> None:
    """Explain what credentials SYSTEM needs, which scopes the plan's flows require, and where references go."""
    from doohickey.auth import guide as guides

    loaded = _load_plan(plan)
    sys_def = _system(loaded, system)
    prof = _profile_for(sys_def, loaded, profile)
    connection = sys_def.connection(env) if sys_def is not None else None
    url = (connection.url if connection is not None else None) or ""
    if prof is None and sys_def is not None and sys_def.connector != "openapi":
        from doohickey.connectors import load

        try:
            connector = load(sys_def.connector)
        except (KeyError, ImportError, AttributeError) as exc:
            raise _fail(f"cannot load connector {sys_def.connector!r}: {exc}") from None
        typer.echo(guides.render(guides.guide_from_connector(system, connector, env=env, url=url)))
        return
    if prof is None:
        raise _fail("give --profile (a discovery profile or the API document), or a --plan whose system has one")
    if loaded is not None:
        access = guides.plan_access(loaded, system)
    else:
        access = {name: {"read"} for name in prof.entities}
        typer.echo("(no plan: showing read scopes for every entity the API exposes)\n")
    try:
        guide = guides.guide_from_profile(system, prof, access, scheme_name=scheme, env=env, url=url)
    except KeyError as exc:
        raise _fail(str(exc.args[0])) from None
    typer.echo(guides.render(guide))


@auth_app.command("test")
def test(
    system: Annotated[str, typer.Argument(help="The System's name in the plan.")],
    plan: Annotated[Path | None, typer.Option("--plan", help="The plan (default ./integration.yaml).")] = None,
    profile: Annotated[Path | None, typer.Option("--profile", help="Discovery profile (or API document).")] = None,
    env: Annotated[str, typer.Option("--env", help="sandbox or production.")] = "production",
    url: Annotated[str | None, typer.Option("--url", help="Base URL (overrides the plan's).")] = None,
    secret: Annotated[list[str] | None, typer.Option(
        "--secret", help="setting=ENV_VAR: read a secret from this environment variable (repeatable).")] = None,
    scheme: Annotated[str | None, typer.Option("--scheme", help="Auth scheme to use when several.")] = None,
) -> None:
    """Make one cheap authenticated call to SYSTEM and explain a failure in words."""
    from doohickey.auth import resolve_secrets

    loaded = _load_plan(plan)
    sys_def = _system(loaded, system)
    connection = sys_def.connection(env) if sys_def is not None else None
    refs: dict[str, Any] = dict(connection.secrets()) if connection is not None else {}
    options: dict[str, Any] = dict(connection.settings()) if connection is not None else {}
    for item in secret or []:
        name, _, var = item.partition("=")
        if not var:
            raise _fail(f"--secret {item!r}: write setting=ENV_VAR")
        refs[name] = {"env": var}
    base_url = url or (connection.url if connection is not None else None) or ""
    base_dir = loaded.path.parent if loaded is not None and loaded.path else Path(os.getcwd())
    try:
        secrets = resolve_secrets(refs, base_dir)
    except DoohickeyError as exc:
        raise _fail(exc.message) from None
    prof = _profile_for(sys_def, loaded, profile)
    if prof is None and sys_def is not None and sys_def.connector != "openapi":
        result = asyncio.run(_check_connector(system, sys_def.connector, base_url, secrets, options))
    elif prof is None:
        raise _fail("give --profile (a discovery profile or the API document), or a --plan whose system has one")
    else:
        if scheme:
            options["auth_scheme"] = scheme
        result = asyncio.run(_probe_profile(prof, base_url, secrets, options))
    mark = "ok" if result.ok else "FAILED"
    typer.echo(f"{system}: {mark}: {result.message}")
    if result.hint:
        typer.echo(f"  what to do: {result.hint}")
    if not result.ok:
        raise typer.Exit(1)


async def _probe_profile(prof: Any, base_url: str, secrets: dict[str, Any], options: dict[str, Any]) -> Any:
    from doohickey.auth.credentials import build_auth
    from doohickey.auth.guide import choose_scheme
    from doohickey.auth.probe import ProbeResult, probe

    entity = next((e for e in prof.entities.values() if "list" in e.operations and not e.operations["list"]
                   .path_params), None)
    if entity is None:
        return ProbeResult(False, "the profile has no list operation without path parameters to test with")
    op = entity.operations["list"]
    base = base_url or (prof.servers[0].url if prof.servers else "")
    if not base.startswith(("http://", "https://")):
        return ProbeResult(False, f"no usable base URL ({base or 'none'}); give --url or the connection's url")
    auth = None
    try:
        chosen = choose_scheme(prof, options.get("auth_scheme"))
        if chosen is not None and secrets:
            auth = build_auth(chosen, secrets, options, base_url=base)
    except (DoohickeyError, KeyError) as exc:
        return ProbeResult(False, getattr(exc, "message", str(exc)), "check the plan's secret settings")
    params = {entity.pagination.size_param: "1"} if entity.pagination.size_param else None
    return await probe(base.rstrip("/") + op.path, auth, params=params)


async def _check_connector(system: str, name: str, url: str, secrets: dict[str, Any], options: dict[str, Any]) -> Any:
    from doohickey.auth.probe import ProbeResult
    from doohickey.connectors import load
    from doohickey.connectors.spec import ConnectionSettings, ConnectOptions

    connector = load(name)
    client = connector.connect(ConnectionSettings(system, url, secrets, options), ConnectOptions(timeout=10.0))
    try:
        await client.check()
    except DoohickeyError as exc:
        return ProbeResult(False, exc.message, "check the URL and the secrets the plan references")
    finally:
        await client.aclose()
    return ProbeResult(True, f"authenticated with {url}")


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.command("discover")(discover_command)
    app.add_typer(auth_app, name="auth")

