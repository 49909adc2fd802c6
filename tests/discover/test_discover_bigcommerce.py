"""Discovery on real documents: BigCommerce's published OpenAPI files and the ERP twin's own document.

What is asserted is what BigCommerce documents: an ``X-Auth-Token`` API-key header,
``page``/``limit`` paging (v3 answers carry ``meta.pagination``), ``date_modified``
filters, the store hash as a server variable, scopes per API area.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from doohickey.discover import discover, discover_document, discover_many
from doohickey.discover.profile import SystemProfile, load_profile


@pytest.fixture(scope="module")
def bc(shared_dir: Path) -> Path:
    return shared_dir / "contracts" / "bigcommerce" / "openapi"


def ops(profile: SystemProfile, entity: str) -> dict[str, str]:
    return {k: f"{o.method} {o.path}" for k, o in profile.entity(entity).operations.items()}


def test_orders_v2_order_entity_with_all_five_operations(bc: Path) -> None:
    profile = discover(bc / "orders.v2.oas2.yml")
    assert ops(profile, "order") == {
        "list": "GET /orders", "get": "GET /orders/{order_id}", "create": "POST /orders",
        "update": "PUT /orders/{order_id}", "delete": "DELETE /orders/{order_id}",
    }
    order = profile.entity("order")
    assert order.id_field == "id"
    assert order.poll is not None and (order.poll.param, order.poll.field) == ("min_date_modified", "date_modified")
    assert order.poll.confidence >= 0.8
    assert (order.pagination.style, order.pagination.page_param, order.pagination.size_param) == ("page", "page",
                                                                                                   "limit")
    assert order.records_path == ""  # v2 answers a bare array
    assert order.write_schema == "order_Post"
    assert any(e.where.startswith("GET /orders param min_date_modified") for e in order.poll.evidence)
    # shipments live under an order in v2
    shipment = profile.entity("shipment")
    assert shipment.operations["create"].path == "/orders/{order_id}/shipments"
    assert "order_id" in shipment.operations["create"].path_params
    assert profile.servers[0].variables == {"store_hash": "store_hash"}
    assert {"coupon", "tax"} <= set(profile.other_resources)


def test_auth_is_the_x_auth_token_header_with_scopes_from_the_description(bc: Path) -> None:
    profile = discover(bc / "orders.v2.oas2.yml")
    (scheme,) = profile.auth
    assert (scheme.type, scheme.location, scheme.param_name, scheme.required) == ("apiKey", "header",
                                                                                 "X-Auth-Token", True)
    hints = {h.scope: h.access for h in scheme.scope_hints}
    assert hints == {"store_v2_orders": "write", "store_v2_orders_read_only": "read"}


def test_catalog_products_page_limit_and_meta_pagination(bc: Path) -> None:
    profile = discover(bc / "products_catalog.v3.yml")
    product = profile.entity("product")
    assert ops(profile, "product")["list"] == "GET /catalog/products"
    assert ops(profile, "product")["get"] == "GET /catalog/products/{product_id}"
    assert product.records_path == "data"
    pag = product.pagination
    assert (pag.style, pag.page_param, pag.size_param, pag.max_size) == ("page", "page", "limit", 250)
    assert pag.total_pages_path == "meta.pagination.total_pages"
    assert product.poll is not None and product.poll.param == "date_modified:min"
    assert product.poll.field == "date_modified"
    assert {"sku", "name", "price"} <= {f.path for f in product.fields}


def test_customers_batch_writes_and_cursor_offered(bc: Path) -> None:
    profile = discover(bc / "customers.v3.yml")
    customer = profile.entity("customer")
    assert customer.operations["create"].batch and customer.operations["create"].path == "/customers"
    assert customer.operations["update"].batch
    assert "get" not in customer.operations  # BigCommerce reads one customer with ?id:in=
    assert "id:in" in customer.operations["list"].filters
    assert customer.pagination.style == "page" and "cursor" in customer.pagination.also
    assert customer.poll is not None and customer.poll.param == "date_modified:min"
    kinds = {h.kind for h in profile.rate_limits}
    assert {"status", "text"} <= kinds
    assert any("concurrent requests" in h.detail for h in profile.rate_limits)


def test_variants_stock_refunds_and_webhooks(bc: Path) -> None:
    variants = discover(bc / "product-variants_catalog.v3.yml")
    assert ops(variants, "variant")["list"] == "GET /catalog/variants"
    assert ops(variants, "variant")["create"] == "POST /catalog/products/{product_id}/variants"
    stock = discover(bc / "inventory.v3.yml").entity("stock")
    assert stock.operations["list"].path == "/inventory/items"
    assert stock.operations["update"].path == "/inventory/adjustments/absolute"
    refunds = discover(bc / "orders.v3.yml")
    assert ops(refunds, "refund")["get"] == "GET /orders/payment_actions/refunds/{refund_id}"
    assert ops(refunds, "refund")["create"] == "POST /orders/{order_id}/payment_actions/refunds"
    hooks = discover(bc / "webhooks.v3.yml").webhooks
    assert hooks.subscribe is not None and (hooks.subscribe.path, hooks.topic_field) == ("/hooks", "scope")
    topics = {t.topic: t.entity for t in hooks.topics}
    assert topics["store/order/created"] == "order"
    assert topics["store/product/updated"] == "product"
    assert len(topics) > 40


def test_all_nine_files_merge_into_one_profile_quickly(bc: Path, tmp_path: Path) -> None:
    started = time.perf_counter()
    profile = discover_many(sorted(bc.glob("*.yml")))
    elapsed = time.perf_counter() - started
    print(f"\nBigCommerce: 9 files, {profile.stats.operations} operations, discovered in {elapsed:.2f} s")
    assert {"order", "customer", "product", "variant", "stock", "shipment", "refund"} <= set(profile.entities)
    assert len(profile.auth) == 1
    assert {"store_v2_products_read_only", "store_inventory", "store_v2_customers"} <= {
        h.scope for h in profile.auth[0].scope_hints}
    written = profile.write(tmp_path / "bigcommerce.yaml")
    again = load_profile(written)
    assert again.entity("order").operations["list"].path == "/orders"
    assert again.entity("product").pagination.max_size == 250


def test_the_erp_twins_published_document() -> None:
    from doohickey.clock import SYSTEM_CLOCK
    from doohickey.twins.erp import create_twin
    from doohickey.twins.erp.app import build_app
    from doohickey.twins.erp.state import ErpState

    create_twin()  # the factory works with defaults
    document = build_app(ErpState(SYSTEM_CLOCK), api_keys=("k",)).openapi()
    profile = discover_document(document)
    assert {"customer", "product", "order", "stock", "fulfilment", "refund"} <= set(profile.entities)
    assert ops(profile, "order")["list"] == "GET /api/v1/sales-orders"
    assert ops(profile, "order")["create"] == "POST /api/v1/sales-orders"
    assert ops(profile, "customer")["update"] == "PATCH /api/v1/customers/{customer_id}"
    for entity in profile.entities.values():
        assert entity.poll is not None and entity.poll.param == "updated_since"
        assert entity.poll.field == "updated_at"
        assert entity.pagination.style == "page" and entity.pagination.confidence == 0.99
        assert entity.records_path == "items"
    (scheme,) = profile.auth
    assert (scheme.param_name, scheme.required) == ("X-Api-Key", True)
    assert "Idempotency-Key" in profile.entity("order").operations["create"].headers
    assert profile.entity("order").enums[0].values == ["draft", "confirmed", "partially_fulfilled", "fulfilled",
                                                       "cancelled"]
