"""The ``shopify`` connector: Shopify's Admin GraphQL API (and its twin), with signed webhooks.

Entities: order (read incrementally; cancel; create for test data; key = the order
name ``#1001``), customer (read; create, update; key = email), product and variant
(read; key = SKU), stock (read levels per location; set ``available``; key = SKU),
fulfilment (create with tracking; found by order number) and refund (create;
found by order number). Webhooks are verified with the app's client secret and
parsed into canonical Records. Pacing follows Shopify's cost-based throttle.
See ``README.md`` in this folder and ``docs/connectors/shopify.md``.
"""

from __future__ import annotations

from doohickey.connectors.shopify.client import PACING, ShopifyClient
from doohickey.connectors.shopify.webhooks import WEBHOOKS
from doohickey.connectors.spec import ConnectionSettings, ConnectOptions, Connector, EntitySpec, SettingSpec


def connect(settings: ConnectionSettings, options: ConnectOptions) -> ShopifyClient:
    """Open a Client on one shop (or a Shopify twin)."""
    return ShopifyClient(settings, options)


CONNECTOR = Connector(
    name="shopify",
    kind="storefront",
    description="Shopify Admin GraphQL API: orders, customers, products, inventory, fulfilments, refunds; webhooks.",
    entities={
        "order": EntitySpec("order", actions=("cancel", "create"), key="number", depends_on=("customer", "variant"),
                            webhook_topics=("orders/create", "orders/updated", "orders/paid", "orders/cancelled",
                                            "orders/fulfilled")),
        "customer": EntitySpec("customer", actions=("create", "update"), key="email",
                               webhook_topics=("customers/create", "customers/update")),
        "product": EntitySpec("product", key="sku", webhook_topics=("products/create", "products/update")),
        "variant": EntitySpec("variant", key="sku", depends_on=("product",),
                              webhook_topics=("products/create", "products/update")),
        "stock": EntitySpec("stock", actions=("set",), key="sku", depends_on=("variant",),
                            webhook_topics=("inventory_levels/update",)),
        "fulfilment": EntitySpec("fulfilment", read=False, actions=("create",), key="order_number",
                                 depends_on=("order",), webhook_topics=("fulfillments/create",)),
        "refund": EntitySpec("refund", read=False, actions=("create",), key="order_number", depends_on=("order",),
                             webhook_topics=("refunds/create",)),
    },
    connect=connect,
    pacing=PACING,
    webhooks=WEBHOOKS,
    twin="shopify",
    settings=(
        SettingSpec("url", "The shop's address, https://<shop>.myshopify.com (or a Shopify twin's address)."),
        SettingSpec("token", "Admin API access token of the app (shpat_...), sent as X-Shopify-Access-Token.",
                    secret=True),
        SettingSpec("webhook_secret", "The app's client secret, which signs webhooks (X-Shopify-Hmac-Sha256).",
                    secret=True, required=False),
        SettingSpec("api_version", "Admin API version, e.g. 2025-10 (the default).", required=False),
        SettingSpec("location", "Name of the location stock is set at (default: the first active location).",
                    required=False),
        SettingSpec("notify_customer", "Let Shopify e-mail the customer on fulfilments and cancellations "
                                       "(default false).", required=False),
    ),
)
