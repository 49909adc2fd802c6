"""The Shopify twin's Admin GraphQL API over real loopback HTTP: reads, search, pagination, writes, userErrors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from doohickey.twins import datagen

from .shopify_support import ORDER_CREATE, catalogue, money, place, served_shop


@pytest.fixture
def shop():
    with served_shop() as served:
        served.refs = catalogue(served.state)
        yield served


def test_wrong_token_gets_shopify_401(shop):
    response = shop.post("{ shop { name } }", token="shpat_wrong")
    assert response.status_code == 401
    assert response.json() == {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    assert shop.post("{ shop { name } }", version="2024-07").status_code == 200


def test_bad_body_is_400_and_invalid_document_lists_errors(shop):
    response = shop.http.post("/admin/api/2025-10/graphql.json", content=b"nope",
                              headers={"X-Shopify-Access-Token": shop.twin.info["token"]})
    assert response.status_code == 400
    body = shop.gql("{ orders(first: 1) { nodes { notAField } } }")
    assert "notAField" in body["errors"][0]["message"]


def test_order_with_discount_tax_shipping_has_shopify_totals(shop):
    order = place(shop, [("SHIRT-S", 2), ("MUG", 1)],
                  shippingLines=[{"title": "Standard", "priceSet": money("4.90"),
                                  "taxLines": [{"title": "VAT", "rate": "0.2", "priceSet": money("0.98")}]}],
                  discountCode={"itemFixedDiscountCode": {"code": "WELCOME5", "amountSet": money("5.95")}},
                  taxLines=[])
    assert order["name"] == "#1001"
    assert order["displayFinancialStatus"] == "PAID"
    assert order["discountCodes"] == ["WELCOME5"]
    # lines 2 x 25.00 + 9.50 = 59.50; discount 5.95 -> subtotal 53.55; + shipping 4.90 + tax 0.98 = 59.43
    assert order["subtotalPriceSet"]["shopMoney"] == {"amount": "53.55", "currencyCode": "USD"}
    assert order["totalDiscountsSet"]["shopMoney"]["amount"] == "5.95"
    assert order["totalShippingPriceSet"]["shopMoney"]["amount"] == "4.9"
    assert order["totalTaxSet"]["shopMoney"]["amount"] == "0.98"
    assert order["totalPriceSet"]["shopMoney"]["amount"] == "59.43"
    detail = shop.data("""query($id: ID!) { order(id: $id) {
        customer { id } shippingLines(first: 5) { nodes { title originalPriceSet { shopMoney { amount } }
          taxLines { title rate priceSet { shopMoney { amount } } } } }
        lineItems(first: 5) { nodes { sku originalUnitPriceSet { shopMoney { amount } }
          discountAllocations { allocatedAmountSet { shopMoney { amount } } } taxLines { title } } } } }""",
                       {"id": order["id"]})["order"]
    allocations = [Decimal(n["discountAllocations"][0]["allocatedAmountSet"]["shopMoney"]["amount"])
                   for n in detail["lineItems"]["nodes"]]
    assert sum(allocations) == Decimal("5.95")
    assert detail["shippingLines"]["nodes"][0]["taxLines"][0]["rate"] == 0.2
    assert [n["originalUnitPriceSet"]["shopMoney"]["amount"] for n in detail["lineItems"]["nodes"]] == ["25.0", "9.5"]


def test_generated_orders_keep_their_totals(shop):
    dataset = datagen.generate(3, products=6, customers=8, orders=12)
    from doohickey.twins.shopify.seed import seed_bulk

    result = seed_bulk(shop.state, {"customers": dataset.customers, "products": dataset.products,
                                    "stock": dataset.stock, "orders": dataset.orders})
    assert len(result["created"]["orders"]) == 12
    for canonical, order_gid in zip(dataset.orders, result["created"]["orders"], strict=True):
        stored = shop.state.get(order_gid)
        assert Decimal(stored["totalPriceSet"]["shopMoney"]["amount"]) == canonical.total, canonical.number
        assert stored["totalPriceSet"]["shopMoney"]["currencyCode"] == canonical.currency


def test_pagination_walks_every_order_once(shop):
    for _ in range(7):
        place(shop, [("MUG", 1)])
    seen, after, pages = [], None, 0
    while True:
        data = shop.data("""query($after: String) { orders(first: 3, after: $after, sortKey: CREATED_AT) {
            edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }""", {"after": after})["orders"]
        pages += 1
        seen += [e["node"]["name"] for e in data["edges"]]
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == [f"#{1001 + i}" for i in range(7)]
    last_two = shop.data("{ orders(last: 2) { nodes { name } pageInfo { hasPreviousPage } } }")["orders"]
    assert [n["name"] for n in last_two["nodes"]] == ["#1006", "#1007"]
    assert last_two["pageInfo"]["hasPreviousPage"] is True
    assert "first or last" in shop.gql("{ orders { nodes { id } } }")["errors"][0]["message"]


def test_updated_at_search_returns_only_newer_orders(shop):
    from doohickey.clock import ManualClock

    clock = ManualClock()
    with served_shop(clock=clock) as timed:
        catalogue(timed.state)
        place(timed, [("MUG", 1)])
        clock.advance(3600)
        place(timed, [("MUG", 2)])
        query = """query($q: String) { orders(first: 10, query: $q) { nodes { name updatedAt } } }"""
        newer = timed.data(query, {"q": "updated_at:>'2026-01-01T00:30:00Z'"})["orders"]["nodes"]
        assert [n["name"] for n in newer] == ["#1002"]
        assert newer[0]["updatedAt"] == "2026-01-01T01:00:00Z"
        both = timed.data(query, {"q": "updated_at:>=2026-01-01 status:open"})["orders"]["nodes"]
        assert len(both) == 2
        assert timed.data(query, {"q": "financial_status:paid email:ANN@example.com"})["orders"]["nodes"]


def test_lookups_by_sku_and_email(shop):
    shop.state.create_customer({"email": "Bob@Example.com", "firstName": "Bob"})
    data = shop.data("""{ productVariants(first: 5, query: "sku:SHIRT-M") { nodes { sku price title
          product { title vendor } inventoryItem { id sku } inventoryQuantity } }
        customers(first: 5, query: "email:bob@example.com") { nodes { firstName defaultEmailAddress { emailAddress } } }
        locations(first: 5) { nodes { name } } }""")
    variant = data["productVariants"]["nodes"][0]
    assert variant == {"sku": "SHIRT-M", "price": "25.0", "title": "M", "product": {"title": "Organic shirt",
                       "vendor": "Acme"}, "inventoryItem": {"id": variant["inventoryItem"]["id"], "sku": "SHIRT-M"},
                       "inventoryQuantity": 4}
    assert data["customers"]["nodes"] == [{"firstName": "Bob",
                                           "defaultEmailAddress": {"emailAddress": "Bob@Example.com"}}]
    assert [n["name"] for n in data["locations"]["nodes"]] == ["Main warehouse", "Overflow"]


INVENTORY_SET = """mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) {
  inventoryAdjustmentGroup { reason changes { name delta quantityAfterChange } }
  userErrors { code field message } } }"""
LEVELS = """query($id: ID!) { inventoryItem(id: $id) { inventoryLevels(first: 5) { nodes { location { name }
  quantities(names: ["available", "on_hand"]) { name quantity } } } } }"""


def test_inventory_set_quantities_and_its_user_errors(shop):
    item = shop.state.variant_by_sku("SHIRT-S")["inventoryItem"]["__ref"]
    main = shop.refs["main"]["id"]
    ok = shop.data(INVENTORY_SET, {"input": {"name": "available", "reason": "correction", "quantities": [
        {"inventoryItemId": item, "locationId": main, "quantity": 7, "compareQuantity": 10}]}})
    assert ok["inventorySetQuantities"]["userErrors"] == []
    assert ok["inventorySetQuantities"]["inventoryAdjustmentGroup"]["changes"] == [
        {"name": "available", "delta": -3, "quantityAfterChange": 7}]
    levels = shop.data(LEVELS, {"id": item})["inventoryItem"]["inventoryLevels"]["nodes"]
    assert levels == [{"location": {"name": "Main warehouse"},
                       "quantities": [{"name": "available", "quantity": 7}, {"name": "on_hand", "quantity": 7}]}]

    def errors(quantity: dict, **extra) -> list[dict]:
        body = shop.data(INVENTORY_SET, {"input": {"name": "available", "reason": "correction",
                                                   "quantities": [quantity], **extra}})
        assert body["inventorySetQuantities"]["inventoryAdjustmentGroup"] is None
        return body["inventorySetQuantities"]["userErrors"]

    assert errors({"inventoryItemId": item, "locationId": main, "quantity": 1, "compareQuantity": 10})[0]["code"] \
        == "COMPARE_QUANTITY_STALE"
    required = errors({"inventoryItemId": item, "locationId": main, "quantity": 1})
    assert required[0]["code"] == "COMPARE_QUANTITY_REQUIRED"
    assert errors({"inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": main, "quantity": 1},
                  ignoreCompareQuantity=True)[0]["code"] == "INVALID_INVENTORY_ITEM"
    not_stocked = errors({"inventoryItemId": item, "locationId": shop.refs["backup"]["id"], "quantity": 1},
                         ignoreCompareQuantity=True)[0]
    assert not_stocked["code"] == "ITEM_NOT_STOCKED_AT_LOCATION"
    assert not_stocked["field"] == ["input", "quantities", "0", "locationId"]
    bad_name = shop.data(INVENTORY_SET, {"input": {"name": "incoming", "reason": "correction", "quantities": [
        {"inventoryItemId": item, "locationId": main, "quantity": 1}], "ignoreCompareQuantity": True}})
    assert bad_name["inventorySetQuantities"]["userErrors"][0]["code"] == "INVALID_NAME"


FULFIL = """mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
  fulfillment { id name status trackingInfo { company number url } fulfillmentLineItems(first: 5) { nodes { quantity
    lineItem { sku } } } }
  userErrors { field message } } }"""


def test_partial_fulfilment_with_tracking_then_the_rest(shop):
    order = place(shop, [("SHIRT-S", 3), ("MUG", 1)])
    fo = order["fulfillmentOrders"]["nodes"][0]
    shirt_item = next(i for i in fo["lineItems"]["nodes"] if i["lineItem"]["sku"] == "SHIRT-S")
    first = shop.data(FULFIL, {"f": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"],
                                     "fulfillmentOrderLineItems": [{"id": shirt_item["id"], "quantity": 2}]}],
                                     "trackingInfo": {"company": "UPS", "number": "1Z999",
                                                      "url": "https://ups.test/1Z999"}}})
    made = first["fulfillmentCreate"]
    assert made["userErrors"] == []
    assert made["fulfillment"]["trackingInfo"] == [{"company": "UPS", "number": "1Z999", "url": "https://ups.test/1Z999"}]
    assert made["fulfillment"]["fulfillmentLineItems"]["nodes"] == [{"quantity": 2, "lineItem": {"sku": "SHIRT-S"}}]
    state = shop.data("""query($id: ID!) { order(id: $id) { displayFulfillmentStatus
        lineItems(first: 5) { nodes { sku unfulfilledQuantity } } fulfillments { name } } }""", {"id": order["id"]})
    assert state["order"]["displayFulfillmentStatus"] == "PARTIALLY_FULFILLED"
    unfulfilled = {n["sku"]: n["unfulfilledQuantity"] for n in state["order"]["lineItems"]["nodes"]}
    assert unfulfilled == {"SHIRT-S": 1, "MUG": 1}

    too_many = shop.data(FULFIL, {"f": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"],
                                        "fulfillmentOrderLineItems": [{"id": shirt_item["id"], "quantity": 2}]}]}})
    assert too_many["fulfillmentCreate"]["fulfillment"] is None
    assert "quantity" in too_many["fulfillmentCreate"]["userErrors"][0]["field"]

    rest = shop.data(FULFIL, {"f": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}]}})
    assert rest["fulfillmentCreate"]["fulfillment"]["name"] == f"{order['name']}.2"
    after = shop.data("""query($id: ID!) { order(id: $id) { displayFulfillmentStatus } }""", {"id": order["id"]})
    assert after["order"]["displayFulfillmentStatus"] == "FULFILLED"
    level = shop.state.level(int(shop.state.variant_by_sku("SHIRT-S")["inventoryItem"]["__ref"].rsplit("/", 1)[1]),
                             int(shop.refs["main"]["id"].rsplit("/", 1)[1]))
    assert level == {**level, "on_hand": 7, "committed": 0, "available": 7}
    assert shop.state.stock("SHIRT-S") == {"Main warehouse": {"available": 7, "on_hand": 7, "committed": 0}}
    assert shop.state.order_by_name(order["name"])["displayFulfillmentStatus"] == "FULFILLED"


CANCEL = """mutation($id: ID!) { orderCancel(orderId: $id, reason: CUSTOMER, restock: true, refund: true) {
  job { id done } orderCancelUserErrors { code field message } } }"""


def test_cancel_restocks_and_refunds(shop):
    order = place(shop, [("SHIRT-M", 3)])
    item = int(shop.state.variant_by_sku("SHIRT-M")["inventoryItem"]["__ref"].rsplit("/", 1)[1])
    main = int(shop.refs["main"]["id"].rsplit("/", 1)[1])
    assert shop.state.level(item, main)["available"] == 1
    result = shop.data(CANCEL, {"id": order["id"]})["orderCancel"]
    assert result["orderCancelUserErrors"] == [] and result["job"]["done"] is True
    assert shop.state.level(item, main)["available"] == 4
    after = shop.data("""query($id: ID!) { order(id: $id) { cancelledAt cancelReason closed displayFinancialStatus
        totalRefundedSet { shopMoney { amount } } refunds { id } } }""", {"id": order["id"]})["order"]
    assert after["cancelReason"] == "CUSTOMER" and after["cancelledAt"] and after["closed"]
    assert after["displayFinancialStatus"] == "REFUNDED"
    assert after["totalRefundedSet"]["shopMoney"]["amount"] == "75.0"
    again = shop.data(CANCEL, {"id": order["id"]})["orderCancel"]["orderCancelUserErrors"]
    assert again[0]["code"] == "INVALID"
    missing = shop.data(CANCEL, {"id": "gid://shopify/Order/1"})["orderCancel"]["orderCancelUserErrors"]
    assert missing[0]["code"] == "NOT_FOUND"


REFUND = """mutation($input: RefundInput!) { refundCreate(input: $input) {
  refund { id totalRefundedSet { shopMoney { amount } } refundLineItems(first: 5) { nodes { quantity restockType
    lineItem { sku } } } }
  order { displayFinancialStatus }
  userErrors { field message } } }"""


def test_refund_lines_with_restock_and_refusals(shop):
    order = place(shop, [("SHIRT-S", 2), ("MUG", 2)])
    lines = {n["sku"]: n["id"] for n in order["lineItems"]["nodes"]}
    result = shop.data(REFUND, {"input": {"orderId": order["id"], "note": "damaged", "refundLineItems": [
        {"lineItemId": lines["MUG"], "quantity": 1, "restockType": "NO_RESTOCK"}]}})["refundCreate"]
    assert result["userErrors"] == []
    assert result["refund"]["totalRefundedSet"]["shopMoney"]["amount"] == "9.5"
    assert result["order"]["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    too_many = shop.data(REFUND, {"input": {"orderId": order["id"], "refundLineItems": [
        {"lineItemId": lines["MUG"], "quantity": 2}]}})["refundCreate"]
    assert too_many["refund"] is None
    assert too_many["userErrors"][0]["field"] == ["refundLineItems", "0", "quantity"]
    over = shop.data(REFUND, {"input": {"orderId": order["id"], "transactions": [
        {"orderId": order["id"], "amount": "500.00", "gateway": "manual", "kind": "REFUND"}]}})["refundCreate"]
    assert "greater than the refundable amount" in over["userErrors"][0]["message"]


CUSTOMER_CREATE = """mutation($input: CustomerInput!) { customerCreate(input: $input) {
  customer { id email firstName addresses { city countryCodeV2 } } userErrors { field message } } }"""


def test_customer_create_and_duplicate_email(shop):
    made = shop.data(CUSTOMER_CREATE, {"input": {"email": "zoë@example.com", "firstName": "Zoë",
                                                 "addresses": [{"city": "Zürich", "countryCode": "CH"}]}})
    assert made["customerCreate"]["customer"]["addresses"] == [{"city": "Zürich", "countryCodeV2": "CH"}]
    dup = shop.data(CUSTOMER_CREATE, {"input": {"email": "ZOË@example.com"}})["customerCreate"]
    assert dup["customer"] is None
    assert dup["userErrors"] == [{"field": ["email"], "message": "Email has already been taken"}]
    bad = shop.data(CUSTOMER_CREATE, {"input": {"email": "not-an-email"}})["customerCreate"]
    assert bad["userErrors"][0]["message"] == "Email is invalid"
    zoe = made["customerCreate"]["customer"]["id"]
    update = """mutation($input: CustomerInput!) { customerUpdate(input: $input) {
      customer { id lastName tags updatedAt } userErrors { field message } } }"""
    changed = shop.data(update, {"input": {"id": zoe, "lastName": "Ødegård", "tags": ["vip"]}})["customerUpdate"]
    assert changed["userErrors"] == [] and changed["customer"]["lastName"] == "Ødegård"
    assert changed["customer"]["tags"] == ["vip"]
    missing = shop.data(update, {"input": {"id": "gid://shopify/Customer/1", "note": "x"}})["customerUpdate"]
    assert missing["customer"] is None and missing["userErrors"][0]["field"] == ["id"]


def test_order_create_refuses_unknown_variant_and_zero_quantity(shop):
    body = shop.data(ORDER_CREATE, {"order": {"lineItems": [{"variantId": "gid://shopify/ProductVariant/1",
                                                             "quantity": 1}]}})["orderCreate"]
    assert body["order"] is None
    assert body["userErrors"][0]["field"] == ["order", "lineItems", "0", "variantId"]
    zero = shop.data(ORDER_CREATE, {"order": {"lineItems": [{"sku": "MUG", "quantity": 0}]}})["orderCreate"]
    assert zero["userErrors"][0]["field"] == ["order", "lineItems", "0", "quantity"]


def test_twin_helpers_seed_and_place_orders(shop):
    response = shop.http.post("/_twin/orders", json={"email": "c@example.com", "lineItems": [
        {"sku": "MUG", "quantity": 2, "requiresShipping": True}]})
    assert response.status_code == 201
    assert response.json()["totalPrice"] == {"amount": "19.0", "currencyCode": "USD"}
    seeded = shop.http.post("/_twin/seed", json={"customers": [{"email": "d@example.com", "first_name": "D"},
                                                              {"email": "D@example.com"}]}).json()
    assert len(seeded["created"]["customers"]) == 1
    assert seeded["refused"][0]["errors"][0]["message"] == "Email has already been taken"
    assert shop.http.get("/").status_code == 200
    assert "type QueryRoot" in shop.http.get("/_twin/schema.graphql").text
    assert "<textarea" in shop.http.get("/admin/api/2025-10/graphql.json").text
    assert "Orders" in shop.http.get("/_twin/").text or "Order" in shop.http.get("/_twin/").text


def test_reverse_sort_nested_pagination_and_node_lookups(shop):
    from doohickey.clock import ManualClock

    clock = ManualClock()
    with served_shop(clock=clock) as timed:
        catalogue(timed.state)
        made = []
        for quantity in (1, 2, 3):
            made.append(place(timed, [("MUG", quantity), ("SHIRT-S", 1), ("SHIRT-M", 1)]))
            clock.advance(60)
        query = """query($after: String) { orders(first: 2, after: $after, sortKey: UPDATED_AT, reverse: true) {
            nodes { name } pageInfo { hasNextPage endCursor } } }"""
        page = timed.data(query)["orders"]
        assert [n["name"] for n in page["nodes"]] == ["#1003", "#1002"] and page["pageInfo"]["hasNextPage"]
        rest = timed.data(query, {"after": page["pageInfo"]["endCursor"]})["orders"]
        assert [n["name"] for n in rest["nodes"]] == ["#1001"] and not rest["pageInfo"]["hasNextPage"]
        lines = """query($id: ID!, $after: String) { order(id: $id) { lineItems(first: 2, after: $after) {
            edges { cursor node { sku } } pageInfo { hasNextPage endCursor } } } }"""
        first = timed.data(lines, {"id": made[0]["id"]})["order"]["lineItems"]
        assert [e["node"]["sku"] for e in first["edges"]] == ["MUG", "SHIRT-S"] and first["pageInfo"]["hasNextPage"]
        second = timed.data(lines, {"id": made[0]["id"], "after": first["pageInfo"]["endCursor"]})["order"]["lineItems"]
        assert [e["node"]["sku"] for e in second["edges"]] == ["SHIRT-M"]
        nodes = timed.data("""query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Order { name } } }""",
                           {"ids": [made[1]["id"], "gid://shopify/Order/1"]})["nodes"]
        assert nodes == [{"__typename": "Order", "id": made[1]["id"], "name": "#1002"}, None]
        assert "Invalid cursor" in timed.gql(query, {"after": "garbage"})["errors"][0]["message"]


def test_unknown_twin_option_is_refused():
    from doohickey.twins import create_twin

    with pytest.raises(TypeError, match="unknown Shopify twin option"):
        create_twin("shopify", colour="red")


def test_concurrent_writers_over_http_and_in_process_stay_consistent(shop):
    import threading

    import httpx

    errors: list[str] = []

    def storefront() -> None:
        with httpx.Client(base_url=shop.server.url, timeout=10) as client:
            for _ in range(10):
                response = client.post("/_twin/orders", json={"lineItems": [{"sku": "MUG", "quantity": 1}]})
                if response.status_code != 201:
                    errors.append(response.text)

    def merchant(prefix: str) -> None:
        for i in range(10):
            shop.state.create_customer({"email": f"{prefix}{i}@example.com"})

    threads = [threading.Thread(target=storefront) for _ in range(3)]
    threads += [threading.Thread(target=merchant, args=(p,)) for p in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    names = [o["name"] for o in shop.state.all("Order")]
    assert sorted(names) == [f"#{1001 + i}" for i in range(30)]
    assert len(shop.state.all("Customer")) == 20
    item = int(shop.state.variant_by_sku("MUG")["inventoryItem"]["__ref"].rsplit("/", 1)[1])
    main = int(shop.refs["main"]["id"].rsplit("/", 1)[1])
    assert shop.state.level(item, main)["available"] == 0 and shop.state.level(item, main)["committed"] == 30
    total = shop.data("{ orders(first: 50) { nodes { id } } }")["orders"]["nodes"]
    assert len(total) == 30


def test_state_in_a_file_survives_a_restart(tmp_path):
    from doohickey.twins import create_twin

    path = str(tmp_path / "shop.sqlite")
    first = create_twin("shopify", db_path=path)
    catalogue(first.state)
    first.state.create_customer({"email": "kept@example.com"})
    second = create_twin("shopify", db_path=path)
    assert second.state.find_one("Customer", "email", "kept@example.com")["email"] == "kept@example.com"
    assert second.state.variant_by_sku("MUG")["sku"] == "MUG"
    assert second.state.create_customer({"email": "next@example.com"})["id"] != \
        first.state.find_one("Customer", "email", "kept@example.com")["id"]


def test_checkout_cannot_oversell_a_variant_that_denies_backorders(shop):
    refused = shop.data(ORDER_CREATE, {"order": {"lineItems": [{"sku": "SHIRT-M", "quantity": 5}]},
                                       "options": {"inventoryBehaviour": "DECREMENT_OBEYING_POLICY"}})["orderCreate"]
    assert refused["order"] is None
    assert refused["userErrors"][0]["field"] == ["order", "lineItems", "0"]
    assert "4 available" in refused["userErrors"][0]["message"]
    storefront = shop.http.post("/_twin/orders", json={"lineItems": [{"sku": "SHIRT-M", "quantity": 5}]})
    assert storefront.status_code == 422
    ignoring = shop.data(ORDER_CREATE, {"order": {"lineItems": [{"sku": "SHIRT-M", "quantity": 5}]},
                                        "options": {"inventoryBehaviour": "DECREMENT_IGNORING_POLICY"}})
    assert ignoring["orderCreate"]["userErrors"] == []
