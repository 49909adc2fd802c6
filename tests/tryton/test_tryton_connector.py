"""The Tryton connector against a real Tryton 8.2: sales, customers, stock, cancellations, refunds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from doohickey.connectors import load
from doohickey.connectors.spec import ConnectionSettings, ConnectOptions, Secret, WriteRequest
from doohickey.connectors.tryton.client import TrytonClient
from doohickey.errors import AuthError, DependencyMissing, RejectedError

pytestmark = [pytest.mark.anyio, pytest.mark.tryton]


@pytest.fixture
async def erp(tryton_settings: ConnectionSettings) -> AsyncIterator[TrytonClient]:
    client = load("tryton").connect(tryton_settings, ConnectOptions())
    yield client
    await client.aclose()


def order(number: str, email: str, lines: list[tuple[str, int, str]], *, discount: str = "0",
          shipping: str = "0", tax: str = "0", status: str = "confirmed") -> dict:
    subtotal = sum(Decimal(price) * qty for _, qty, price in lines)
    total = subtotal - Decimal(discount) + Decimal(shipping) + Decimal(tax)
    return {"id": f"gid://shopify/Order/{number}", "number": number, "email": email, "currency": "USD",
            "lines": [{"sku": sku, "title": sku, "quantity": qty, "unit_price": price} for sku, qty, price in lines],
            "discount_total": discount, "discount_codes": ["WELCOME10"] if Decimal(discount) else [],
            "shipping_lines": [{"title": "Standard", "price": shipping}], "tax_total": tax,
            "total": str(total), "status": status}


async def seed(erp: TrytonClient, email: str, skus: dict[str, str]) -> None:
    await erp.write(WriteRequest("customer", "create", {"email": email, "first_name": "Jane", "last_name": "Doe",
                                                        "addresses": [{"line1": "1 Main St", "city": "Springfield"}]}))
    for sku, price in skus.items():
        await erp.write(WriteRequest("variant", "create", {"sku": sku, "title": f"Item {sku}", "price": price}))


async def test_check_passes_and_a_wrong_password_is_an_auth_error(erp: TrytonClient,
                                                                   tryton_settings: ConnectionSettings) -> None:
    await erp.check()
    bad = ConnectionSettings("erp", tryton_settings.url, {"password": Secret("wrong")})
    client = load("tryton").connect(bad, ConnectOptions())
    with pytest.raises(AuthError) as info:
        await client.check()
    assert "wrong login or password" in info.value.message or "denied" in info.value.message
    await client.aclose()


async def test_multi_line_order_becomes_one_sale_with_exact_total_even_when_retried(erp: TrytonClient) -> None:
    await seed(erp, "jane@example.com", {"TENT-2P": "249.00", "STOVE-1": "59.50"})
    data = order("#1001", "Jane@Example.com", [("TENT-2P", 1, "249.00"), ("STOVE-1", 2, "59.50")],
                 discount="36.80", shipping="9.95", tax="33.12")
    first = await erp.write(WriteRequest("order", "create", data))
    again = await erp.write(WriteRequest("order", "create", data))
    assert again.external_id == first.external_id
    sales = await erp.find("order", {"number": "#1001"})
    assert len(sales) == 1
    sale = sales[0].data
    assert Decimal(sale["total"]) == Decimal(data["total"]) == Decimal("374.27")
    assert [(ln["sku"], ln["quantity"], Decimal(ln["unit_price"])) for ln in sale["lines"]] == [
        ("TENT-2P", 1, Decimal("249.00")), ("STOVE-1", 2, Decimal("59.50"))]
    assert (sale["status"], sale["erp_state"]) == ("confirmed", "processing")
    assert sale["email"] == "jane@example.com"


async def test_unknown_product_code_is_rejected_with_the_code_named(erp: TrytonClient) -> None:
    await seed(erp, "sku@example.com", {})
    with pytest.raises(RejectedError) as info:
        await erp.write(WriteRequest("order", "create", order("#2001", "sku@example.com", [("NOPE-9", 1, "5.00")])))
    assert "NOPE-9" in info.value.message and "Tryton has no product" in info.value.message
    assert await erp.find("order", {"number": "#2001"}) == []


async def test_order_for_an_unknown_customer_waits_for_the_customer(erp: TrytonClient) -> None:
    with pytest.raises(DependencyMissing):
        await erp.write(WriteRequest("order", "create", order("#3001", "ghost@example.com", [("X", 1, "1.00")])))


async def test_cancellation_before_and_after_confirmation(erp: TrytonClient) -> None:
    await seed(erp, "cancel@example.com", {"MUG-1": "12.00"})
    quoted = await erp.write(WriteRequest("order", "create", order("#4001", "cancel@example.com",
                                                                   [("MUG-1", 1, "12.00")], status="quotation")))
    confirmed = await erp.write(WriteRequest("order", "create", order("#4002", "cancel@example.com",
                                                                      [("MUG-1", 1, "12.00")])))
    for result in (quoted, confirmed):
        done = await erp.write(WriteRequest("order", "cancel", {}, result.external_id))
        assert done.data["status"] == "cancelled"


async def test_stock_levels_are_read_per_sku_and_follow_moves(erp: TrytonClient) -> None:
    await seed(erp, "stock@example.com", {"BOOT-42": "120.00"})
    level = await erp.write(WriteRequest("stock", "set", {"sku": "BOOT-42", "available": 7}))
    assert level.data["on_hand"] == 7
    await erp.write(WriteRequest("order", "create", order("#5001", "stock@example.com", [("BOOT-42", 2, "120.00")])))
    (record,) = await erp.find("stock", {"sku": "BOOT-42"})
    assert (record.data["on_hand"], record.data["available"]) == (7, 5)


async def test_refund_becomes_a_credit_note(erp: TrytonClient) -> None:
    await seed(erp, "refund@example.com", {"CAP-1": "25.00"})
    await erp.write(WriteRequest("order", "create", order("#6001", "refund@example.com", [("CAP-1", 2, "25.00")])))
    result = await erp.write(WriteRequest("refund", "create", {
        "id": "gid://shopify/Refund/1", "order_number": "#6001", "amount": "30.00",
        "lines": [{"sku": "CAP-1", "quantity": 1, "amount": "25.00"}]}))
    assert Decimal(result.data["total"]) == Decimal("-30.00")
    invoices = await erp.rpc.call("model.account.invoice.search_read",
                                  [["sales.reference", "=", result.data["number"]]], 0, None, None, ["total_amount"])
    assert [inv["total_amount"] for inv in invoices] == [Decimal("-30.00")]


async def test_done_shipments_are_read_as_fulfilments_with_tracking(erp: TrytonClient) -> None:
    await seed(erp, "ship@example.com", {"PACK-30": "80.00"})
    await erp.write(WriteRequest("stock", "set", {"sku": "PACK-30", "available": 5}))
    result = await erp.write(WriteRequest("order", "create", order("#7001", "ship@example.com",
                                                                   [("PACK-30", 2, "80.00")])))
    (sale,) = await erp.rpc.call("model.sale.sale.read", [int(result.external_id)], ["shipments"])
    shipments = sale["shipments"]
    await erp.rpc.call("model.stock.shipment.out.write", shipments, {"reference": "1Z999AA10123456784"})
    for step in ("assign_try", "pick", "pack", "ship", "do"):
        await erp.rpc.call(f"model.stock.shipment.out.{step}", shipments)
    page = await erp.read("fulfilment")
    (fulfilment,) = [r.data for r in page.records if r.data["order_number"] == "#7001"]
    assert fulfilment["lines"] == [{"sku": "PACK-30", "quantity": 2}]
    assert (fulfilment["tracking_number"], fulfilment["carrier"]) == ("1Z999AA10123456784", "UPS")


async def test_polling_orders_pages_to_the_end_oldest_first(erp: TrytonClient) -> None:
    await seed(erp, "poll@example.com", {"SOCK-1": "9.00"})
    for n in range(5):
        await erp.write(WriteRequest("order", "create", order(f"#80{n:02d}", "poll@example.com",
                                                              [("SOCK-1", 1, "9.00")])))
    seen, cursor = [], None
    while True:
        page = await erp.read("order", cursor=cursor, limit=2)
        seen += [r.data["number"] for r in page.records]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [n for n in seen if n.startswith("#80")] == [f"#80{n:02d}" for n in range(5)]
    versions = [r.version for r in (await erp.find("order", {"number": "#8004"}))]
    assert versions and versions[0] >= "2026"


async def test_refunds_are_found_again_by_order_number_and_by_refund_id(erp: TrytonClient) -> None:
    await seed(erp, "refund2@example.com", {"HAT-1": "30.00"})
    await erp.write(WriteRequest("order", "create", order("#6101", "refund2@example.com", [("HAT-1", 2, "30.00")])))
    for n, amount in ((1, "30.00"), (2, "35.00")):
        request = WriteRequest("refund", "create", {"id": f"gid://shopify/Refund/6101{n}", "order_number": "#6101",
                                                    "amount": amount,
                                                    "lines": [{"sku": "HAT-1", "quantity": 1, "amount": "30.00"}]})
        await erp.write(request)
        await erp.write(request)  # a retried create finds the first credit note
    found = await erp.find("refund", {"order_number": "#6101"})
    assert sorted(Decimal(r.data["amount"]) for r in found) == [Decimal("30.00"), Decimal("35.00")]
    (one,) = await erp.find("refund", {"id": "gid://shopify/Refund/61012"})
    assert one.data["order_number"] == "#6101" and one.data["lines"][0]["quantity"] == 1


async def test_a_national_phone_number_is_stored_in_e164_from_the_address_country(erp: TrytonClient) -> None:
    result = await erp.write(WriteRequest("customer", "create", {
        "email": "olga@example.org", "first_name": "Ольга", "last_name": "Dubois", "phone": "020 7946 0007",
        "addresses": [{"line1": "1 High St", "city": "London", "country": "GB"}]}))
    assert result.data["phone"] == "+44 20 7946 0007"  # Tryton keeps it in international format
    (found,) = await erp.find("customer", {"phone": "+442079460007"})
    assert found.external_id == result.external_id
    odd = await erp.write(WriteRequest("customer", "create", {"email": "odd@example.org", "phone": "ext. 12"}))
    assert odd.data["phone"] == "ext. 12"  # kept as an 'other' contact rather than refused
