"""The ``wms`` connector: a warehouse that ships orders, reports shipments (webhook or poll) and stock.

Entities: order (create = a fulfilment request for the shippable lines; cancel;
key = the order number, sent as ``order_ref``), fulfilment (create a fulfilment
request from a Fulfilment; read = shipments), shipment (read parcels with carrier
and tracking), stock (read per SKU; ``receive`` / ``set`` through goods-in).
Webhooks are signed with ``X-WMS-Signature`` (HMAC-SHA256 of timestamp "." body).
"""

from __future__ import annotations

from doohickey.connectors.spec import (
    ConnectionSettings,
    ConnectOptions,
    Connector,
    EntitySpec,
    PacingSpec,
    SettingSpec,
    WebhookSpec,
)
from doohickey.connectors.wms.client import WmsClient
from doohickey.connectors.wms.webhooks import SIGNATURE_HEADER, parse, verify


def connect(settings: ConnectionSettings, options: ConnectOptions) -> WmsClient:
    """Open a Client on one WMS Connection."""
    return WmsClient(settings, options)


CONNECTOR = Connector(
    name="wms",
    kind="wms",
    description="Warehouse system: fulfilment requests out; shipments with tracking and stock in (webhook or poll).",
    entities={
        "order": EntitySpec("order", actions=("create", "cancel"), key="number",
                            webhook_topics=("fulfilment_request.received", "fulfilment_request.cancelled")),
        "fulfilment": EntitySpec("fulfilment", actions=("create",), key="order_number",
                                 webhook_topics=("shipment.created",)),
        "shipment": EntitySpec("shipment", key="order_number", webhook_topics=("shipment.created",)),
        "stock": EntitySpec("stock", actions=("receive", "set"), key="sku", webhook_topics=("stock.updated",)),
    },
    connect=connect,
    pacing=PacingSpec(kind="requests", rate=20.0, burst=40.0),
    webhooks=WebhookSpec(verify=verify, parse=parse, signature_header=SIGNATURE_HEADER),
    twin="wms",
    settings=(
        SettingSpec("url", "Base URL of the warehouse API, e.g. https://wms.example.com (the API is under /api/v1)."),
        SettingSpec("token", "API token, sent as Authorization: Bearer.", secret=True),
        SettingSpec("webhook_secret", "Shared secret that signs webhooks (X-WMS-Signature).", secret=True,
                    required=False),
        SettingSpec("location", "Location name given to the warehouse's stock (default WMS).", required=False),
    ),
)
