"""Shopify client behaviour on Shopify's own answer shapes (in-process transport): throttling, pacing, userErrors."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from doohickey.clock import ManualClock
from doohickey.connectors.http import TokenBucketPacer
from doohickey.connectors.shopify import CONNECTOR
from doohickey.connectors.shopify.client import since_query, throttle_wait
from doohickey.connectors.spec import ConnectionSettings, ConnectOptions, Secret, WriteRequest
from doohickey.errors import AuthError, RateLimited, RejectedError, Verdict, classify

TOKEN = "shpat_secret_value_123456"


def cost(available: float, requested: int = 12) -> dict:
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": requested,
                     "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": available,
                                        "restoreRate": 50.0}}}


def customers_page(ids, next_cursor=None) -> dict:
    return {"customers": {"pageInfo": {"hasNextPage": next_cursor is not None, "endCursor": next_cursor},
                          "nodes": [{"id": f"gid://shopify/Customer/{i}", "email": f"c{i}@example.com",
                                     "firstName": "C", "lastName": str(i), "tags": [], "addresses": [],
                                     "updatedAt": "2026-01-01T00:00:00Z"} for i in ids]}}


def client_for(answers, *, clock=None, pacer=None, version="2025-10"):
    """A client whose transport answers from ``answers`` (a list of (status, body) or callables) in turn."""
    seen: list[dict] = []
    clock = clock or ManualClock()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append({"path": request.url.path, "token": request.headers.get("x-shopify-access-token"),
                     **json.loads(request.content)})
        status, body = answers[min(len(seen), len(answers)) - 1]
        return httpx.Response(status, json=body)

    settings = ConnectionSettings("shop", "https://acme.myshopify.com", {"token": Secret(TOKEN)},
                                  {"api_version": version})
    options = ConnectOptions(transport=httpx.MockTransport(handler), clock=clock, pacer=pacer)
    return CONNECTOR.connect(settings, options), seen, clock


@pytest.mark.anyio
async def test_reads_go_to_the_versioned_endpoint_with_the_token_and_an_updated_at_search():
    import datetime as dt
    client, seen, _ = client_for([(200, {"data": customers_page([1, 2], "c2"), "extensions": cost(990)}),
                                  (200, {"data": customers_page([3]), "extensions": cost(980)})], version="2024-07")
    since = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    first = await client.read("customer", since=since, limit=2)
    second = await client.read("customer", since=since, cursor=first.next_cursor, limit=2)
    assert [r.external_id for r in first.records + second.records] == [f"gid://shopify/Customer/{i}" for i in (1, 2, 3)]
    assert first.next_cursor == "c2" and second.next_cursor is None
    assert seen[0]["path"] == "/admin/api/2024-07/graphql.json"
    assert seen[0]["token"] == TOKEN
    assert seen[0]["variables"] == {"first": 2, "after": None, "query": "updated_at:>='2026-01-02T03:04:05Z'"}
    assert seen[1]["variables"]["after"] == "c2"
    assert "sortKey: UPDATED_AT" in seen[0]["query"]
    await client.aclose()


def test_since_query_quotes_the_time():
    assert since_query(None) is None


@pytest.mark.anyio
async def test_throttled_is_waited_out_for_the_time_the_throttle_status_gives():
    throttled = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                 "extensions": cost(2, requested=102)}
    client, seen, clock = client_for([(200, throttled), (200, {"data": customers_page([1]), "extensions": cost(900)})])
    page = await client.read("customer", limit=1)
    assert len(page.records) == 1
    assert len(seen) == 2
    assert clock.monotonic() == pytest.approx(100 / 50, abs=0.05)  # (102 requested - 2 available) / 50 per second


@pytest.mark.anyio
async def test_throttled_every_time_surfaces_as_rate_limited_with_the_wait():
    throttled = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                 "extensions": cost(0, requested=500)}
    client, _, _ = client_for([(200, throttled)])
    with pytest.raises(RateLimited) as caught:
        await client.read("customer", limit=1)
    assert caught.value.retry_after == pytest.approx(10.0)
    assert classify(caught.value).verdict is Verdict.RETRY


def test_throttle_wait_without_cost_assumes_an_empty_bucket_at_the_known_rate():
    pacer = TokenBucketPacer(rate=100, burst=2000)
    assert throttle_wait({}, {}, 50.0, pacer) == pytest.approx(0.5)


@pytest.mark.anyio
async def test_pacing_follows_the_throttle_status_so_steady_reads_are_never_throttled():
    clock = ManualClock()
    pacer = TokenBucketPacer(rate=50, burst=1000, clock=clock)
    client, _, _ = client_for([(200, {"data": customers_page([1]), "extensions": cost(40, requested=202)})],
                              clock=clock, pacer=pacer)
    await client.read("customer", limit=1)
    assert pacer.tokens == pytest.approx(40)
    await client.read("customer", limit=1)  # needs 202 (learned), has 40: waits (202 - 40) / 50 s first
    assert clock.monotonic() == pytest.approx(162 / 50, abs=0.01)


@pytest.mark.anyio
async def test_user_errors_become_a_rejection_with_shopifys_message():
    answer = {"data": {"customerCreate": {"customer": None, "userErrors": [
        {"field": ["email"], "message": "Email has already been taken"}]}}, "extensions": cost(990, 10)}
    client, _, _ = client_for([(200, answer)])
    with pytest.raises(RejectedError) as caught:
        await client.write(WriteRequest("customer", "create", {"email": "a@example.com"}))
    assert "email: Email has already been taken" in caught.value.message
    assert classify(caught.value).verdict is Verdict.DEAD_LETTER


@pytest.mark.anyio
async def test_a_401_is_an_auth_error_without_the_token():
    body = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    client, _, _ = client_for([(401, body)])
    with pytest.raises(AuthError) as caught:
        await client.check()
    assert "Invalid API key or access token" in caught.value.message
    assert TOKEN not in caught.value.message + caught.value.detail


@pytest.mark.anyio
async def test_access_denied_is_an_auth_error_naming_the_scope_problem():
    body = {"errors": [{"message": "Access denied for orders field. Required access: `read_orders` access scope.",
                        "extensions": {"code": "ACCESS_DENIED"}}]}
    client, _, _ = client_for([(200, body)])
    with pytest.raises(AuthError, match="read_orders"):
        await client.read("order", limit=1)


@pytest.mark.anyio
async def test_unknown_actions_and_entities_are_refused_clearly():
    client, _, _ = client_for([(200, {"data": {}})])
    with pytest.raises(RejectedError, match=r"no write action product\.delete"):
        await client.write(WriteRequest("product", "delete", {}))
    with pytest.raises(RejectedError, match="cannot read 'refund'"):
        await client.read("refund")


def test_throttled_example_from_shopify_is_understood(shared_dir: Path):
    sample = json.loads((shared_dir / "contracts/shopify/graphql/examples/throttled-error.shopify-app-remix-mock.json")
                        .read_text())
    client, _, _ = client_for([(200, {})])
    error = client._graphql_error(sample["errors"], {}, {}, 50.0)
    assert isinstance(error, RateLimited)
    assert error.retry_after > 0


@pytest.mark.anyio
async def test_throttled_under_http_429_is_read_from_the_body_too():
    throttled = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                 "extensions": cost(10, requested=60)}
    client, seen, clock = client_for([(429, throttled), (200, {"data": customers_page([1]), "extensions": cost(900)})])
    page = await client.read("customer", limit=1)
    assert len(page.records) == 1 and len(seen) == 2
    assert clock.monotonic() == pytest.approx(50 / 50, abs=0.05)  # (60 - 10) / 50
