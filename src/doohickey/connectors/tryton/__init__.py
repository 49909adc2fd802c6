"""The ``tryton`` connector: a real open-source ERP (Tryton 8.2) over JSON-RPC, polled on ``write_date``."""

from __future__ import annotations

from doohickey.connectors.spec import (
    ConnectionSettings,
    ConnectOptions,
    Connector,
    EntitySpec,
    PacingSpec,
    SettingSpec,
)
from doohickey.connectors.tryton.client import TrytonClient


def connect(settings: ConnectionSettings, options: ConnectOptions) -> TrytonClient:
    """A Tryton client for one Connection."""
    return TrytonClient(settings, options)


CONNECTOR = Connector(
    name="tryton",
    kind="erp",
    description="Tryton ERP: parties, products by code, sales with lines, stock, customer shipments, credit notes.",
    entities={
        "customer": EntitySpec("customer", actions=("create", "update"), key="email"),
        "variant": EntitySpec("variant", actions=("create",), key="sku"),
        "order": EntitySpec("order", actions=("create", "update", "cancel"), key="number",
                            depends_on=("customer", "variant")),
        "stock": EntitySpec("stock", actions=("set",), key="sku"),
        "fulfilment": EntitySpec("fulfilment", key="id"),
        # a refund is a return sale: found again by refund id or order number, polled like sales
        "refund": EntitySpec("refund", actions=("create",), key="id", depends_on=("order",)),
    },
    connect=connect,
    # Tryton has no published rate limit; a small concurrency cap keeps one trytond worker responsive.
    pacing=PacingSpec(kind="concurrency", rate=50.0, burst=10.0, max_concurrency=4),
    webhooks=None,
    twin=None,
    settings=(
        SettingSpec("url", "Database URL, e.g. https://erp.example.com/<database> (JSON-RPC at <url>/rpc/)."),
        SettingSpec("login", "Tryton user the integration logs in as (give it sale, stock and account rights).",
                    required=False),
        SettingSpec("password", "That user's password.", secret=True),
        SettingSpec("warehouse", "Warehouse name for stock and sales (default: the first warehouse).",
                    required=False),
        SettingSpec("carrier", "Carrier name reported with shipment tracking numbers.", required=False),
    ),
)
