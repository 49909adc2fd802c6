"""Shopify twin webhooks over loopback: real payload shapes and headers, HMAC, retries, webhook faults."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from doohickey.twins.faults import Fault
from doohickey.twins.shopify import webhooks

from .shopify_support import catalogue, money, place, receiver, served_shop

TOPICS = ["orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled",
          "fulfillments/create", "refunds/create", "inventory_levels/update", "customers/create", "customers/update",
          "products/update"]
SUBSCRIBE = """mutation($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id topic uri } userErrors { field message } } }"""


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def shape_problems(ours: Any, sample: Any, path: str = "$") -> list[str]:
    """Where ``ours`` differs from ``sample`` in keys or value types (null in either is accepted)."""
    if sample is None or ours is None:
        return []
    if isinstance(sample, dict):
        if not isinstance(ours, dict):
            return [f"{path}: expected an object, got {type(ours).__name__}"]
        problems = [f"{path}: keys differ: missing {sorted(set(sample) - set(ours))}, "
                    f"extra {sorted(set(ours) - set(sample))}"] if set(sample) != set(ours) else []
        for key in sample.keys() & ours.keys():
            problems += shape_problems(ours[key], sample[key], f"{path}.{key}")
        return problems
    if isinstance(sample, list):
        if not isinstance(ours, list):
            return [f"{path}: expected a list, got {type(ours).__name__}"]
        return [p for item in ours for p in shape_problems(item, sample[0], f"{path}[]")] if sample else []
    if type(ours) is not type(sample):
        return [f"{path}: expected {type(sample).__name__}, got {type(ours).__name__} ({ours!r})"]
    return []


@pytest.fixture
def contracts(shared_dir: Path) -> Path:
    return shared_dir / "contracts" / "shopify" / "webhooks"


def test_hmac_matches_the_contract_example_and_rejects_tampering(contracts: Path):
    body = (contracts / "hmac-example" / "body.json").read_bytes()
    assert len(body) == 219
    assert webhooks.sign(body, "hush") == "w6JtYuzUNmJZxsjlyxpXok1oZzATjF/LeCYyfES5nmo="
    assert webhooks.verify(body, "w6JtYuzUNmJZxsjlyxpXok1oZzATjF/LeCYyfES5nmo=", "hush")
    pretty = (contracts / "inventory_levels-update.json").read_bytes()
    assert webhooks.sign(pretty, "hush") == "FrmeUY7B22+mSEb3iHq7SCjjt63JHGBEEbMKPF1Bo4E="
    assert not webhooks.verify(body.replace(b'"available":10', b'"available":11'),
                               "w6JtYuzUNmJZxsjlyxpXok1oZzATjF/LeCYyfES5nmo=", "hush")
    assert not webhooks.verify(body, "w6JtYuzUNmJZxsjlyxpXok1oZzATjF/LeCYyfES5nmo=", "other-secret")


def _full_story(shop) -> None:
    """Drive every topic: customer, product, stock, order, fulfilment, refund, cancellation."""
    state = shop.state
    customer = state.create_customer({"email": "ann@example.com", "firstName": "Ann", "lastName": "Lee",
                                      "addresses": [{"address1": "1 Main St", "city": "Ottawa", "countryCode": "CA",
                                                     "zip": "K1A 0A6", "firstName": "Ann", "lastName": "Lee"}]})
    state.update_customer(customer["id"], {"note": "VIP", "tags": ["vip"]})
    state.touch_product(state.variant_by_sku("MUG")["product"]["__ref"])
    address = {"firstName": "Ann", "lastName": "Lee", "address1": "1 Main St", "city": "Ottawa", "countryCode": "CA",
               "zip": "K1A 0A6", "provinceCode": "ON", "phone": "+1 613 555 0100"}
    order = place(shop, [("SHIRT-S", 2), ("MUG", 1)], customer={"toAssociate": {"id": customer["id"]}},
                  shippingAddress=address, billingAddress=address,
                  shippingLines=[{"title": "Standard", "code": "STD", "priceSet": money("4.90"),
                                  "taxLines": [{"title": "HST", "rate": "0.13"}]}],
                  discountCode={"itemFixedDiscountCode": {"code": "WELCOME5", "amountSet": money("5.00")}})
    order_gid = order["id"]
    fo = order["fulfillmentOrders"]["nodes"][0]
    shirt = next(i for i in fo["lineItems"]["nodes"] if i["lineItem"]["sku"] == "SHIRT-S")
    shop.data("""mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { userErrors { message } } }""",
              {"f": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": [
                  {"id": shirt["id"], "quantity": 1}]}], "trackingInfo": {"company": "UPS", "number": "1Z1",
                                                                          "url": "https://ups.test/1Z1"}}})
    mug = next(n["id"] for n in order["lineItems"]["nodes"] if n["sku"] == "MUG")
    shop.data("""mutation($input: RefundInput!) { refundCreate(input: $input) { userErrors { message } } }""",
              {"input": {"orderId": order_gid, "note": "chipped", "refundLineItems": [
                  {"lineItemId": mug, "quantity": 1, "restockType": "RETURN",
                   "locationId": fo and state.location()["id"]}]}})
    shop.data("""mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { userErrors { message } } }""",
              {"f": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}]}})
    second = place(shop, [("SHIRT-M", 1)], customer={"toAssociate": {"id": customer["id"]}})
    shop.data("""mutation($id: ID!) { orderCancel(orderId: $id, reason: CUSTOMER, restock: true) {
        orderCancelUserErrors { message } } }""", {"id": second["id"]})


def test_every_topic_has_the_real_payload_shape_and_headers(contracts: Path):
    with served_shop(secret="s3cret") as shop, receiver() as recv:
        catalogue(shop.state)
        for topic in TOPICS:
            made = shop.data(SUBSCRIBE, {"topic": topic.upper().replace("/", "_"), "sub": {"uri": recv.url}})
            assert made["webhookSubscriptionCreate"]["userErrors"] == []
        listed = shop.data("""{ webhookSubscriptions(first: 20, topics: [ORDERS_CREATE]) { nodes { topic uri } } }""")
        assert listed["webhookSubscriptions"]["nodes"] == [{"topic": "ORDERS_CREATE", "uri": recv.url}]
        _full_story(shop)
        assert shop.state.webhooks.wait_idle(10)
        received = {}
        for delivery in recv.received:
            received.setdefault(delivery["headers"]["x-shopify-topic"], delivery)
        assert sorted(received) == sorted(TOPICS)
        for topic, delivery in received.items():
            headers, body = delivery["headers"], delivery["body"]
            assert webhooks.verify(body, headers["x-shopify-hmac-sha256"], "s3cret"), topic
            assert not webhooks.verify(body + b" ", headers["x-shopify-hmac-sha256"], "s3cret")
            assert len(base64.b64decode(headers["x-shopify-hmac-sha256"])) == 32
            assert headers["x-shopify-shop-domain"] == "twin.myshopify.com"
            assert headers["x-shopify-api-version"] == "2025-10"
            assert headers["content-type"] == "application/json"
            for name in ("x-shopify-webhook-id", "x-shopify-event-id", "x-shopify-triggered-at"):
                assert headers[name], name
            assert headers["x-shopify-triggered-at"].endswith("Z")
            sample = json.loads((contracts / f"{topic.replace('/', '-')}.json").read_text())
            payload = json.loads(body)
            assert list(payload) == list(sample), f"{topic}: key order differs"
            assert shape_problems(payload, sample) == [], topic
        order = json.loads(received["orders/fulfilled"]["body"])
        assert order["fulfillment_status"] == "fulfilled" and order["financial_status"] == "partially_refunded"
        assert order["discount_codes"][0]["code"] == "WELCOME5"
        assert order["shipping_lines"][0]["tax_lines"][0]["title"] == "HST"
        assert order["customer"]["email"] == "ann@example.com"
        assert len(order["fulfillments"]) == 2 and len(order["refunds"]) == 1
        exemplar = json.loads((contracts / "exemplars" / "2025-04-orders-1.json").read_text())
        line_keys = set(exemplar["line_items"][0]["tax_lines"][0])
        assert set(order["shipping_lines"][0]["tax_lines"][0]) == line_keys
        assert json.loads(received["orders/cancelled"]["body"])["cancel_reason"] == "customer"
        fulfilment = json.loads(received["fulfillments/create"]["body"])
        assert fulfilment["tracking_number"] == "1Z1" and fulfilment["line_items"][0]["quantity"] == 1
        event_ids = {d["headers"]["x-shopify-event-id"] for d in recv.received}
        webhook_ids = {d["headers"]["x-shopify-webhook-id"] for d in recv.received}
        assert len(webhook_ids) == len(recv.received) and len(event_ids) <= len(recv.received)


def test_failed_deliveries_are_retried_with_the_same_payload():
    with served_shop(webhook_retry_scale=1e-5) as shop, receiver(statuses=[500, 503]) as recv:
        shop.http.post("/_twin/webhooks", json={"topic": "customers/create", "address": recv.url})
        shop.state.create_customer({"email": "retry@example.com"})
        assert shop.state.webhooks.wait_idle(10)
        assert len(recv.received) == 3
        assert len({r["headers"]["x-shopify-webhook-id"] for r in recv.received}) == 1
        assert len({r["body"] for r in recv.received}) == 1
        log = shop.http.get("/_twin/webhooks").json()["deliveries"]
        assert log[0]["outcome"] == "delivered"
        assert [a["status"] for a in log[0]["attempts"]] == [500, 503, 200]


def test_subscription_removed_after_nine_failed_attempts():
    with served_shop(webhook_retry_scale=1e-6) as shop, receiver(statuses=[500] * 20) as recv:
        shop.http.post("/_twin/webhooks", json={"topic": "customers/create", "address": recv.url})
        shop.state.create_customer({"email": "gone@example.com"})
        assert shop.state.webhooks.wait_idle(10)
        assert len(recv.received) == webhooks.RETRIES + 1
        assert shop.http.get("/_twin/webhooks").json()["subscriptions"] == []
        assert shop.twin.faults.log[-1]["kind"] == "webhook_subscription_removed"


def test_retry_schedule_spans_four_hours():
    waits = [webhooks.BACKOFF_BASE * 2 ** n for n in range(webhooks.RETRIES)]
    assert waits[0] < waits[-1]
    assert abs(sum(waits) - 4 * 3600) < 1


def test_webhook_faults_duplicate_loss_delay_and_reorder():
    faults = [Fault(kind="webhook_duplicate", topics=["customers/create"], count=1),
              Fault(kind="webhook_loss", topics=["customers/update"], count=1),
              Fault(kind="webhook_delay", topics=["products/update"], seconds=0.4, count=1),
              Fault(kind="webhook_reorder", topics=["orders/create"], count=1)]
    with served_shop(faults=faults) as shop, receiver() as recv:
        refs = catalogue(shop.state)
        for topic in ("customers/create", "customers/update", "products/update", "orders/create"):
            shop.http.post("/_twin/webhooks", json={"topic": topic, "address": recv.url})
        customer = shop.state.create_customer({"email": "dup@example.com"})
        shop.state.update_customer(customer["id"], {"note": "lost"})
        started = time.monotonic()
        shop.state.touch_product(refs["mug"]["id"])
        first = place(shop, [("MUG", 1)])
        second = place(shop, [("MUG", 2)])
        assert shop.state.webhooks.wait_idle(10)
        topics = recv.topics()
        assert topics.count("customers/create") == 2
        dup_ids = [r["headers"]["x-shopify-webhook-id"] for r in recv.received
                   if r["headers"]["x-shopify-topic"] == "customers/create"]
        assert dup_ids[0] == dup_ids[1]
        assert "customers/update" not in topics
        assert topics.count("products/update") == 1
        product_at = next(i for i, r in enumerate(recv.received)
                          if r["headers"]["x-shopify-topic"] == "products/update")
        assert time.monotonic() - started >= 0.4 and product_at > topics.index("orders/create")
        order_ids = [json.loads(r["body"])["admin_graphql_api_id"] for r in recv.received
                     if r["headers"]["x-shopify-topic"] == "orders/create"]
        assert order_ids == [second["id"], first["id"]]
        kinds = [e["kind"] for e in shop.twin.faults.log]
        for kind in ("webhook_duplicate", "webhook_loss", "webhook_delay", "webhook_reorder"):
            assert kind in kinds
        lost = [d for d in shop.state.webhooks.log() if d["outcome"] == "lost"]
        assert [d["topic"] for d in lost] == ["customers/update"]


def test_subscription_user_errors():
    with served_shop() as shop:
        bad = shop.data(SUBSCRIBE, {"topic": "ORDERS_CREATE", "sub": {"uri": "ftp://nowhere"}})
        assert bad["webhookSubscriptionCreate"] == {"webhookSubscription": None, "userErrors": [
            {"field": ["webhookSubscription", "callbackUrl"], "message": "Address is invalid"}]}
        ok = {"topic": "ORDERS_CREATE", "sub": {"uri": "http://127.0.0.1:9/hooks"}}
        assert shop.data(SUBSCRIBE, ok)["webhookSubscriptionCreate"]["userErrors"] == []
        again = shop.data(SUBSCRIBE, ok)["webhookSubscriptionCreate"]["userErrors"]
        assert again[0]["message"] == "Address for this topic has already been taken"


def test_slow_receiver_counts_as_failure_and_api_version_follows_the_subscription():
    with served_shop(webhook_retry_scale=1e-5, webhook_timeout=0.2) as shop, receiver(delay=0.5) as recv:
        shop.post(SUBSCRIBE, {"topic": "CUSTOMERS_CREATE", "sub": {"uri": recv.url}}, version="2024-07")
        shop.state.create_customer({"email": "slow@example.com"})
        assert shop.state.webhooks.wait_idle(20)
        attempts = shop.state.webhooks.log()[0]["attempts"]
        assert len(attempts) == webhooks.RETRIES + 1
        assert all(a["status"] is None and "Timeout" in a["error"] for a in attempts)
        assert {r["headers"]["x-shopify-api-version"] for r in recv.received} == {"2024-07"}


def test_without_faults_deliveries_arrive_in_trigger_order():
    with served_shop() as shop, receiver() as recv:
        shop.http.post("/_twin/webhooks", json={"topic": "customers/create", "address": recv.url})
        made = [shop.state.create_customer({"email": f"c{i}@example.com"})["id"] for i in range(15)]
        assert shop.state.webhooks.wait_idle(10)
        assert [json.loads(r["body"])["admin_graphql_api_id"] for r in recv.received] == made


def test_the_shopify_connector_accepts_every_twin_delivery():
    """Interoperation check: the connector's declared webhook verification and parsing take the twin's deliveries."""
    from doohickey.connectors import load

    spec = load("shopify").webhooks
    assert spec is not None
    with served_shop(secret="s3cret") as shop, receiver() as recv:
        catalogue(shop.state)
        for topic in TOPICS:
            shop.http.post("/_twin/webhooks", json={"topic": topic, "address": recv.url})
        _full_story(shop)
        assert shop.state.webhooks.wait_idle(10)
        assert {r["headers"]["x-shopify-topic"] for r in recv.received} == set(TOPICS)
        for delivery in recv.received:
            headers, body = delivery["headers"], delivery["body"]
            assert spec.verify(headers, body, "s3cret"), headers["x-shopify-topic"]
            assert not spec.verify(headers, body[:-1] + b' }', "s3cret")
            parsed = spec.parse(headers, body)
            assert parsed.delivery_id == headers["x-shopify-webhook-id"]
            assert parsed.topic == headers["x-shopify-topic"]
