"""The ERP twin: a generic mid-market ERP REST API with its own OpenAPI document, polled (no webhooks).

``create_twin(seed=0, faults=None, clock=None, **options)`` builds it. Options:

- ``api_keys``: accepted ``X-Api-Key`` values (default ``("erp-test-key",)``);
- ``concurrency_limit``: API requests allowed in flight before NetSuite's
  ``CONCURRENCY_LIMIT_EXCEEDED`` 429 (default 5; 0 for none);
- ``service_seconds``: time each API request takes, so callers overlap (default 0);
- ``database``: SQLite path (default ``:memory:``);
- ``allow_negative_stock``: fulfilments may take stock below zero (default True);
- ``data``: a :class:`~doohickey.twins.datagen.Dataset` (or ``True`` for ``generate(seed)``) to seed at start.

See ``docs/twins/erp.md``.
"""

from __future__ import annotations

from typing import Any

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.twins import Twin, make_faultset
from doohickey.twins.erp.app import API_PREFIX, ConcurrencyLimit, build_app, twin_routes
from doohickey.twins.erp.state import ErpError, ErpState
from doohickey.twins.faults import Fault, FaultMiddleware, FaultSet
from doohickey.twins.server import admin_routes

DEFAULT_API_KEY = "erp-test-key"

__all__ = ["API_PREFIX", "DEFAULT_API_KEY", "ErpError", "ErpState", "create_twin"]


def create_twin(*, seed: int = 0, faults: list[Fault] | FaultSet | None = None, clock: Clock | None = None,
                api_keys: tuple[str, ...] | list[str] = (DEFAULT_API_KEY,), concurrency_limit: int | None = 5,
                service_seconds: float = 0.0, database: str = ":memory:", allow_negative_stock: bool = True,
                data: Any = None, **unknown: Any) -> Twin:
    """Build the ERP twin: FastAPI app + ``/_twin/`` admin, concurrency limit, fault middleware, SQLite state."""
    if unknown:
        raise TypeError(f"unknown ERP twin option(s): {', '.join(sorted(unknown))}")
    clock = clock or SYSTEM_CLOCK
    faultset = make_faultset(faults, seed, clock)
    state = ErpState(clock, database, allow_negative_stock=allow_negative_stock)
    if data is not None:
        from doohickey.twins.datagen import generate

        dataset = generate(seed) if data is True else data
        state.seed(products=dataset.products, customers=dataset.customers, stock=dataset.stock)
    app = build_app(state, api_keys=tuple(api_keys))
    app.router.routes.extend(admin_routes(faultset))
    limited = ConcurrencyLimit(app, limit=concurrency_limit or None, clock=clock, service_seconds=service_seconds)
    twin_routes(app, state, limited)
    return Twin(
        name="erp", app=FaultMiddleware(limited, faultset), state=state, faults=faultset,
        info={"api_key": api_keys[0] if api_keys else "", "base_path": API_PREFIX, "openapi": "/openapi.json",
              "docs": "/docs", "auth_header": "X-Api-Key"},
    )
