"""Webhook subscriptions and delivery of the Shopify twin.

Subscriptions are nodes (``webhookSubscriptionCreate`` or ``POST /_twin/webhooks``).
When the state announces a topic, :class:`WebhookDeliverer` builds the REST
payload once (the payload of the moment it was triggered, as Shopify's retries
keep it), signs it (``X-Shopify-Hmac-Sha256`` = base64 HMAC-SHA256 of the raw
body with the app secret) and sends it to every subscription of the topic from
its own background thread, with Shopify's headers.

Delivery behaviour (``contracts/shopify/webhooks/HEADERS.md``): any 2xx is
success; anything else, a connection failure or more than 5 s is a failure,
retried 8 times with exponential backoff over about 4 hours (``retry_scale``
compresses the schedule for tests); after the last failure the subscription is
removed. Webhook faults apply per delivery: duplicate (same webhook id twice),
delay, reorder (held until the next delivery has gone) and loss; each one is
logged in the twin's fault log and in the delivery log.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.twins.faults import FaultSet
from doohickey.twins.shopify import payloads
from doohickey.twins.shopify.shapes import UserErrors, gid, user_error
from doohickey.twins.shopify.state import ShopState

TOPICS = {
    "ORDERS_CREATE": "orders/create", "ORDERS_UPDATED": "orders/updated", "ORDERS_PAID": "orders/paid",
    "ORDERS_CANCELLED": "orders/cancelled", "ORDERS_FULFILLED": "orders/fulfilled",
    "FULFILLMENTS_CREATE": "fulfillments/create", "REFUNDS_CREATE": "refunds/create",
    "INVENTORY_LEVELS_UPDATE": "inventory_levels/update", "CUSTOMERS_CREATE": "customers/create",
    "CUSTOMERS_UPDATE": "customers/update", "PRODUCTS_UPDATE": "products/update",
}
ENUM_OF = {topic: enum for enum, topic in TOPICS.items()}
RETRIES = 8
RETRY_WINDOW = 4 * 3600.0
# Exponential backoff whose 8 waits add up to Shopify's "8 times over 4 hours": base * (2**8 - 1) = 4 h.
BACKOFF_BASE = RETRY_WINDOW / (2**RETRIES - 1)


def rest_topic(enum: str) -> str:
    """``orders/create`` for ``ORDERS_CREATE`` (the first word is the resource for topics the twin does not send)."""
    if enum in TOPICS:
        return TOPICS[enum]
    resource, _, action = enum.lower().partition("_")
    return f"{resource}/{action}"


def sign(body: bytes, secret: str) -> str:
    """``X-Shopify-Hmac-Sha256`` for ``body``: base64 of HMAC-SHA256 with the app secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify(body: bytes, signature: str, secret: str) -> bool:
    """Whether ``signature`` is the HMAC of ``body`` under ``secret`` (constant-time compare)."""
    return hmac.compare_digest(sign(body, secret), signature or "")


def subscribe(state: ShopState, topic: str, data: dict[str, Any], api_version: str = "2025-10") -> dict[str, Any]:
    """Create a subscription (``topic`` as the GraphQL enum, e.g. ``ORDERS_CREATE``, or ``orders/create``)."""
    enum = ENUM_OF.get(topic) or topic.upper().replace("/", "_")
    topic = TOPICS.get(enum) or rest_topic(enum)
    uri = data.get("uri") or data.get("callbackUrl") or ""
    parsed = urlparse(uri)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise UserErrors([user_error(["webhookSubscription", "callbackUrl"], "Address is invalid")])
    with state.transaction():
        clash = state.select("type='WebhookSubscription' AND name=? AND sku=?", (topic, uri), limit=1)
        if clash:
            raise UserErrors([user_error(["webhookSubscription", "callbackUrl"],
                                         "Address for this topic has already been taken")])
        num = state.next_id("WebhookSubscription")
        now = state.now()
        doc = {"__typename": "WebhookSubscription", "id": gid("WebhookSubscription", num),
               "legacyResourceId": str(num), "topic": enum, "uri": uri, "callbackUrl": uri,
               "endpoint": {"__typename": "WebhookHttpEndpoint", "callbackUrl": uri},
               "format": data.get("format") or "JSON", "includeFields": list(data.get("includeFields") or []),
               "metafieldNamespaces": [], "filter": data.get("filter"), "createdAt": now, "updatedAt": now,
               "apiVersion": {"handle": api_version, "displayName": api_version, "supported": True}}
        return state.put(doc, name=topic, sku=uri)


