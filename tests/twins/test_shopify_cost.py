"""Shopify twin cost accounting and throttling over loopback: extensions.cost, leaky bucket, THROTTLED."""

from __future__ import annotations

from doohickey.clock import ManualClock
from doohickey.twins.faults import Fault
from doohickey.twins.shopify.orders import create_order

from .shopify_support import catalogue, place, served_shop

PAGE = "{ orders(first: 10) { edges { node { id name } } pageInfo { hasNextPage endCursor } } }"


def test_cost_is_reported_like_shopify_and_refunds_unused_points():
    clock = ManualClock()
    with served_shop(clock=clock) as shop:
        catalogue(shop.state)
        place(shop, [("MUG", 1)])
        body = shop.gql(PAGE)
        cost = body["extensions"]["cost"]
        # a connection costs 2 + first x (1 per node); the actual cost counts the one order returned
        assert cost["requestedQueryCost"] == 12
        assert cost["actualQueryCost"] == 3
        assert cost["throttleStatus"]["maximumAvailable"] == 1000.0
        assert cost["throttleStatus"]["restoreRate"] == 50.0
        # 10 (the mutation above) + 3 spent, nothing restored on a stopped clock
        assert cost["throttleStatus"]["currentlyAvailable"] == 987
        nested = shop.gql("{ orders(first: 5) { nodes { id customer { id } "
                          "lineItems(first: 10) { nodes { sku } } } } }")
        assert nested["extensions"]["cost"]["requestedQueryCost"] == 2 + 5 * (1 + 1 + 2 + 10)


def test_bucket_empties_then_throttles_then_refills_on_the_clock():
    clock = ManualClock()
    with served_shop(clock=clock, maximum_available=100, restore_rate=10) as shop:
        catalogue(shop.state)
        for _ in range(30):
            create_order(shop.state, {"lineItems": [{"sku": "MUG", "quantity": 1}]})
        expensive = "{ orders(first: 30) { nodes { id } } }"  # requested 32
        statuses = [shop.gql(expensive) for _ in range(4)]
        assert all("data" in s for s in statuses[:3])
        throttled = statuses[3]
        assert throttled["errors"] == [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]
        assert "data" not in throttled
        assert throttled["extensions"]["cost"]["actualQueryCost"] is None
        assert throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 32
        clock.advance(3)
        again = shop.gql(expensive)
        assert "data" in again and "errors" not in again


def test_throttled_status_is_configurable_and_single_query_cap():
    with served_shop(maximum_available=10, throttled_status=429) as shop:
        response = shop.post("{ orders(first: 20) { nodes { id } } }")
        assert response.status_code == 429
        assert response.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
        too_big = shop.gql("{ orders(first: 250) { nodes { id lineItems(first: 250) { nodes { id } } } } }")
        assert too_big["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


def test_rate_limit_fault_answers_throttled_on_graphql_and_drain_helper():
    with served_shop(clock=ManualClock(), faults=[Fault(kind="rate_limit", count=1)]) as shop:
        first = shop.gql("{ shop { name } }")
        assert first["errors"][0]["extensions"]["code"] == "THROTTLED"
        assert shop.data("{ shop { name myshopifyDomain currencyCode } }")["shop"]["myshopifyDomain"] == \
            "twin.myshopify.com"
        assert shop.twin.faults.log[0]["kind"] == "rate_limit"
        status = shop.http.post("/_twin/throttle", json={"drain": True}).json()
        assert status["currentlyAvailable"] == 0
        assert shop.gql("{ shop { name } }")["errors"][0]["extensions"]["code"] == "THROTTLED"


def test_outage_and_malformed_faults_on_the_shopify_endpoint():
    clock = ManualClock()
    with served_shop(clock=clock, faults=[Fault(kind="outage", start=0, end=30, seconds=10),
                                          Fault(kind="malformed", start=30, count=1)]) as shop:
        down = shop.post("{ shop { name } }")
        assert down.status_code == 503 and down.headers["retry-after"] == "10"
        assert shop.http.get("/_twin/faults").status_code == 200
        clock.advance(31)
        broken = shop.post("{ shop { name } }")
        assert broken.status_code == 200
        try:
            broken.json()
            raise AssertionError("malformed body parsed as JSON")
        except ValueError:
            pass
        assert shop.gql("{ shop { name } }")["data"]["shop"]["name"]


def test_plan_sets_the_published_restore_rate():
    with served_shop(plan="plus") as shop:
        status = shop.gql("{ shop { name } }")["extensions"]["cost"]["throttleStatus"]
        assert status["restoreRate"] == 1000.0 and status["maximumAvailable"] == 1000.0
    import pytest

    from doohickey.twins import create_twin

    with pytest.raises(ValueError, match="unknown Shopify plan"):
        create_twin("shopify", plan="gold")
