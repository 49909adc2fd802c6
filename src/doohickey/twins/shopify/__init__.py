"""The Shopify twin: Shopify's Admin GraphQL API and webhooks, emulated from the published contracts.

``create_twin(seed=0, faults=None, clock=None, **options)`` builds it. Options:

* ``token`` (``shpat_twin_token``): the ``X-Shopify-Access-Token`` it accepts;
* ``secret`` (``twin_app_secret``): the app secret that signs webhooks;
* ``shop_domain``, ``currency``, ``db_path`` (``:memory:`` or a SQLite file);
* ``maximum_available`` / ``restore_rate`` (1000 / 50, Shopify's published example):
  the cost bucket; or ``plan`` (``standard``, ``advanced``, ``plus``, ``enterprise``) for the
  restore rate Shopify publishes per plan (100 / 200 / 1000 / 2000 points per second; the bucket
  size per plan is not published, so ``maximum_available`` stays yours to set);
  ``throttled_status`` (200): HTTP status of a THROTTLED answer;
* ``webhook_retry_scale`` (1.0): multiply the retry backoff (e.g. 0.0001 in tests),
  ``webhook_timeout`` (5 s), ``webhook_transport`` (an httpx transport), ``api_version``;
* ``result_cache`` (True): answer a repeated read query from the last result while nothing changed;
* ``data``: a :class:`~doohickey.twins.datagen.Dataset` (or ``True`` for ``generate(seed)``) seeded at start
  as a merchant and storefront would have made it (customers a shop refuses, e.g. a repeated email, are skipped).

The returned :class:`~doohickey.twins.Twin` has ``state``
(:class:`~doohickey.twins.shopify.state.ShopState`, with ``state.webhooks`` the
deliverer and ``state.bucket`` the cost bucket) and ``info`` (token, secret,
endpoint path, docs).
"""

from __future__ import annotations

from typing import Any

import httpx

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.twins import Twin, make_faultset
from doohickey.twins.faults import Fault, FaultSet
from doohickey.twins.server import twin_app
from doohickey.twins.shopify.api import GraphQLApi
from doohickey.twins.shopify.app import routes
from doohickey.twins.shopify.cost import Bucket, Throttle
from doohickey.twins.shopify.seed import seed_bulk
from doohickey.twins.shopify.state import ShopState
from doohickey.twins.shopify.webhooks import WebhookDeliverer

DEFAULT_TOKEN = "shpat_twin_token"
DEFAULT_SECRET = "twin_app_secret"
GRAPHQL_PATH = "/admin/api/*/graphql.json"
# GraphQL Admin API points per second by plan (shopify.dev rate-limits page, contracts/shopify/REST-LIMITS.md).
PLAN_RESTORE_RATES = {"standard": 100.0, "advanced": 200.0, "plus": 1000.0, "enterprise": 2000.0}


def create_twin(
    *,
    seed: int = 0,
    faults: list[Fault] | FaultSet | None = None,
    clock: Clock | None = None,
    token: str = DEFAULT_TOKEN,
    secret: str = DEFAULT_SECRET,
    shop_domain: str = "twin.myshopify.com",
    currency: str = "USD",
    db_path: str = ":memory:",
    maximum_available: float = 1000.0,
    restore_rate: float | None = None,
    plan: str | None = None,
    throttled_status: int = 200,
    api_version: str = "2025-10",
    webhook_retry_scale: float = 1.0,
    webhook_timeout: float = 5.0,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    data: Any = None,
    result_cache: bool = True,
    **unknown: Any,
) -> Twin:
    """Build a Shopify twin (see the module docstring for the options)."""
    if unknown:
        raise TypeError(f"unknown Shopify twin option(s): {', '.join(sorted(unknown))}")
    clock = clock or SYSTEM_CLOCK
    faultset = make_faultset(faults, seed, clock)
    state = ShopState(clock=clock, path=db_path, shop_domain=shop_domain, currency=currency)
    if plan is not None and plan not in PLAN_RESTORE_RATES:
        raise ValueError(f"unknown Shopify plan {plan!r}; choose one of {', '.join(PLAN_RESTORE_RATES)}")
    rate = restore_rate if restore_rate is not None else PLAN_RESTORE_RATES.get(plan or "", 50.0)
    bucket = Bucket(clock, Throttle(maximum_available, rate))
    deliverer = WebhookDeliverer(state, faultset, secret=secret, api_version=api_version, clock=clock, seed=seed,
                                 transport=webhook_transport, retry_scale=webhook_retry_scale,
                                 timeout=webhook_timeout)
    state.webhooks = deliverer  # type: ignore[attr-defined]
    state.bucket = bucket  # type: ignore[attr-defined]
    if data:
        from doohickey.twins.datagen import generate

        dataset = generate(seed) if data is True else data
        seed_bulk(state, {"customers": dataset.customers, "products": dataset.products, "stock": dataset.stock,
                          "orders": dataset.orders})
    api = GraphQLApi(state, bucket, result_cache=result_cache)
    app = twin_app(routes(api, token=token, throttled_status=throttled_status, deliverer=deliverer), faultset,
                   graphql_paths=(GRAPHQL_PATH,))
    info = {"token": token, "secret": secret, "webhook_secret": secret,
            "endpoint": f"/admin/api/{api_version}/graphql.json", "api_version": api_version,
            "shop_domain": shop_domain, "docs": "docs/sandbox.md (and GET /, /_twin/)"}
    return Twin(name="shopify", app=app, state=state, faults=faultset, info=info)
