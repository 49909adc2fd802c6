"""The shared HTTP helper: the error table, short retries within a budget, redaction, and the token bucket pacer."""

from __future__ import annotations

import httpx
import pytest

from doohickey.clock import ManualClock
from doohickey.connectors.http import HttpSession, RetryBudget, TokenBucketPacer, error_for, retry_after_seconds
from doohickey.connectors.spec import ConnectionSettings, ConnectOptions, PacingSpec, Secret
from doohickey.errors import (
    AuthError,
    NotFoundError,
    RateLimited,
    RejectedError,
    TransientError,
    Unavailable,
    Verdict,
    classify,
)

TOKEN = "shpat_0123456789abcdef"


def session(handler, *, clock=None, pacer=None, retry=RetryBudget()) -> tuple[HttpSession, ManualClock]:
    clock = clock or ManualClock()
    settings = ConnectionSettings(system="shop", url="https://shop.example", secrets={"token": Secret(TOKEN)})
    options = ConnectOptions(transport=httpx.MockTransport(handler), clock=clock, pacer=pacer)
    return HttpSession(settings, options, headers={"X-Token": TOKEN}, retry=retry), clock


def answer(status: int, body=None, headers=None, content=None):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if content is not None:
            return httpx.Response(status, content=content, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler, calls


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "error", "verdict"), [
    (400, RejectedError, Verdict.DEAD_LETTER),
    (422, RejectedError, Verdict.DEAD_LETTER),
    (409, RejectedError, Verdict.DEAD_LETTER),
    (401, AuthError, Verdict.FAIL_RUN),
    (403, AuthError, Verdict.FAIL_RUN),
    (404, NotFoundError, Verdict.DEAD_LETTER),
    (500, TransientError, Verdict.RETRY),
    (502, TransientError, Verdict.RETRY),
])
async def test_error_table_names_the_system_and_says_what_the_api_said(status, error, verdict):
    handler, _ = answer(status, {"errors": "Email has already been taken"})
    http, _ = session(handler, retry=RetryBudget(attempts=1))
    with pytest.raises(error) as caught:
        await http.call("POST", "/customers", json_body={}, what="create a customer")
    assert "shop" in caught.value.message
    assert "Email has already been taken" in caught.value.message
    assert "create a customer" in caught.value.message
    assert caught.value.status == status
    assert classify(caught.value).verdict is verdict


@pytest.mark.anyio
async def test_429_and_503_carry_retry_after():
    handler, _ = answer(429, {"errors": "Exceeded 2 calls per second"}, headers={"Retry-After": "2.0"})
    http, _ = session(handler, retry=RetryBudget(attempts=1))
    with pytest.raises(RateLimited) as caught:
        await http.call("GET", "/x")
    assert caught.value.retry_after == 2.0
    assert classify(caught.value).retry_after == 2.0
    handler, _ = answer(503, {"errors": "maintenance"}, headers={"Retry-After": "30"})
    http, _ = session(handler, retry=RetryBudget(attempts=1))
    with pytest.raises(Unavailable) as caught:
        await http.call("GET", "/x")
    assert caught.value.retry_after == 30.0


def test_retry_after_accepts_an_http_date():
    import datetime as dt
    now = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    response = httpx.Response(503, headers={"Retry-After": "Thu, 01 Jan 2026 12:00:45 GMT"})
    assert retry_after_seconds(response, now) == 45.0
    assert retry_after_seconds(httpx.Response(503, headers={"Retry-After": "soon"})) is None


@pytest.mark.anyio
async def test_malformed_json_is_transient():
    handler, _ = answer(200, content=b'{"data": {"orders": ')
    http, _ = session(handler, retry=RetryBudget(attempts=1))
    with pytest.raises(TransientError) as caught:
        await http.call("GET", "/orders")
    assert "not valid JSON" in caught.value.message


@pytest.mark.anyio
async def test_timeouts_and_refused_connections_are_transient():
    def timeout(request):
        raise httpx.ReadTimeout("read timed out", request=request)

    def refused(request):
        raise httpx.ConnectError("connection refused", request=request)

    for handler, words in ((timeout, "did not answer"), (refused, "could not reach")):
        http, _ = session(handler, retry=RetryBudget(attempts=1))
        with pytest.raises(TransientError) as caught:
            await http.call("GET", "/x")
        assert words in caught.value.message
        assert classify(caught.value).verdict is Verdict.RETRY


