"""The WMS twin: a warehouse that picks and ships fulfilment requests over simulated time, with signed webhooks.

``create_twin(seed=0, faults=None, clock=None, **options)`` builds it. Options:

- ``tokens``: accepted bearer tokens (default ``("wms-test-token",)``);
- ``pick_seconds``: time from request to first parcel (default 60, on the injected clock);
- ``partial_share``: share of requests (seeded) shipped in two parcels (default 0.25);
- ``webhook_secret``: HMAC key of ``X-WMS-Signature`` (default ``"wms-webhook-secret"``);
- ``webhook_url``: subscribe this URL to every topic at start;
- ``webhook_transport``: an httpx transport for deliveries (tests; default real HTTP);
- ``background``: run a loop that ticks and delivers every ``tick_interval`` seconds (default True, 0.1 s);
- ``database``: SQLite path (default ``:memory:``);
- ``data``: a :class:`~doohickey.twins.datagen.Dataset` (or ``True`` for ``generate(seed)``) whose stock to load.

With a ``ManualClock``, advance the clock and call ``twin.state.tick()`` and
``await twin.state.deliverer.run_once()`` (or ``POST /_twin/tick``). See ``docs/twins/wms.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.twins import Twin, make_faultset
from doohickey.twins.faults import Fault, FaultMiddleware, FaultSet
from doohickey.twins.server import admin_routes
from doohickey.twins.wms.app import API_PREFIX, build_app, twin_routes
from doohickey.twins.wms.state import WmsError, WmsState
from doohickey.twins.wms.webhooks import SIGNATURE_HEADER, Deliverer, sign

DEFAULT_TOKEN = "wms-test-token"
DEFAULT_WEBHOOK_SECRET = "wms-webhook-secret"

__all__ = ["API_PREFIX", "DEFAULT_TOKEN", "DEFAULT_WEBHOOK_SECRET", "SIGNATURE_HEADER", "WmsError", "WmsState",
           "create_twin", "sign"]


def create_twin(*, seed: int = 0, faults: list[Fault] | FaultSet | None = None, clock: Clock | None = None,
                tokens: tuple[str, ...] | list[str] = (DEFAULT_TOKEN,), pick_seconds: float = 60.0,
                partial_share: float = 0.25, webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
                webhook_url: str | None = None, webhook_transport: httpx.AsyncBaseTransport | None = None,
                background: bool = True, tick_interval: float = 0.1, database: str = ":memory:",
                data: Any = None, **unknown: Any) -> Twin:
    """Build the WMS twin: FastAPI app + ``/_twin/`` admin, fault middleware, SQLite state, webhook sender."""
    if unknown:
        raise TypeError(f"unknown WMS twin option(s): {', '.join(sorted(unknown))}")
    clock = clock or SYSTEM_CLOCK
    faultset = make_faultset(faults, seed, clock)
    state = WmsState(clock, seed=seed, path=database, pick_seconds=pick_seconds, partial_share=partial_share)
    state.deliverer = Deliverer(state, faultset, secret=webhook_secret, transport=webhook_transport)
    if data is not None:
        from doohickey.twins.datagen import generate

        dataset = generate(seed) if data is True else data
        state.seed(stock=dataset.stock, products=dataset.products)
    if webhook_url:
        state.subscribe(webhook_url, ["*"])

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        task = asyncio.create_task(_run(state, tick_interval)) if background else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = build_app(state, tokens=tuple(tokens), lifespan=lifespan)
    app.router.routes.extend(admin_routes(faultset))
    twin_routes(app, state)
    return Twin(name="wms", app=FaultMiddleware(app, faultset), state=state, faults=faultset,
                info={"token": tokens[0] if tokens else "", "base_path": API_PREFIX, "openapi": "/openapi.json",
                      "docs": "/docs", "signature_header": SIGNATURE_HEADER})


async def _run(state: WmsState, interval: float) -> None:
    """The warehouse loop: ship what is due, send due webhooks, then wait (real time: it only polls the clock)."""
    while True:
        try:
            state.tick()
            await state.deliverer.run_once()
        except Exception as exc:  # the loop must outlive one bad delivery; the error is kept for inspection
            state.last_loop_error = f"{type(exc).__name__}: {exc}"
        await asyncio.sleep(interval)
