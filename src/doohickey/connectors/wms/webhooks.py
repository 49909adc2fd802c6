"""WMS webhooks: signature verification (constant time) and parsing into canonical Records.

The WMS signs ``timestamp + "." + body`` with HMAC-SHA256 and sends
``X-WMS-Signature: sha256=<hex>`` with ``X-WMS-Timestamp``. ``verify`` checks the
signature only; the replay window is the intake's job (it has the clock), using
the delivery's ``triggered_at``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

from doohickey import model
from doohickey.connectors.spec import Record, WebhookDelivery
from doohickey.connectors.wms import maps

SIGNATURE_HEADER = "X-WMS-Signature"
_ENTITY = {"shipment.created": "shipment", "stock.updated": "stock", "fulfilment_request.received": "order",
           "fulfilment_request.cancelled": "order"}


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """Whether ``body`` was signed with ``secret`` (constant-time compare)."""
    given = _lower(headers)
    signature, timestamp = given.get("x-wms-signature", ""), given.get("x-wms-timestamp", "")
    if not signature or not timestamp or not secret:
        return False
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature.encode(), f"sha256={digest}".encode())


def parse(headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
    """A verified delivery as the Records it announces; ValueError names what is wrong with a bad body."""
    given = _lower(headers)
    try:
        event = json.loads(body)
        topic = event["topic"]
        data = event["data"]
        occurred = model.parse_time(event["occurred_at"])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"WMS webhook body is not JSON: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"WMS webhook body lacks {exc} (needs topic, data, occurred_at)") from None
    entity = _ENTITY.get(topic)
    records = []
    if entity == "shipment":
        records = [Record("wms", "shipment", data["id"], maps.shipment_to_fulfilment(data), data["updated_at"],
                          model.parse_time(data["updated_at"]))]
    elif entity == "stock":
        records = [Record("wms", "stock", data["sku"], maps.stock_from_wms(data), data["updated_at"],
                          model.parse_time(data["updated_at"]))]
    elif entity == "order":
        records = [Record("wms", "order", data["id"], maps.request_to_order(data), data["updated_at"],
                          model.parse_time(data["updated_at"]))]
    return WebhookDelivery(topic=topic, delivery_id=given.get("x-wms-delivery-id", ""),
                           event_id=given.get("x-wms-event-id") or event.get("id", ""), triggered_at=occurred,
                           records=records)