@pytest.mark.anyio
async def test_a_429_is_waited_out_within_the_budget():
    seen = []

    def handler(request):
        seen.append(request)
        if len(seen) < 3:
            return httpx.Response(429, json={"errors": "slow down"}, headers={"Retry-After": "1"})
        return httpx.Response(200, json={"ok": True})

    http, clock = session(handler, retry=RetryBudget(attempts=4, seconds=10))
    assert await http.call("POST", "/write", json_body={}) == {"ok": True}
    assert len(seen) == 3
    assert clock.monotonic() == pytest.approx(2.0)


@pytest.mark.anyio
async def test_a_wait_longer_than_the_budget_goes_to_the_engine_at_once():
    handler, calls = answer(503, {"errors": "maintenance"}, headers={"Retry-After": "600"})
    http, clock = session(handler, retry=RetryBudget(attempts=5, seconds=10))
    with pytest.raises(Unavailable):
        await http.call("GET", "/x")
    assert len(calls) == 1
    assert clock.monotonic() == 0


@pytest.mark.anyio
async def test_a_5xx_is_retried_for_a_read_but_not_for_a_write_that_may_have_happened():
    seen = []

    def handler(request):
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(500, json={"errors": "Internal Server Error"})
        return httpx.Response(200, json={"ok": 1})

    http, _ = session(handler)
    assert await http.call("GET", "/orders") == {"ok": 1}
    seen.clear()
    with pytest.raises(TransientError):
        await http.call("POST", "/orders", json_body={})
    assert len(seen) == 1
    seen.clear()
    assert await http.call("POST", "/graphql", json_body={}, safe=True) == {"ok": 1}


@pytest.mark.anyio
async def test_secrets_are_redacted_from_messages_and_details():
    handler, _ = answer(401, {"errors": f"Invalid API key or access token {TOKEN}"})
    http, _ = session(handler, retry=RetryBudget(attempts=1))
    with pytest.raises(AuthError) as caught:
        await http.call("GET", "/x")
    assert TOKEN not in caught.value.message
    assert TOKEN not in caught.value.detail
    assert TOKEN not in str(caught.value)
    assert "Invalid API key" in caught.value.message


@pytest.mark.anyio
async def test_inspect_can_turn_a_200_into_a_retried_rate_limit():
    seen = []

    def handler(request):
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(200, json={"errors": [{"message": "Throttled"}]})
        return httpx.Response(200, json={"data": {}})

    def inspect(body, response):
        if body.get("errors"):
            raise RateLimited("throttled", retry_after=0.5, system="shop")

    http, clock = session(handler)
    assert await http.call("POST", "/graphql", json_body={}, inspect=inspect) == {"data": {}}
    assert clock.monotonic() == pytest.approx(0.5)


def test_error_for_uses_the_status_when_the_api_said_nothing():
    error = error_for("erp", 418, "")
    assert isinstance(error, RejectedError)
    assert "HTTP 418" in error.message


@pytest.mark.anyio
async def test_pacer_spaces_requests_at_its_rate_after_the_burst():
    clock = ManualClock()
    pacer = TokenBucketPacer(rate=10, burst=5, clock=clock)
    for _ in range(5):
        await pacer.acquire()
    assert clock.monotonic() == 0
    for _ in range(10):
        await pacer.acquire()
    assert clock.monotonic() == pytest.approx(1.0)


@pytest.mark.anyio
async def test_pacer_follows_what_the_api_reports():
    clock = ManualClock()
    pacer = TokenBucketPacer.from_spec(PacingSpec(kind="cost", rate=50, burst=1000), clock)
    pacer.observe(available=100, limit=1000, restore_rate=50)
    await pacer.acquire(200)  # 100 missing at 50/s
    assert clock.monotonic() == pytest.approx(2.0)
    pacer.observe(retry_after=3)
    await pacer.acquire(1)
    assert clock.monotonic() == pytest.approx(5.0)
    assert TokenBucketPacer.from_spec(PacingSpec(kind="none")) is None


@pytest.mark.anyio
async def test_pacer_caps_concurrency():
    import asyncio
    pacer = TokenBucketPacer(rate=1000, burst=1000, max_concurrency=2)
    inside = peak = 0

    async def work():
        nonlocal inside, peak
        await pacer.acquire()
        inside += 1
        peak = max(peak, inside)
        await asyncio.sleep(0.01)
        inside -= 1
        pacer.release()

    await asyncio.gather(*(work() for _ in range(8)))
    assert peak == 2


@pytest.mark.anyio
async def test_session_uses_the_pacer_around_every_request():
    clock = ManualClock()
    pacer = TokenBucketPacer(rate=1, burst=1, clock=clock)
    handler, calls = answer(200, {"ok": 1})
    http, _ = session(handler, clock=clock, pacer=pacer)
    for _ in range(3):
        await http.call("GET", "/x")
    assert len(calls) == 3
    assert clock.monotonic() == pytest.approx(2.0)
