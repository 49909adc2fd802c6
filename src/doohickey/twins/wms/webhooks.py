"""Outbound webhooks of the WMS twin: signed deliveries with retries, subject to the webhook faults.

Each delivery is a POST of the event as JSON with these headers::

    X-WMS-Topic: shipment.created
    X-WMS-Event-Id: EVT-000042          same for every copy and retry of one event
    X-WMS-Delivery-Id: DLV-000007       same for every copy and retry to one subscription
    X-WMS-Timestamp: 1767225600         Unix seconds when this attempt was sent
    X-WMS-Signature: sha256=<hex>       HMAC-SHA256(secret, timestamp + "." + body)

Signing the timestamp with the body lets a receiver refuse replays outside a
window. A non-2xx answer or a network error is retried with exponential backoff
(1, 2, 4, ... seconds on the injected clock) up to ``max_attempts``. Faults decided
once per delivery: ``webhook_loss`` (never sent), ``webhook_delay`` (sent later),
``webhook_duplicate`` (sent twice), ``webhook_reorder`` (held until the next
delivery to the same subscription has gone).
"""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx

from doohickey.twins.faults import FaultSet
from doohickey.twins.wms.state import WmsState

SIGNATURE_HEADER = "X-WMS-Signature"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-WMS-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class Deliverer:
    """Sends due webhook deliveries from the WMS outbox; ``run_once`` is called by the twin's loop or a test."""

    def __init__(self, state: WmsState, faults: FaultSet, *, secret: str, transport: httpx.AsyncBaseTransport | None
                 = None, max_attempts: int = 5, timeout: float = 5.0) -> None:
        self.state = state
        self.faults = faults
        self.secret = secret
        self.transport = transport
        self.max_attempts = max_attempts
        self.timeout = timeout

    async def run_once(self) -> int:
        """Send every delivery that is due now; returns how many HTTP posts were made."""
        due = self.state.due_deliveries()
        if not due:
            return 0
        posts = 0
        sent_to: set[str] = set()
        async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout) as client:
            for delivery in due:
                if not self.state.claim(delivery["id"]):
                    continue
                copies = 1
                if not delivery["decided"]:
                    copies, postponed = self._apply_faults(delivery)
                    if postponed:
                        continue
                ok = False
                for _ in range(copies):
                    ok = await self._post(client, delivery) or ok
                    posts += 1
                self._settle(delivery, ok)
                if ok:
                    sent_to.add(delivery["sub_id"])
        for sub_id in sent_to:
            released = self.state.release_held(sub_id)
            if released:
                self.faults.note("webhook_reorder_released", sub_id, f"{released} held delivery(ies) released")
        return posts

    def _apply_faults(self, delivery: dict) -> tuple[int, bool]:
        """Decide this delivery's faults once: (copies to send now, whether it was postponed or dropped)."""
        actions = self.faults.decide_webhook(delivery["event"]["topic"])
        kinds = {a.kind: a for a in actions}
        if "loss" in kinds:
            self.state.mark(delivery["id"], status="lost", decided=1)
            return 0, True
        if "delay" in kinds:
            self.state.mark(delivery["id"], status="pending", decided=1,
                            due=self.state.clock.monotonic() + kinds["delay"].seconds)
            return 0, True
        if "reorder" in kinds:
            self.state.mark(delivery["id"], status="pending", decided=1, held=1)
            return 0, True
        self.state.mark(delivery["id"], decided=1)
        return (kinds["duplicate"].copies if "duplicate" in kinds else 1), False

    async def _post(self, client: httpx.AsyncClient, delivery: dict) -> bool:
        event = delivery["event"]
        body = json.dumps({"id": event["id"], "topic": event["topic"], "occurred_at": event["occurred_at"],
                           "data": event["data"]}, separators=(",", ":")).encode()
        timestamp = str(int(self.state.clock.now().timestamp()))
        headers = {"Content-Type": "application/json", "X-WMS-Topic": event["topic"], "X-WMS-Event-Id": event["id"],
                   "X-WMS-Delivery-Id": delivery["id"], "X-WMS-Timestamp": timestamp,
                   SIGNATURE_HEADER: sign(self.secret, timestamp, body)}
        try:
            answer = await client.post(delivery["subscription"]["url"], content=body, headers=headers)
        except httpx.HTTPError as exc:
            self.state.mark(delivery["id"], last_error=f"{type(exc).__name__}: {exc}"[:200])
            return False
        if 200 <= answer.status_code < 300:
            return True
        self.state.mark(delivery["id"], last_error=f"HTTP {answer.status_code}")
        return False

    def _settle(self, delivery: dict, ok: bool) -> None:
        attempts = delivery["attempts"] + 1
        if ok:
            self.state.mark(delivery["id"], status="delivered", attempts=attempts)
        elif attempts >= self.max_attempts:
            self.state.mark(delivery["id"], status="failed", attempts=attempts)
        else:
            backoff = 2 ** (attempts - 1)
            self.state.mark(delivery["id"], status="pending", attempts=attempts,
                            due=self.state.clock.monotonic() + backoff)
