"""The lean query executor gives exactly graphql-core's results, and falls back where it must."""

from __future__ import annotations

import pytest
from graphql import FragmentDefinitionNode, execute, parse

from doohickey.twins import create_twin, datagen
from doohickey.twins.shopify.api import GraphQLApi, Loader, _default, _never, _operation
from doohickey.twins.shopify.fastpath import Fallback, execute_fast

QUERIES = [
    "{ shop { name myshopifyDomain currencyCode __typename } }",
    """{ orders(first: 5, sortKey: UPDATED_AT, reverse: true) { edges { cursor node { id name updatedAt
        displayFinancialStatus displayFulfillmentStatus cancelledAt cancelReason discountCodes tags
        totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount } }
        customer { id email firstName defaultAddress { city countryCodeV2 } }
        shippingAddress { address1 zip countryCodeV2 }
        taxLines { title rate ratePercentage priceSet { shopMoney { amount } } }
        lineItems(first: 10) { nodes { sku quantity unfulfilledQuantity isGiftCard
          originalUnitPriceSet { shopMoney { amount } }
          discountAllocations { allocatedAmountSet { shopMoney { amount } } }
          taxLines { title rate } variant { id sku inventoryItem { id } product { title } } } }
        shippingLines(first: 3) { nodes { title originalPriceSet { shopMoney { amount } } } }
        fulfillments { name status trackingInfo { company number url } }
        refunds { id totalRefundedSet { shopMoney { amount } } }
        fulfillmentOrders(first: 2) { nodes { id status lineItems(first: 5) { nodes { remainingQuantity } } } }
      } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }""",
    """query Q($q: String, $n: Int) { a: customers(first: $n, query: $q) { nodes { ...C } }
        b: customers(first: 2) { nodes { id ...C email } } }
       fragment C on Customer { id email displayName numberOfOrders addresses { city } }""",
    """{ products(first: 3) { nodes { title status totalInventory variants(first: 5) { nodes {
        sku price inventoryQuantity inventoryItem { sku inventoryLevels(first: 3) { nodes { location { name }
        quantities(names: ["available", "on_hand", "committed"]) { name quantity } } } } } } } } }""",
    """{ locations(first: 5) { nodes { id name isActive address { countryCode } } }
        inventoryItems(first: 3, query: "sku:*") { nodes { id sku tracked } } }""",
    """{ orders(first: 2) { nodes { id name lineItems(first: 1) { nodes { sku } } }
        nodes { id lineItems(first: 1) { nodes { quantity } } } } }""",
]


@pytest.fixture(scope="module")
def api():
    twin = create_twin("shopify", data=datagen.generate(5, products=5, customers=8, orders=10))
    order = twin.state.all("Order")[0]
    from doohickey.twins.shopify import orders

    fo = order["fulfillmentOrders"][0]["__ref"]
    orders.fulfil(twin.state, {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo}],
                               "trackingInfo": {"company": "DHL", "number": "JD1", "url": "https://dhl.test/JD1"}})
    return GraphQLApi(twin.state, twin.state.bucket, result_cache=False)


def _both(api: GraphQLApi, query: str, variables: dict | None = None):
    document = parse(query)
    operation = _operation(document, None)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    fast = execute_fast(api.schema, operation, fragments, variables or {}, {"state": api.state,
                        "loader": Loader(api.state)}, _default)
    slow = execute(api.schema, document, variable_values=variables or {}, context_value={
        "state": api.state, "loader": Loader(api.state)}, field_resolver=_default, is_awaitable=_never)
    return fast, slow


@pytest.mark.parametrize("query", QUERIES)
def test_fast_results_equal_graphql_core(api, query):
    fast, slow = _both(api, query, {"q": "email:*", "n": 3})
    assert slow.errors is None
    assert fast == slow.data
    assert list(fast) == list(slow.data)


def test_node_interface_and_inline_fragments(api):
    order_gid = api.state.all("Order")[1]["id"]
    query = f"""{{ node(id: "{order_gid}") {{ __typename id ... on Order {{ name }} ... on Customer {{ email }} }} }}"""
    fast, slow = _both(api, query)
    assert fast == slow.data and fast["node"]["__typename"] == "Order"


def test_what_the_fast_path_leaves_to_graphql_core(api):
    with pytest.raises(Fallback):
        _both(api, "{ shop { name @include(if: true) } }")
    with pytest.raises(Fallback):
        _both(api, "{ orders { nodes { id } } }")  # a resolver error: graphql-core words it
    with pytest.raises(Fallback):
        _both(api, "{ __schema { queryType { name } } }")
    body, _ = api.run("{ orders { nodes { id } } }")
    assert "first or last" in body["errors"][0]["message"]
    assert api.run("{ __schema { queryType { name } } }")[0]["data"]["__schema"]["queryType"]["name"] == "QueryRoot"


def test_variables_are_coerced_and_defaulted_like_graphql_core(api):
    query = "query($n: Int = 2) { orders(first: $n) { nodes { id } } }"
    fast, slow = _both(api, query)
    assert fast == slow.data and len(fast["orders"]["nodes"]) == 2
    with pytest.raises(Fallback):
        _both(api, query, {"n": "ten"})
    body, _ = api.run(query, {"n": "ten"})
    assert "$n" in body["errors"][0]["message"]
