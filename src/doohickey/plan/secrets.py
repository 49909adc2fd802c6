"""Resolving a plan's secret references and building a System's ConnectionSettings.

A plan never holds a secret value, only a :class:`~doohickey.plan.model.SecretRef`
(``{env: NAME}`` or ``{file: path}``). This module reads the value at the last
moment into a :class:`~doohickey.connectors.spec.Secret`, which never prints
itself. A missing variable or file raises :class:`~doohickey.errors.SecretError`
that names the reference and the setting, never a value.

``environ`` is injectable so callers (and tests) decide where variables come from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from doohickey.connectors.spec import ConnectionSettings, Secret
from doohickey.errors import SecretError
from doohickey.plan.model import Plan, SecretRef

ENVIRONMENTS = ("sandbox", "production")


def resolve_secret(ref: SecretRef, *, base: Path | None = None, environ: Mapping[str, str] | None = None,
                   name: str = "secret") -> Secret:
    """Read the value a reference points at.

    ``file`` paths are relative to ``base`` (the plan's folder); surrounding
    whitespace and a trailing newline are stripped. ``name`` says which setting
    the secret is for, in messages.
    """
    environ = os.environ if environ is None else environ
    if ref.env is not None:
        value = environ.get(ref.env)
        if value is None or value.strip() == "":
            raise SecretError(f"{name}: environment variable {ref.env} is not set",
                              detail=f"export {ref.env}=... before running, or point {name} at a file: {{file: path}}")
        return Secret(value.strip())
    path = Path(ref.file or "")
    if not path.is_absolute() and base is not None:
        path = base / path
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise SecretError(f"{name}: secret file {ref.file} does not exist (looked at {path})") from None
    except OSError as exc:
        raise SecretError(f"{name}: secret file {ref.file} cannot be read: {exc.strerror}") from None
    if not value:
        raise SecretError(f"{name}: secret file {ref.file} is empty")
    return Secret(value)


def connection_settings(plan: Plan, system_name: str, env: str = "sandbox", *,
                        environ: Mapping[str, str] | None = None, resolve: bool = True) -> ConnectionSettings:
    """The :class:`ConnectionSettings` of one System in one environment (``sandbox`` or ``production``).

    ``url`` is the Connection's ``url`` (empty for a twin the engine starts
    itself); ``options`` holds every plain setting, plus ``twin``, ``seed``,
    ``faults`` and the system's ``profile`` (relative to the plan) when set;
    ``secrets`` holds every reference resolved. With ``resolve=False`` secrets
    are left out (for showing settings without reading them).
    Raises :class:`SecretError` naming the system, the setting and the reference.
    """
    if env not in ENVIRONMENTS:
        raise SecretError(f"unknown environment {env!r}; use one of: {', '.join(ENVIRONMENTS)}")
    system = plan.systems.get(system_name)
    if system is None:
        raise SecretError(f"system {system_name!r} is not defined in the plan; defined: {', '.join(plan.systems)}")
    connection = system.connection(env)
    if connection is None:
        raise SecretError(f"system {system_name!r} has no {env} connection in the plan",
                          detail=f"add systems.{system_name}.{env}: with url and secret references")
    base = plan.path.parent if plan.path is not None else None
    options: dict[str, Any] = {k: v for k, v in (("twin", connection.twin), ("seed", connection.seed),
                                                 ("faults", connection.faults)) if v is not None}
    if system.profile:  # the openapi connector reads its discovery profile from options["profile"]
        profile = Path(system.profile)
        options["profile"] = str(profile if profile.is_absolute() or base is None else base / profile)
    options.update(connection.settings())
    secrets: dict[str, Secret] = {}
    if resolve:
        for key, ref in connection.secrets().items():
            secrets[key] = resolve_secret(ref, base=base, environ=environ,
                                          name=f"systems.{system_name}.{env}.{key}")
    return ConnectionSettings(system=system_name, url=connection.url or "", secrets=secrets, options=options)
