"""The Shopify connector reads every real webhook sample (docs samples and production exemplars) and verifies HMACs."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from doohickey import model
from doohickey.connectors.shopify import CONNECTOR
from doohickey.connectors.shopify.webhooks import parse, sign, verify

HEADERS = {"X-Shopify-Webhook-Id": "545ebdd4-b7be-4d3d-b14e-54aa78e0e0f9",
           "X-Shopify-Event-Id": "59d6d79c-595f-4e7e-bc6f-72f5c3d0c66f",
           "X-Shopify-Triggered-At": "2025-07-10T16:15:47.000000Z", "X-Shopify-API-Version": "2026-07"}
ENTITY = {"orders": "order", "customers": "customer", "products": "product", "refunds": "refund",
          "fulfillments": "fulfilment", "inventory_levels": "stock"}


@pytest.fixture(scope="module")
def hooks(shared_dir: Path) -> Path:
    return shared_dir / "contracts" / "shopify" / "webhooks"


def delivery(hooks: Path, name: str, topic: str | None = None):
    body = (hooks / f"{name}.json").read_bytes()
    return parse({**HEADERS, "X-Shopify-Topic": topic or name.replace("-", "/", 1)}, body)


def test_every_docs_sample_parses_into_its_entity(hooks):
    samples = sorted(p.stem for p in hooks.glob("*.json"))
    assert len(samples) == 11
    for name in samples:
        parsed = delivery(hooks, name)
        assert parsed.delivery_id == HEADERS["X-Shopify-Webhook-Id"]
        assert parsed.event_id == HEADERS["X-Shopify-Event-Id"]
        assert parsed.triggered_at.isoformat() == "2025-07-10T16:15:47+00:00"
        first = parsed.records[0]
        assert first.entity == ENTITY[name.split("-")[0]], name
        assert first.system == "shopify"
        assert first.external_id.startswith("gid://shopify/")
        assert first.version == "2022-01-01T00:00:00.000000Z"  # 2021-12-31T19:00:00-05:00 in UTC, fixed width


@pytest.mark.parametrize("topic", ["orders/create", "orders/updated", "orders/paid", "orders/cancelled",
                                   "orders/fulfilled"])
def test_order_sample_values(hooks, topic):
    order = delivery(hooks, topic.replace("/", "-")).records[0].data
    assert order["id"] == "gid://shopify/Order/820982911946154508"  # > 2^53, exact
    assert order["number"] == "#9999"
    assert order["currency"] == "USD"
    assert order["customer"]["id"] == "gid://shopify/Customer/115310627314723954"
    assert [(ln["sku"], ln["unit_price"], ln["quantity"]) for ln in order["lines"]] == [
        ("SKU2006-001", "89.99", 1), ("LENS-PROTECT-2YR", "19.99", 1), ("CASE-LEATHER-PREM", "24.99", 1),
        ("SKU2006-020", "159.99", 1), ("SKU2006-035", "119.99", 1)]
    assert order["lines"][0]["id"] == "gid://shopify/LineItem/487817672276298554"
    assert order["subtotal"] == "414.95"  # total_line_items_price: before discounts
    assert order["discount_total"] == "20.00"
    assert order["shipping_total"] == "10.00"
    assert order["tax_total"] == "0.00"
    assert order["total"] == "404.95"
    assert order["shipping_lines"] == [{"title": "Generic Shipping", "code": "", "price": "10.00", "taxes": []}]
    assert order["financial_status"] == "voided"
    assert order["fulfillment_status"] == "unfulfilled"
    assert order["status"] == "cancelled"
    assert order["cancel_reason"] == "customer"
    assert order["cancelled_at"] == "2022-01-01T00:00:00Z"
    assert order["tags"] == ["tag1", "tag2"]
    assert order["shipping_address"]["country"] == "US"
    assert order["shipping_address"]["province"] == "KY"
    loaded = model.from_dict(model.Order, order)
    assert loaded.total == Decimal("404.95")


def test_refund_sample_values(hooks):
    refund = delivery(hooks, "refunds-create").records[0].data
    assert refund["id"] == "gid://shopify/Refund/890088186047892319"
    assert refund["order_id"] == "gid://shopify/Order/820982911946154508"
    assert refund["amount"] == "85.00"  # two successful refund transactions: 75.00 + 10.00
    assert refund["reason"] == "Things were damaged"
    assert [(ln["sku"], ln["quantity"], ln["amount"], ln["restock"]) for ln in refund["lines"]][:2] == [
        ("SKU2006-001", 1, "89.99", False), ("LENS-PROTECT-2YR", 1, "19.99", False)]


def test_fulfilment_sample_values(hooks):
    fulfilment = delivery(hooks, "fulfillments-create").records[0].data
    assert fulfilment["id"] == "gid://shopify/Fulfillment/123456"
    assert fulfilment["order_id"] == "gid://shopify/Order/820982911946154508"
    assert fulfilment["order_number"] == "#9999"
    assert fulfilment["carrier"] == "UPS"
    assert fulfilment["tracking_number"] == "1z827wk74630"
    assert fulfilment["tracking_url"].startswith("https://www.ups.com/")
    assert fulfilment["lines"][0] == {"sku": "SKU2006-001", "quantity": 1}


def test_customer_sample_values(hooks):
    for name in ("customers-create", "customers-update"):
        customer = delivery(hooks, name).records[0].data
        assert customer["id"] == "gid://shopify/Customer/706405506930370084"
        assert customer["email"] == "bob@biller.com"
        assert (customer["first_name"], customer["last_name"]) == ("Bob", "Biller")
        assert customer["addresses"][0]["line1"] == "151 O'Connor Street"
        assert customer["addresses"][0]["country"] == "CA"


def test_product_sample_gives_the_product_and_each_variant(hooks):
    records = delivery(hooks, "products-update").records
    product, variants = records[0], records[1:]
    assert product.data["id"] == "gid://shopify/Product/788032119674292922"
    assert product.data["code"] == "example-t-shirt"
    assert [v.external_id for v in variants] == ["gid://shopify/ProductVariant/642667041472713922",
                                                 "gid://shopify/ProductVariant/757650484644203962"]
    assert all(v.entity == "variant" and v.data["price"] == "19.99" for v in variants)
    assert variants[0].data["product_id"] == product.external_id


def test_inventory_level_sample_is_keyed_by_the_level_gid(hooks):
    level = delivery(hooks, "inventory_levels-update").records[0]
    assert level.external_id == "gid://shopify/InventoryLevel/24826418?inventory_item_id=271878346596884015"
    assert level.data["inventory_item_id"] == "gid://shopify/InventoryItem/271878346596884015"
    assert level.data["location_id"] == "gid://shopify/Location/24826418"
    assert level.data["available"] == 10


# --- exemplars: real production key sets, placeholder values ----------------------------------------

EXEMPLAR_TOPIC = {"orders": "orders/updated", "refunds": "refunds/create", "products": "products/update",
                  "customers": "customers/update", "inventory_levels": "inventory_levels/update",
                  "fulfillments": "fulfillments/create"}
PLACEHOLDER_MONEY = re.compile(r'"(amount|price|subtotal|total_discount|total_tax|total_price|subtotal_price|'
                               r'total_discounts|pre_tax_price|rate|tax_amount)": "example string"')


def exemplar(hooks: Path, path: Path) -> tuple[str, bytes]:
    resource = path.stem.split("-", 2)[2].rsplit("-", 1)[0]
    return EXEMPLAR_TOPIC[resource], path.read_bytes()


def test_exemplars_with_placeholder_money_are_refused_with_the_field_named(hooks):
    topic, body = exemplar(hooks, hooks / "exemplars" / "2025-04-orders-1.json")
    with pytest.raises(ValueError, match=r"orders/updated: .*'example string' is not a money amount"):
        parse({**HEADERS, "X-Shopify-Topic": topic}, body)


def test_every_exemplar_parses_once_its_placeholder_money_is_a_number(hooks):
    paths = sorted((hooks / "exemplars").glob("*.json"))
    assert len(paths) == 7
    for path in paths:
        topic, body = exemplar(hooks, path)
        fixed = PLACEHOLDER_MONEY.sub(lambda m: f'"{m.group(1)}": "1.50"', body.decode()).encode()
        parsed = parse({**HEADERS, "X-Shopify-Topic": topic}, fixed)
        first = parsed.records[0]
        assert first.entity == ENTITY[topic.split("/")[0]], path.name
        assert first.external_id.startswith("gid://shopify/"), path.name
        assert "123" in first.external_id, path.name  # the placeholder id, made a gid
        assert first.version == "2019-01-01T00:00:00.000000Z" or first.entity == "product"


# --- signatures -----------------------------------------------------------------------------------

def test_hmac_worked_example_verifies_and_a_tampered_body_is_rejected(hooks):
    body = (hooks / "hmac-example" / "body.json").read_bytes()
    good = {"X-Shopify-Hmac-Sha256": "w6JtYuzUNmJZxsjlyxpXok1oZzATjF/LeCYyfES5nmo="}
    assert len(body) == 219
    assert verify(good, body, "hush")
    assert verify({"x-shopify-hmac-sha256": good["X-Shopify-Hmac-Sha256"]}, body, "hush")  # any header case
    assert not verify(good, body.replace(b'"available":10', b'"available":99'), "hush")
    assert not verify(good, body, "wrong-secret")
    assert not verify({}, body, "hush")
    assert not verify({"X-Shopify-Hmac-Sha256": "not base64!"}, body, "hush")
    pretty = (hooks / "inventory_levels-update.json").read_bytes()
    assert verify({"X-Shopify-Hmac-Sha256": "FrmeUY7B22+mSEb3iHq7SCjjt63JHGBEEbMKPF1Bo4E="}, pretty, "hush")
    assert sign(body, "hush") == good["X-Shopify-Hmac-Sha256"]


def test_connector_declares_the_webhook_spec():
    assert CONNECTOR.webhooks is not None
    assert CONNECTOR.webhooks.signature_header == "X-Shopify-Hmac-Sha256"
    assert CONNECTOR.webhooks.verify is verify


# --- malformed deliveries ------------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "body", "words"), [
    ({"X-Shopify-Topic": "orders/create"}, b'{"id": 1, "line_items": [', "orders/create: the body is not valid JSON"),
    ({"X-Shopify-Topic": "orders/create"}, b"[1, 2]", "not a JSON object"),
    ({}, b"{}", "without an X-Shopify-Topic header"),
    ({"X-Shopify-Topic": "carts/create"}, b"{}", "'carts/create' is not one the connector reads"),
    ({"X-Shopify-Topic": "orders/create"}, json.dumps({"id": 1, "created_at": "yesterday"}).encode(),
     "created_at: 'yesterday' is not an ISO-8601 time"),
    ({"X-Shopify-Topic": "orders/create"}, json.dumps({"id": 1, "line_items": [{"quantity": "two"}]}).encode(),
     "line_items[0].quantity: 'two' is not a whole number"),
])
def test_malformed_deliveries_raise_a_clear_value_error(headers, body, words):
    with pytest.raises(ValueError) as caught:
        parse(headers, body)
    assert words in str(caught.value)
