"""Small twins that each demand one auth scheme, for testing guided auth over real loopback HTTP.

One Starlette app serves ``GET /orders`` (and ``POST /orders``) behind each scheme:

==================  =========================================================
``/apikey/...``     ``X-Api-Key`` header
``/query/...``      ``?api_key=`` query parameter
``/basic/...``      HTTP Basic (user name and password)
``/bearer/...``     a fixed bearer token
``/oauth/...``      OAuth2 access tokens from ``POST /oauth/token`` (client
                    credentials or refresh token); reading needs scope
                    ``orders:read``, writing ``orders:write`` (403 otherwise)
==================  =========================================================

Refresh tokens **rotate**: each one works once, and its successor comes back with
the new access token; reusing a spent one answers ``invalid_grant``. Access tokens
expire after ``token_ttl`` seconds on the injected clock. ``/openapi.json`` declares
every scheme, so discovery and ``auth setup`` can read it. :class:`AuthDemoState`
counts token grants for tests.
"""

from __future__ import annotations

import base64
import hmac
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from doohickey.clock import SYSTEM_CLOCK, Clock

ORDERS = [{"id": "1", "number": "#1001", "status": "paid", "updated_at": "2026-01-01T00:00:00Z"}]


@dataclass
class AuthDemoState:
    """Credentials the twin accepts and what it has issued."""

    api_key: str = "demo-key"
    username: str = "demo-user"
    password: str = "demo-pass"
    bearer: str = "demo-bearer"
    client_id: str = "demo-client"
    client_secret: str = "demo-secret"
    client_scopes: tuple[str, ...] = ("orders:read", "orders:write")
    token_ttl: float = 3600.0
    access: dict[str, tuple[float, tuple[str, ...]]] = field(default_factory=dict)
    refresh: dict[str, tuple[str, ...]] = field(default_factory=dict)
    spent: set[str] = field(default_factory=set)
    grants: dict[str, int] = field(default_factory=lambda: {"client_credentials": 0, "refresh_token": 0,
                                                            "reused_refresh": 0})

    def issue_refresh_token(self, scopes: tuple[str, ...] | None = None, rng: random.Random | None = None) -> str:
        """A first refresh token, as an authorisation would give (for tests and setup)."""
        token = f"rt-{(rng or random.Random()).getrandbits(64):016x}"
        self.refresh[token] = tuple(scopes if scopes is not None else self.client_scopes)
        return token


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_app(state: AuthDemoState | None = None, *, clock: Clock = SYSTEM_CLOCK,
               rng: random.Random | None = None) -> Starlette:
    """The auth demo app over ``state`` (a fresh one if ``None``); ``app.state.demo`` holds it."""
    state = state or AuthDemoState()
    rng = rng or random.Random(0)

    def new_token(prefix: str) -> str:
        return f"{prefix}-{rng.getrandbits(64):016x}"

    def issue(scopes: tuple[str, ...], with_refresh: bool) -> dict[str, Any]:
        access = new_token("at")
        state.access[access] = (clock.now().timestamp() + state.token_ttl, scopes)
        body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": int(state.token_ttl),
                                "scope": " ".join(scopes)}
        if with_refresh:
            refresh = new_token("rt")
            state.refresh[refresh] = scopes
            body["refresh_token"] = refresh
        return body

    def client_ok(request: Request, form: Any) -> bool:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                cid, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
        else:
            cid, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        return _same(cid, state.client_id) and _same(secret, state.client_secret)

    async def token(request: Request) -> JSONResponse:
        # parsed by hand: Starlette's form parser needs python-multipart, which is not a dependency
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        grant = form.get("grant_type")
        if grant == "client_credentials":
            if not client_ok(request, form):
                return _error(401, "invalid_client")
            wanted = tuple(str(form.get("scope", "")).split()) or state.client_scopes
            if any(s not in state.client_scopes for s in wanted):
                return _error(400, "invalid_scope")
            state.grants["client_credentials"] += 1
            return JSONResponse(issue(wanted, with_refresh=False))
        if grant == "refresh_token":
            if not client_ok(request, form):
                return _error(401, "invalid_client")
            presented = str(form.get("refresh_token", ""))
            if presented in state.spent:
                state.grants["reused_refresh"] += 1
                return _error(400, "invalid_grant")
            scopes = state.refresh.pop(presented, None)
            if scopes is None:
                return _error(400, "invalid_grant")
            state.spent.add(presented)  # rotation: this token never works again
            state.grants["refresh_token"] += 1
            return JSONResponse(issue(scopes, with_refresh=True))
        return _error(400, "unsupported_grant_type")

    def check(request: Request, scheme: str, write: bool) -> JSONResponse | None:
        if scheme == "apikey":
            return None if _same(request.headers.get("x-api-key", ""), state.api_key) else _error(401, "bad key")
        if scheme == "query":
            return None if _same(request.query_params.get("api_key", ""), state.api_key) else _error(401, "bad key")
        header = request.headers.get("authorization", "")
        if scheme == "basic":
            expected = "Basic " + base64.b64encode(f"{state.username}:{state.password}".encode()).decode()
            return None if _same(header, expected) else _error(401, "bad credentials",
                                                               **{"WWW-Authenticate": 'Basic realm="demo"'})
        if scheme == "bearer":
            return None if _same(header, f"Bearer {state.bearer}") else _error(401, "bad token")
        token_value = header[7:] if header.startswith("Bearer ") else ""
        granted = state.access.get(token_value)
        if granted is None:
            return _error(401, "invalid_token", **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
        expires, scopes = granted
        if expires <= clock.now().timestamp():
            return _error(401, "token expired", **{"WWW-Authenticate": 'Bearer error="invalid_token", '
                                                                       'error_description="The token expired"'})
        needed = "orders:write" if write else "orders:read"
        if needed not in scopes:
            return _error(403, f"insufficient_scope: needs {needed}",
                          **{"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'})
        return None

    async def orders(request: Request) -> JSONResponse:
        scheme = request.path_params["scheme"]
        if scheme not in ("apikey", "query", "basic", "bearer", "oauth"):
            return _error(404, "no such scheme")
        refused = check(request, scheme, request.method == "POST")
        if refused is not None:
            return refused
        if request.method == "POST":
            body = await request.json()
            record = {"id": str(len(ORDERS) + 1), **body}
            return JSONResponse(record, status_code=201)
        return JSONResponse({"data": ORDERS, "meta": {"page": 1}})

    async def openapi(_request: Request) -> JSONResponse:
        return JSONResponse(openapi_document())

    app = Starlette(routes=[
        Route("/oauth/token", token, methods=["POST"]),
        Route("/openapi.json", openapi),
        Route("/{scheme}/orders", orders, methods=["GET", "POST"]),
    ])
    app.state.demo = state
    return app


def openapi_document(only: str | None = None) -> dict[str, Any]:
    """An OpenAPI 3.0 document declaring each scheme the twin demands (the oauth one with both flows).

    ``only`` (``ApiKey``, ``QueryKey``, ``Basic``, ``Bearer``, ``OAuth``) keeps one scheme and its path,
    as a real System would publish.
    """
    item = {"type": "object", "properties": {"id": {"type": "string"}, "status": {"type": "string"},
                                             "updated_at": {"type": "string", "format": "date-time"}}}
    paths: dict[str, Any] = {}
    for prefix, scheme, scopes in (("apikey", "ApiKey", []), ("query", "QueryKey", []), ("basic", "Basic", []),
                                   ("bearer", "Bearer", []), ("oauth", "OAuth", ["orders:read"])):
        if only and scheme != only:
            continue
        paths[f"/{prefix}/orders"] = {
            "get": {"operationId": f"list{scheme}Orders", "security": [{scheme: scopes}],
                    "responses": {"200": {"description": "orders", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"data": {"type": "array", "items": item}}}}}}}},
        }
    schemes = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
        "QueryKey": {"type": "apiKey", "in": "query", "name": "api_key"},
        "Basic": {"type": "http", "scheme": "basic"},
        "Bearer": {"type": "http", "scheme": "bearer"},
        "OAuth": {"type": "oauth2", "flows": {
            "clientCredentials": {"tokenUrl": "/oauth/token",
                                  "scopes": {"orders:read": "read orders", "orders:write": "change orders"}},
            "authorizationCode": {"authorizationUrl": "/oauth/authorize", "tokenUrl": "/oauth/token",
                                  "refreshUrl": "/oauth/token",
                                  "scopes": {"orders:read": "read orders", "orders:write": "change orders"}}}},
    }
    if only:
        schemes = {only: schemes[only]}
    return {"openapi": "3.0.3", "info": {"title": "auth demo", "version": "1"}, "paths": paths,
            "components": {"securitySchemes": schemes}}
