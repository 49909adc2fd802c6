"""Pure rules of the engine: retry waits, cron schedules, ownership and conflict rules, webhook HTTP answers."""

from __future__ import annotations

import datetime as dt
import json
import random

import httpx
import pytest
from tests.engine import fakes

from doohickey.engine.intake import Intake
from doohickey.engine.ownership import keep_owned
from doohickey.engine.retry import RetryPolicy
from doohickey.engine.scheduler import cron_matches
from doohickey.plan.model import Backoff, Conflict, FailurePolicy
from doohickey.web.app import create_app


def test_backoff_grows_with_jitter_caps_and_honours_retry_after() -> None:
    policy = RetryPolicy.from_plan(FailurePolicy(retries=8, initial_delay="2s", max_delay="30s"))
    rng = random.Random(1)
    waits = [policy.delay(n, rng) for n in range(1, 8)]
    for n, wait in enumerate(waits, start=1):
        full = min(2 * 2 ** (n - 1), 30)
        assert full / 2 <= wait <= full  # equal jitter: half fixed, half random
    assert policy.delay(1, rng, retry_after=45) == 45  # never sooner than the API asked
    assert policy.exhausted(9) and not policy.exhausted(8)
    fixed = RetryPolicy(backoff=Backoff.FIXED, initial=3, jitter=False)
    assert fixed.delay(5, rng) == 3
    scaled = RetryPolicy.from_plan(FailurePolicy(initial_delay="2s"), scale=0.5)
    assert scaled.initial == 1.0


@pytest.mark.parametrize(("expression", "moment", "matches"), [
    ("0 2 * * *", dt.datetime(2026, 3, 4, 2, 0, tzinfo=dt.UTC), True),
    ("0 2 * * *", dt.datetime(2026, 3, 4, 3, 0, tzinfo=dt.UTC), False),
    ("*/15 * * * *", dt.datetime(2026, 3, 4, 9, 45, tzinfo=dt.UTC), True),
    ("*/15 * * * *", dt.datetime(2026, 3, 4, 9, 46, tzinfo=dt.UTC), False),
    ("30 1 * * 1-5", dt.datetime(2026, 3, 7, 1, 30, tzinfo=dt.UTC), False),  # a Saturday
    ("30 1 * * 1,3", dt.datetime(2026, 3, 4, 1, 30, tzinfo=dt.UTC), True),  # a Wednesday
])
def test_cron_schedule_of_batch_flows(expression: str, moment: dt.datetime, matches: bool) -> None:
    assert cron_matches(expression, moment) is matches


def test_cron_with_the_wrong_number_of_fields_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="five fields"):
        cron_matches("0 2 * *", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def test_ownership_drops_fields_owned_elsewhere_and_applies_conflict_rules() -> None:
    plan = fakes.plan(ownership={"customer": "shop", "customer.phone": "erp", "customer.note": ["erp", "shop"],
                                 "customer.tags": ["shop", "erp"]})
    flow = plan.flows["customers"]
    data = {"id": "1", "email": "a@b", "phone": "+1", "note": "x", "tags": ["vip"]}
    owned = keep_owned(plan, flow, data)
    assert owned.data == {"id": "1", "email": "a@b", "tags": ["vip"]}
    assert owned.dropped == {"phone": "owned by erp", "note": "shared; erp wins (owner-wins)"}
    flow.conflict = Conflict(rule="newest")
    assert "note" in keep_owned(plan, flow, data, newer=True).data
    assert "note" not in keep_owned(plan, flow, data, newer=False).data
    flow.conflict = Conflict(rule="manual-protected")
    assert "tags" not in keep_owned(plan, flow, data, target_has={"tags"}).data


@pytest.mark.anyio
async def test_webhook_endpoint_answers_over_http(sqlite_store) -> None:
    plan = fakes.plan()
    intake = Intake(plan, sqlite_store, {"shop": fakes.connector("shop"), "erp": fakes.connector("erp")},
                    secrets={"shop": fakes.SECRET})
    transport = httpx.ASGITransport(app=create_app(intake, sqlite_store))
    body = json.dumps({"topic": "orders/create", "delivery_id": "h1", "entity": "order", "id": "1",
                       "version": "v1", "data": {"number": "#1"}}).encode()
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ok = await client.post("/webhooks/shop", content=body, headers={"X-Fake-Signature": fakes.sign(body)})
        forged = await client.post("/webhooks/shop", content=body, headers={"X-Fake-Signature": "00"})
        unknown = await client.post("/webhooks/crm", content=body)
        letters = await client.get("/api/deadletters")
        trace = await client.get("/api/trace/shop/order/1")
    assert (ok.status_code, forged.status_code, unknown.status_code) == (200, 401, 404)
    assert ok.json() == {"status": "accepted", "events": 1}
    assert letters.json() == [] and trace.json()[0]["action"] == "received"
