"""Guided auth: explain what credentials a System needs, apply them to requests, and test them.

- :mod:`~doohickey.auth.guide`: ``auth setup`` (credentials, least-privilege scopes, plan snippet);
- :mod:`~doohickey.auth.credentials`: httpx Auth values (API key, basic, bearer, OAuth2 client
  credentials, OAuth2 refresh token with rotation) and :func:`build_auth`;
- :mod:`~doohickey.auth.tokens`: the 0600, atomically written, locked token store;
- :mod:`~doohickey.auth.probe`: ``auth test`` (one cheap call, failures explained).

:func:`resolve_secrets` turns a plan's secret references into :class:`Secret` values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from doohickey.connectors.spec import Secret
from doohickey.errors import SecretError


def resolve_secrets(references: Mapping[str, Any], base: str | Path = ".") -> dict[str, Secret]:
    """Read each ``{env: NAME}`` / ``{file: path}`` reference (objects with ``env``/``file`` or dicts).

    Raises SecretError naming the setting and where it looked, never a value.
    """
    resolved: dict[str, Secret] = {}
    for name, ref in references.items():
        env = ref.get("env") if isinstance(ref, Mapping) else getattr(ref, "env", None)
        file = ref.get("file") if isinstance(ref, Mapping) else getattr(ref, "file", None)
        if env:
            value = os.environ.get(env)
            if value is None:
                raise SecretError(f"setting {name!r}: the environment variable {env} is not set")
        elif file:
            path = Path(base) / file
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SecretError(f"setting {name!r}: cannot read the file {path}: {exc.strerror}") from None
        else:
            raise SecretError(f"setting {name!r} is not a secret reference ({{env: NAME}} or {{file: path}})")
        if not value:
            raise SecretError(f"setting {name!r}: the secret is empty ({'$' + env if env else file})")
        resolved[name] = Secret(value)
    return resolved
