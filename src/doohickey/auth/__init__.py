"""Guided auth: explain what credentials a System needs, apply them to requests, and test them.

- :mod:`~doohickey.auth.guide`: ``auth setup`` (credentials, least-privilege scopes, plan snippet);
- :mod:`~doohickey.auth.credentials`: httpx Auth values (API key, basic, bearer, OAuth2 client
  credentials, OAuth2 refresh token with rotation) and :func:`build_auth`;
- :mod:`~doohickey.auth.tokens`: the 0600, atomically written, locked token store;
- :mod:`~doohickey.auth.probe`: ``auth test`` (one cheap call, failures explained).

:func:`resolve_secrets` turns a plan's secret references into :class:`Secret` values.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from doohickey.connectors.spec import Secret
from doohickey.errors import SecretError


def resolve_secrets(references: Mapping[str, Any], base: str | Path = ".") -> dict[str, Secret]:
    """Read each ``{env: NAME}`` / ``{file: path}`` reference (SecretRef objects or plain dicts).

    Delegates to :func:`doohickey.plan.secrets.resolve_secret`; raises SecretError naming the
    setting and where it looked, never a value.
    """
    from doohickey.plan.model import SecretRef
    from doohickey.plan.secrets import resolve_secret

    resolved: dict[str, Secret] = {}
    for name, ref in references.items():
        try:
            reference = ref if isinstance(ref, SecretRef) else SecretRef.model_validate(dict(ref))
        except (TypeError, ValueError):
            raise SecretError(f"setting {name!r} is not a secret reference ({{env: NAME}} or {{file: path}})") \
                from None
        resolved[name] = resolve_secret(reference, base=Path(base), name=name)
    return resolved
