"""The ``erp`` connector: the generic mid-market ERP REST API (and its twin), polled with ``updated_since``.

Entities: order (create, cancel, confirm; key = the storefront order number, sent
as ``external_ref``), customer (create, update; find by email or phone),
product and variant (find by SKU; upsert), stock (read; set a counted on-hand),
fulfilment (read; create, partial or whole, with carrier and tracking) and refund
(create a credit memo). No webhooks: the ERP is polled. The ERP caps concurrent
requests (NetSuite style), so pacing is a concurrency cap.
"""

from __future__ import annotations

from doohickey.connectors.erp.client import ErpClient
from doohickey.connectors.spec import (
    ConnectionSettings,
    ConnectOptions,
    Connector,
    EntitySpec,
    PacingSpec,
    SettingSpec,
)


def connect(settings: ConnectionSettings, options: ConnectOptions) -> ErpClient:
    """Open a Client on one ERP Connection."""
    return ErpClient(settings, options)


CONNECTOR = Connector(
    name="erp",
    kind="erp",
    description="Generic mid-market ERP REST API (sales orders, items, stock, fulfilments, credit memos); polled.",
    entities={
        "order": EntitySpec("order", actions=("create", "cancel", "confirm"), key="number",
                            depends_on=("customer", "variant")),
        "customer": EntitySpec("customer", actions=("create", "update"), key="email"),
        "product": EntitySpec("product", actions=("upsert",), key="sku"),
        "variant": EntitySpec("variant", actions=("upsert",), key="sku"),
        "stock": EntitySpec("stock", actions=("set",), key="sku"),
        "fulfilment": EntitySpec("fulfilment", actions=("create",), key="order_number", depends_on=("order",)),
        # A refund is found by its own id (the credit memo's external_ref): one order may have several refunds.
        "refund": EntitySpec("refund", actions=("create",), key="id", depends_on=("order",)),
    },
    connect=connect,
    pacing=PacingSpec(kind="concurrency", rate=10.0, burst=5.0, max_concurrency=5),
    twin="erp",
    settings=(
        SettingSpec("url", "Base URL of the ERP, e.g. https://erp.example.com (the API is under /api/v1)."),
        SettingSpec("api_key", "API key of the integration user, sent as X-Api-Key.", secret=True),
        SettingSpec("api_prefix", "Path of the API under the base URL (default /api/v1).", required=False),
    ),
)