def unsubscribe(state: ShopState, subscription_gid: str) -> None:
    """Delete a subscription."""
    with state.transaction():
        if state.get(subscription_gid, "WebhookSubscription") is None:
            raise UserErrors([user_error(["id"], "Webhook subscription does not exist")])
        state.forget(subscription_gid)


@dataclass
class Delivery:
    """One webhook delivery to one subscription (retries reuse it unchanged)."""

    webhook_id: str
    event_id: str
    topic: str
    url: str
    subscription: str
    body: bytes
    headers: dict[str, str]
    attempts: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = "pending"


class WebhookDeliverer:
    """Sends the twin's webhooks from a background thread, with retries and webhook faults."""

    def __init__(self, state: ShopState, faults: FaultSet, *, secret: str, api_version: str = "2025-10",
                 clock: Clock | None = None, seed: int = 0, transport: httpx.AsyncBaseTransport | None = None,
                 retry_scale: float = 1.0, timeout: float = 5.0, reorder_hold: float = 2.0) -> None:
        self.state = state
        self.faults = faults
        self.secret = secret
        self.api_version = api_version
        self.clock = clock or SYSTEM_CLOCK
        self.retry_scale = retry_scale
        self.timeout = timeout
        self.reorder_hold = reorder_hold
        self.transport = transport
        # The delivery log keeps the latest deliveries only, so a long-running twin does not grow without end.
        self.deliveries: deque[Delivery] = deque(maxlen=10_000)
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._held: list[list[tuple[Delivery, int]]] = []
        self._queues: dict[str, asyncio.Queue] = {}
        self._tasks: set[asyncio.Future] = set()
        state.listeners.append(self.on_event)
        state.wants = self.wants

    def wants(self, topic: str) -> bool:
        """Whether any subscription listens to ``topic``."""
        return bool(self.state.select("type='WebhookSubscription' AND name=?", (topic,), limit=1))

    # -------------------------------------------------------------- triggering

    def _uuid(self) -> str:
        with self._lock:
            return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def on_event(self, topic: str, node: dict[str, Any]) -> None:
        """State listener: build, sign and queue ``topic`` for every subscription to it."""
        subscriptions = self.state.select("type='WebhookSubscription' AND name=?", (topic,))
        if not subscriptions:
            return
        body = json.dumps(payloads.build(self.state, topic, node), separators=(",", ":")).encode()
        event_id = self._uuid()
        triggered = self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for subscription in subscriptions:
            webhook_id = self._uuid()
            headers = {
                "Content-Type": "application/json", "User-Agent": "Shopify-Captain-Hook",
                "X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": sign(body, self.secret),
                "X-Shopify-Shop-Domain": self.state.shop_domain,
                "X-Shopify-API-Version": subscription.get("apiVersion", {}).get("handle") or self.api_version,
                "X-Shopify-Webhook-Id": webhook_id, "X-Shopify-Triggered-At": triggered,
                "X-Shopify-Event-Id": event_id,
            }
            delivery = Delivery(webhook_id, event_id, topic, subscription["uri"], subscription["id"], body, headers)
            with self._lock:
                self.deliveries.append(delivery)
            self._dispatch(delivery)

    def _dispatch(self, delivery: Delivery) -> None:
        actions = self.faults.decide_webhook(delivery.topic)
        kinds = {a.kind for a in actions}
        if "loss" in kinds:
            delivery.outcome = "lost"
            return
        delay = sum(a.seconds for a in actions if a.kind == "delay")
        copies = 2 if "duplicate" in kinds else 1
        self._ensure_thread()
        with self._lock:
            self._pending += copies
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._accept, delivery, delay, copies, "reorder" in kinds)

    # ---------------------------------------------------------------- sending
    # Runs on the delivery thread's loop. First attempts go out in trigger order, one queue per address,
    # so deliveries are only out of order when a fault says so; retries run beside the queue, as
    # Shopify's retries do not hold up later deliveries.

    def _accept(self, delivery: Delivery, delay: float, copies: int, hold: bool) -> None:
        items = [(delivery, copy) for copy in range(copies)]
        if hold:
            self._held.append(items)
            assert self._loop is not None
            self._loop.call_later(self.reorder_hold, self._release, delivery)
        elif delay:
            self._spawn(self._enqueue_later(items, delay))
        else:
            self._enqueue(items)

    def _enqueue(self, items: list[tuple[Delivery, int]]) -> None:
        for item in items:
            url = item[0].url
            if url not in self._queues:
                self._queues[url] = asyncio.Queue()
                self._spawn(self._work(self._queues[url]))
            self._queues[url].put_nowait(item)

    def _spawn(self, coroutine: Any) -> None:
        """Run ``coroutine`` on the loop, keeping a reference until it ends (the loop only keeps weak ones)."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _enqueue_later(self, items: list[tuple[Delivery, int]], delay: float) -> None:
        await self.clock.sleep(delay)
        self._enqueue(items)

    def _release(self, delivery: Delivery, after: Delivery | None = None) -> None:
        """Send held deliveries: all of them once another delivery went (``after``), or one whose hold expired."""
        for items in list(self._held):
            if after is None and items[0][0] is not delivery:
                continue
            self._held.remove(items)
            detail = f"released {items[0][0].webhook_id}" + (f" after {after.webhook_id}" if after else " (hold ended)")
            self.faults.note("webhook_reorder", items[0][0].topic, detail)
            self._enqueue(items)

    async def _work(self, queue: asyncio.Queue) -> None:
        while True:
            delivery, copy = await queue.get()
            if copy:
                self.faults.note("webhook_duplicate", delivery.topic, f"copy {copy + 1} of {delivery.webhook_id}")
            if await self._attempt(delivery):
                self._finish(delivery, "delivered")
            else:
                self._spawn(self._retry(delivery))
            if self._held:
                self._release(delivery, after=delivery)

    async def _retry(self, delivery: Delivery) -> None:
        for attempt in range(1, RETRIES + 1):
            await self.clock.sleep(BACKOFF_BASE * 2 ** (attempt - 1) * self.retry_scale)
            if await self._attempt(delivery):
                self._finish(delivery, "delivered")
                return
        if self.state.get(delivery.subscription, "WebhookSubscription"):
            unsubscribe(self.state, delivery.subscription)
            self.faults.note("webhook_subscription_removed", delivery.topic,
                             f"{delivery.subscription} after {RETRIES + 1} failed attempts")
        self._finish(delivery, "failed")

    def _finish(self, delivery: Delivery, outcome: str) -> None:
        delivery.outcome = outcome
        with self._lock:
            self._pending -= 1
            self._idle.notify_all()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            ready = threading.Event()

            def run() -> None:
                self._loop = asyncio.new_event_loop()
                asyncio.set_event_loop(self._loop)
                ready.set()
                self._loop.run_forever()

            self._thread = threading.Thread(target=run, name="shopify-twin-webhooks", daemon=True)
            self._thread.start()
        ready.wait()

    async def _attempt(self, delivery: Delivery) -> bool:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self.transport, timeout=httpx.Timeout(self.timeout, connect=1.0))
        record: dict[str, Any] = {"at": self.clock.now().isoformat(), "status": None, "error": None}
        delivery.attempts.append(record)
        try:
            response = await self._client.post(delivery.url, content=delivery.body, headers=delivery.headers)
            record["status"] = response.status_code
            return 200 <= response.status_code < 300
        except httpx.HTTPError as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
            return False

    # ---------------------------------------------------------------- control

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued delivery (with its retries) is done; False on timeout."""
        with self._lock:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def log(self) -> list[dict[str, Any]]:
        """The delivery log: one entry per delivery with its attempts and outcome."""
        with self._lock:
            return [{"webhook_id": d.webhook_id, "event_id": d.event_id, "topic": d.topic, "url": d.url,
                     "outcome": d.outcome, "attempts": list(d.attempts)} for d in self.deliveries]

    async def _shutdown(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def stop(self) -> None:
        """Stop the delivery thread (queued deliveries are dropped)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        self._loop = self._thread = None
