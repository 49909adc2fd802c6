"""A fault proxy: the Faults of a twin, in front of a real System.

Some systems run for real here (Tryton); what they cannot do is misbehave on
demand. The proxy forwards every request to the real server unchanged and
applies the same Faults as a twin (outages, 429 storms, 5xx, latency, timeouts,
malformed bodies) with the same ``/_twin/faults`` and ``/_twin/log`` admin
routes, so the connector conformance suite and scenarios run against the real
thing with injected trouble. ``/_twin/seed`` is delegated to a system-specific
seeder when one is given.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from doohickey.clock import Clock
from doohickey.twins import Twin, make_faultset
from doohickey.twins.faults import Fault, FaultMiddleware, FaultSet
from doohickey.twins.server import admin_routes

Seeder = Callable[[dict[str, Any]], Awaitable[Any]]
HOP_HEADERS = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "upgrade"}


def create_proxy(name: str, upstream: str, *, seed: int = 0, faults: list[Fault] | FaultSet | None = None,
                 clock: Clock | None = None, seeder: Seeder | None = None,
                 info: dict[str, Any] | None = None) -> Twin:
    """A Twin whose app forwards to ``upstream`` (scheme://host:port; the path is kept) with faults applied."""
    faultset = make_faultset(faults, seed, clock)
    parts = urlsplit(upstream)
    client = httpx.AsyncClient(base_url=f"{parts.scheme}://{parts.netloc}", timeout=60.0)

    async def forward(request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        upstream_response = await client.request(request.method, request.url.path, params=request.query_params,
                                                 content=await request.body(), headers=headers)
        kept = {k: v for k, v in upstream_response.headers.items() if k.lower() not in HOP_HEADERS
                and k.lower() != "content-encoding"}
        return Response(upstream_response.content, upstream_response.status_code, headers=kept)

    async def seed_route(request: Request) -> JSONResponse:
        if seeder is None:
            return JSONResponse({"error": f"the {name} proxy cannot seed data"}, status_code=404)
        try:
            body = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError as exc:
            return JSONResponse({"error": f"request body is not JSON: {exc}"}, status_code=400)
        return JSONResponse({"seeded": await seeder(body)})

    routes = [*admin_routes(faultset), Route("/_twin/seed", seed_route, methods=["POST"]),
              Route("/{path:path}", forward, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])]
    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    return Twin(name=name, app=FaultMiddleware(app, faultset), state=None, faults=faultset,
                info={"upstream": upstream, **(info or {})})
