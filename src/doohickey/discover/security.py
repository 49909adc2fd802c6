"""Auth schemes: ``securitySchemes`` (OpenAPI 3) and ``securityDefinitions`` (Swagger 2), plus guesses.

Scopes come from OAuth2 flows and also from prose: many APIs (BigCommerce, for one)
list their scopes in a Markdown table in the scheme's description, with a
"read-only" / "modify" column; those become ``scope_hints``. When a document declares
no scheme at all, header parameters such as ``Authorization`` or ``X-Api-Key`` are
reported as a low-confidence guess.
"""

from __future__ import annotations

import re
from typing import Any

from doohickey.discover.loader import SpecSource
from doohickey.discover.profile import AuthScheme, Evidence, OAuthFlow, ScopeHint

_SWAGGER_FLOWS = {"application": "client_credentials", "accessCode": "authorization_code",
                  "password": "password", "implicit": "implicit"}
_OAS3_FLOWS = {"clientCredentials": "client_credentials", "authorizationCode": "authorization_code",
               "password": "password", "implicit": "implicit"}
_TABLE_ROW = re.compile(r"^\s*\|(.+)\|\s*$", re.M)
_BACKTICK = re.compile(r"`([A-Za-z0-9_.:/-]{3,80})`")
_AUTH_HEADERS = ("authorization", "x-api-key", "api-key", "apikey", "x-auth-token", "x-access-token", "token",
                 "x-shopify-access-token", "access_token", "api_key")


def auth_schemes(source: SpecSource, used: set[str] | frozenset[str] = frozenset()) -> list[AuthScheme]:
    """Every declared auth scheme, with where it goes and the scopes it offers.

    A scheme is ``required`` when the document's global ``security`` or any operation's (``used``) names it.
    """
    root = source.root
    if source.swagger:
        declared, where = root.get("securityDefinitions") or {}, "/securityDefinitions"
    else:
        declared, where = (root.get("components") or {}).get("securitySchemes") or {}, "/components/securitySchemes"
    required = _required_names(root.get("security")) | set(used)
    schemes: list[AuthScheme] = []
    for name, raw in (declared.items() if isinstance(declared, dict) else []):
        raw = source.resolve(raw, None, f"{where}/{name}")
        if isinstance(raw, dict):
            schemes.append(_scheme(str(name), raw, f"{where}/{name}", source.swagger, name in required))
    return schemes


def _required_names(security: Any) -> set[str]:
    names: set[str] = set()
    for requirement in security or []:
        if isinstance(requirement, dict):
            names.update(str(k) for k in requirement)
    return names


def _scheme(name: str, raw: dict[str, Any], where: str, swagger: bool, required: bool) -> AuthScheme:
    kind = str(raw.get("type", ""))
    description = str(raw.get("description") or "")
    scheme = AuthScheme(name=name, type=kind, required=required, description=_summary(description),
                        confidence=0.95, evidence=[Evidence(where=where, detail=f"type {kind}")])
    if kind == "apiKey":
        scheme.location = str(raw.get("in", "header"))
        scheme.param_name = str(raw.get("name", name))
    elif kind == "basic":  # Swagger 2 spelling
        scheme.type, scheme.scheme = "http", "basic"
    elif kind == "http":
        scheme.scheme = str(raw.get("scheme", "")).lower()
        scheme.bearer_format = str(raw.get("bearerFormat", ""))
    elif kind == "oauth2":
        scheme.flows = _flows(raw, swagger)
    elif kind == "openIdConnect":
        scheme.openid_url = str(raw.get("openIdConnectUrl", ""))
    scheme.scope_hints = scope_hints(description)
    return scheme


def _flows(raw: dict[str, Any], swagger: bool) -> list[OAuthFlow]:
    if swagger:
        kind = _SWAGGER_FLOWS.get(str(raw.get("flow", "")), str(raw.get("flow", "")))
        return [OAuthFlow(kind=kind, token_url=str(raw.get("tokenUrl", "")),
                          authorization_url=str(raw.get("authorizationUrl", "")),
                          scopes={str(k): str(v) for k, v in (raw.get("scopes") or {}).items()})]
    flows = []
    for key, flow in (raw.get("flows") or {}).items():
        if isinstance(flow, dict):
            flows.append(OAuthFlow(kind=_OAS3_FLOWS.get(key, key), token_url=str(flow.get("tokenUrl", "")),
                                   authorization_url=str(flow.get("authorizationUrl", "")),
                                   refresh_url=str(flow.get("refreshUrl", "")),
                                   scopes={str(k): str(v) for k, v in (flow.get("scopes") or {}).items()}))
    return flows


def scope_hints(description: str) -> list[ScopeHint]:
    """Scopes listed in a description's Markdown table (``| Orders | read-only | `store_v2_orders_read_only` |``)."""
    hints: list[ScopeHint] = []
    if "|" not in description:
        return hints
    for row in _TABLE_ROW.findall(description):
        cells = [c.strip() for c in row.split("|")]
        text = " ".join(cells).lower()
        if "header" in text and "argument" in text:
            continue
        for token in _BACKTICK.findall(row):
            if not re.search(r"[a-z]_[a-z]", token) or token.lower().startswith("x-"):
                continue
            if token in ("access_token",) or any(h.scope == token for h in hints):
                continue
            access = "read" if re.search(r"read[- ]?only|\bread\b(?!.*modify)", text) else \
                "write" if re.search(r"modify|write|manage|read and modify", text) else "unknown"
            if token.endswith(("_read_only", "_readonly", ".read", ":read")):
                access = "read"
            label = next((c for c in cells if c and "`" not in c), "")
            hints.append(ScopeHint(scope=token, access=access, label=label))
    return hints


def _summary(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(("|", "#"))]
    return (lines[0] if lines else "")[:200]


def header_guesses(header_params: dict[str, str]) -> list[AuthScheme]:
    """Low-confidence schemes from header parameters named like credentials (``X-Api-Key``: where seen)."""
    guesses = []
    for name, where in header_params.items():
        if name.lower() in _AUTH_HEADERS:
            if name.lower() == "authorization":
                guesses.append(AuthScheme(name="Authorization", type="http", scheme="bearer", confidence=0.4,
                                          evidence=[Evidence(where=where, detail="Authorization header parameter")]))
            else:
                guesses.append(AuthScheme(name=name, type="apiKey", location="header", param_name=name,
                                          confidence=0.5,
                                          evidence=[Evidence(where=where, detail="credential-like header parameter")]))
    return guesses


def operation_scopes(op: dict[str, Any]) -> list[str]:
    """The scopes an operation's own ``security`` requirement lists."""
    scopes: list[str] = []
    for requirement in op.get("security") or []:
        if isinstance(requirement, dict):
            for values in requirement.values():
                scopes += [str(v) for v in values or [] if str(v) not in scopes]
    return scopes
