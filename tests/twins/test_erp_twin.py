"""The ERP twin over loopback HTTP: orders, partial fulfilment, idempotency, the concurrency limit, polling."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import httpx
import pytest

from doohickey.clock import ManualClock, SystemClock
from doohickey.twins import create_twin
from doohickey.twins.datagen import generate
from doohickey.twins.server import TwinServer

KEY = {"X-Api-Key": "erp-test-key"}
DATA = generate(11, orders=5)


@pytest.fixture
def erp() -> Iterator[tuple[object, httpx.Client, ManualClock]]:
    clock = ManualClock()
    twin = create_twin("erp", seed=1, clock=clock, data=DATA)
    with TwinServer(twin.app) as server, httpx.Client(base_url=server.url + "/api/v1", headers=KEY) as api:
        yield twin, api, clock


def _order(ref: str, *lines: tuple[str, int], **extra: object) -> dict:
    return {"external_ref": ref, "status": "confirmed", "currency": "EUR",
            "lines": [{"item_code": sku, "quantity": q, "unit_price": "10.00", "tax_amount": "1.90"}
                      for sku, q in lines],
            **extra}


SKU_A, SKU_B = DATA.products[0].variants[0].sku, DATA.products[1].variants[0].sku


def test_order_totals_and_partial_fulfilment_with_tracking(erp) -> None:
    _twin, api, _ = erp
    made = api.post("/sales-orders", json=_order("#100", (SKU_A, 3), (SKU_B, 1), shipping_fee="4.99",
                                                  shipping_tax="0.95", expected_total="49.74"))
    assert made.status_code == 201, made.text
    order = made.json()
    assert (order["subtotal"], order["tax_total"], order["total"]) == ("40.00", "4.75", "49.74")
    def stock_a() -> tuple[int, int, int]:
        level = api.get("/stock", params={"item_code": SKU_A, "location": "WH-MAIN"}).json()["items"][0]
        return level["on_hand"], level["committed"], level["available"]

    before, committed, available = stock_a()
    assert committed == 3 and available == before - 3, "a confirmed order commits its quantities"
    first = api.post(f"/sales-orders/{order['id']}/fulfilments", json={
        "lines": [{"item_code": SKU_A, "quantity": 2}], "carrier": "DHL", "tracking_number": "JD014600001"})
    assert first.status_code == 201
    assert api.get(f"/sales-orders/{order['id']}").json()["status"] == "partially_fulfilled"
    assert stock_a() == (before - 2, 1, before - 3)
    over = api.post(f"/sales-orders/{order['id']}/fulfilments", json={"lines": [{"item_code": SKU_A, "quantity": 2}]})
    assert over.status_code == 400
    assert over.json()["o:errorDetails"][0]["detail"] == (
        f"cannot fulfil 2 of {SKU_A} on {order['id']}: only 1 left to fulfil")
    rest = api.post(f"/sales-orders/{order['id']}/fulfilments", json={"carrier": "UPS", "tracking_number": "1Z9"})
    assert rest.status_code == 201 and {(x["item_code"], x["quantity"]) for x in rest.json()["lines"]} == {
        (SKU_A, 1), (SKU_B, 1)}
    final = api.get(f"/sales-orders/{order['id']}").json()
    assert final["status"] == "fulfilled" and [ln["quantity_fulfilled"] for ln in final["lines"]] == [3, 1]
    assert stock_a() == (before - 3, 0, before - 3)
    fulfilments = api.get("/item-fulfilments", params={"order_id": order["id"]}).json()["items"]
    assert [(f["carrier"], f["tracking_number"]) for f in fulfilments] == [("DHL", "JD014600001"), ("UPS", "1Z9")]
    cancel = api.post(f"/sales-orders/{order['id']}/cancel")
    assert cancel.status_code == 422 and "is fulfilled and cannot be cancelled" in cancel.json()["detail"]


def test_totals_are_checked_to_the_cent(erp) -> None:
    _, api, _ = erp
    ok = api.post("/sales-orders", json=_order("#1", (SKU_A, 2), shipping_fee="4.99", expected_total="26.89"))
    assert ok.status_code == 201 and ok.json()["total"] == "26.89"
    assert ok.json()["subtotal"] == "20.00" and ok.json()["tax_total"] == "1.90"
    off = api.post("/sales-orders", json=_order("#2", (SKU_A, 2), shipping_fee="4.99", expected_total="26.90"))
    assert off.status_code == 400 and "does not match the computed total 26.89" in off.json()["detail"]


def test_retried_create_returns_the_first_order(erp) -> None:
    _twin, api, _ = erp
    body = _order("#200", (SKU_A, 1))
    first = api.post("/sales-orders", json=body, headers={"Idempotency-Key": "evt-1"})
    again = api.post("/sales-orders", json=body, headers={"Idempotency-Key": "evt-1"})
    same_ref = api.post("/sales-orders", json=body)
    assert (first.status_code, again.status_code, same_ref.status_code) == (201, 200, 200)
    assert first.json()["id"] == again.json()["id"] == same_ref.json()["id"]
    assert api.get("/sales-orders", params={"external_ref": "#200"}).json()["total"] == 1
    reused = api.post("/sales-orders", json=_order("#201", (SKU_A, 1)), headers={"Idempotency-Key": "evt-1"})
    assert reused.status_code == 422 and reused.json()["o:errorDetails"][0]["o:errorCode"] == "IDEMPOTENCY_KEY_REUSED"
    committed = api.get("/stock", params={"item_code": SKU_A, "location": "WH-MAIN"}).json()["items"][0]["committed"]
    assert committed == 1, "the retried creates committed nothing more"
    api.post(f"/sales-orders/{first.json()['id']}/cancel")
    level = api.get("/stock", params={"item_code": SKU_A, "location": "WH-MAIN"}).json()["items"][0]
    assert (level["committed"], level["available"]) == (0, level["on_hand"]), "cancelling releases the commitment"


def test_validation_errors_speak_business(erp) -> None:
    _, api, _ = erp
    answer = api.post("/sales-orders", json=_order("#300", ("SKU-123", 1)))
    assert answer.status_code == 400
    detail = answer.json()["o:errorDetails"][0]
    assert detail == {"detail": "product code SKU-123 does not exist", "o:errorCode": "INVALID_KEY_OR_REF",
                      "o:errorPath": "lines[0].item_code"}
    typo = api.post("/sales-orders", json={**_order("#301", (SKU_A, 1)), "shiping_fee": "1"})
    assert typo.status_code == 400 and "shiping_fee: Extra inputs are not permitted" in typo.json()["detail"]
    unauth = httpx.get(str(api.base_url).rstrip("/") + "/items")
    assert unauth.status_code == 401 and unauth.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"


def test_credit_memo_never_exceeds_what_was_charged(erp) -> None:
    _, api, _ = erp
    order = api.post("/sales-orders", json=_order("#400", (SKU_A, 2))).json()  # total 21.90
    memo = api.post("/credit-memos", json={"order_id": order["id"], "external_ref": "R1", "reason": "damaged",
                                           "lines": [{"item_code": SKU_A, "quantity": 1, "amount": "10.95"}]})
    assert memo.status_code == 201 and memo.json()["amount"] == "10.95" and memo.json()["currency"] == "EUR"
    too_much = api.post("/credit-memos", json={"order_id": order["id"], "amount": "11.00"})
    assert too_much.status_code == 400
    assert too_much.json()["detail"] == (f"credit of 11.00 EUR exceeds the refundable balance of 10.95 EUR on "
                                         f"{order['id']}")


def test_pagination_to_the_end_and_updated_since_polling(erp) -> None:
    _twin, api, clock = erp
    seen, page = [], 1
    while True:
        answer = api.get("/items", params={"page": page, "limit": 7}).json()
        seen += [item["code"] for item in answer["items"]]
        if not answer["has_more"]:
            break
        page = answer["next_page"]
    assert len(seen) == len(set(seen)) == len(DATA.variants) == answer["total"]
    clock.advance(60)
    mark = clock.now()
    clock.advance(1)
    adjustment = {"item_code": SKU_B, "location": "WH-EAST", "delta": -2, "reason": "breakage"}
    first = api.post("/stock/adjustments", json=adjustment, headers={"Idempotency-Key": "adj-1"}).json()
    again = api.post("/stock/adjustments", json=adjustment, headers={"Idempotency-Key": "adj-1"}).json()
    assert first["on_hand"] == again["on_hand"], "a retried adjustment is applied once"
    changed = api.get("/stock", params={"updated_since": mark.isoformat()}).json()
    assert [(s["item_code"], s["location"]) for s in changed["items"]] == [(SKU_B, "WH-EAST")]
    customer = api.get("/customers", params={"limit": 1}).json()["items"][0]
    api.patch(f"/customers/{customer['id']}", json={"phone": "+44 20 7946 0999"})
    recent = api.get("/customers", params={"updated_since": (mark + dt.timedelta(seconds=1)).isoformat()}).json()
    assert [c["id"] for c in recent["items"]] == [customer["id"]]


def test_find_customer_by_email_any_case_and_phone_any_format(erp) -> None:
    _, api, _ = erp
    made = api.post("/customers", json={"email": "Zoe.Muller@Example.com", "first_name": "Zoë", "last_name": "Müller",
                                        "phone": "+44 20 7946 0123"}).json()
    by_email = api.get("/customers", params={"email": "zoe.muller@example.COM"}).json()["items"]
    by_phone = api.get("/customers", params={"phone": "020 7946 0123"}).json()["items"]
    assert [c["id"] for c in by_email] == [made["id"]] == [c["id"] for c in by_phone]
    assert by_email[0]["first_name"] == "Zoë"


def test_concurrency_limit_answers_like_netsuite() -> None:
    twin = create_twin("erp", clock=SystemClock(), concurrency_limit=2, service_seconds=0.3)

    async def burst(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, headers=KEY, timeout=5) as client:
            return await asyncio.gather(*(client.get("/api/v1/items") for _ in range(5)))

    with TwinServer(twin.app) as server:
        answers = asyncio.run(burst(server.url))
        state = httpx.get(f"{server.url}/_twin/state").json()
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 200, 429, 429, 429]
    blocked = next(a for a in answers if a.status_code == 429).json()
    assert blocked["status"] == 429
    assert blocked["o:errorDetails"] == [{"detail": "Concurrent request limit exceeded. Request blocked.",
                                          "o:errorCode": "CONCURRENCY_LIMIT_EXCEEDED"}]
    assert state["concurrency"]["rejected"] == 3


def test_openapi_document_drives_discovery() -> None:
    twin = create_twin("erp")
    with TwinServer(twin.app) as server:
        spec = httpx.get(f"{server.url}/openapi.json").json()
        seeded = httpx.post(f"{server.url}/_twin/seed", json={"generate": {"seed": 2, "orders": 3}}).json()
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "The API key of an integration user."}
    operations = {op["operationId"]: op for path in spec["paths"].values() for op in path.values()}
    assert {"listSalesOrders", "createSalesOrder", "createItemFulfilment", "createCreditMemo", "listStockLevels",
            "adjustStock", "listCustomers", "listItems", "getItem", "cancelSalesOrder"} <= set(operations)
    listing = operations["listSalesOrders"]
    assert {p["name"] for p in listing["parameters"]} >= {"page", "limit", "updated_since"}
    assert listing["x-pagination"]["style"] == "page" and listing["security"] == [{"ApiKey": []}]
    assert all(op.get("description") for op in operations.values())
    assert not any(path.startswith("/_twin") for path in spec["paths"])
    assert seeded["seeded"]["sales_orders"] == 3
