"""The sample data generator: deterministic under a seed, totals that add up, and every edge case present."""

from __future__ import annotations

import itertools
from decimal import Decimal

import phonenumbers

from doohickey import model
from doohickey.twins.datagen import CURRENCIES, START, black_friday_profile, generate, money, steady_profile


def test_same_seed_same_data_and_other_seed_other_data() -> None:
    first, again, other = generate(7), generate(7), generate(8)
    assert [model.to_dict(o) for o in first.orders] == [model.to_dict(o) for o in again.orders]
    assert [model.to_dict(c) for c in first.customers] == [model.to_dict(c) for c in again.customers]
    assert [model.to_dict(o) for o in first.orders] != [model.to_dict(o) for o in other.orders]


def test_order_totals_add_up_to_the_minor_unit() -> None:
    data = generate(3, orders=200)
    for order in data.orders:
        subtotal = sum(line.unit_price * line.quantity for line in order.lines)
        discounts = sum(line.discount for line in order.lines)
        shipping = sum(s.price for s in order.shipping_lines)
        tax = sum(t.amount for line in [*order.lines, *order.shipping_lines] for t in line.taxes)
        assert order.subtotal == subtotal and order.discount_total == discounts
        assert order.shipping_total == shipping and order.tax_total == tax
        assert order.total == order.subtotal - order.discount_total + order.shipping_total + order.tax_total
        for amount in (order.total, order.tax_total, *[line.unit_price for line in order.lines]):
            assert amount == money(amount, order.currency), f"{order.number}: {amount} not rounded to the minor unit"


def test_edge_cases_are_present() -> None:
    data = generate(1, orders=200)
    lines = [line for order in data.orders for line in order.lines]
    assert {o.currency for o in data.orders} >= {"USD", "EUR", "GBP", "JPY"}
    assert any(line.gift_card and not line.taxes and not line.requires_shipping for line in lines)
    assert any(line.unit_price == 0 for line in lines), "a zero-priced line"
    assert any(line.discount > 0 for line in lines) and any(o.shipping_lines for o in data.orders)
    assert any(len(o.lines) >= 3 for o in data.orders)
    assert data.gift_card_skus and data.zero_priced_skus
    names = [c.first_name + c.last_name for c in data.customers]
    assert any(not n.isascii() for n in names), "unicode names"
    assert any(len(a.line1) > 80 for c in data.customers for a in c.addresses), "long addresses"
    assert any(not c.phone for c in data.customers) and any(not c.company for c in data.customers)
    assert len({a.country for c in data.customers for a in c.addresses}) >= 4
    formats = {("+" if c.phone.startswith("+") else "") + ("sp" if " " in c.phone else "") for c in data.customers}
    assert len(formats) >= 2, "several phone formats"
    assert all(CURRENCIES[o.currency][0] == 0 for o in data.orders if o.currency == "JPY")
    assert any(o.total.as_tuple().exponent == 0 for o in data.orders if o.currency == "JPY")


def test_near_duplicates_are_flagged_and_really_the_same_person() -> None:
    data = generate(5, customers=60)
    by_id = {c.id: c for c in data.customers}
    assert len(data.near_duplicates) >= 3
    kinds = set()
    for dupe_id, original_id in data.near_duplicates.items():
        dupe, original = by_id[dupe_id], by_id[original_id]
        assert (dupe.first_name, dupe.last_name) == (original.first_name, original.last_name)
        assert dupe.email.lower() == original.email.lower()
        if dupe.email != original.email:
            kinds.add("email casing")
        if dupe.phone != original.phone:
            kinds.add("phone format")
            region = original.addresses[0].country
            assert phonenumbers.parse(dupe.phone, region) == phonenumbers.parse(original.phone, region)
    assert kinds == {"email casing", "phone format"}


def test_entities_round_trip_through_dicts() -> None:
    order = generate(2).orders[0]
    again = model.from_dict(model.Order, model.to_dict(order))
    assert again.total == order.total and isinstance(again.total, Decimal)
    assert [line.sku for line in again.lines] == [line.sku for line in order.lines]


def test_load_profiles_are_schedules_of_orders() -> None:
    data = generate(4, orders=0)
    steady = steady_profile(data, per_minute=30, minutes=10)
    assert 230 <= len(steady) <= 370  # Poisson arrivals around 300
    assert all(a.offset <= b.offset for a, b in itertools.pairwise(steady))
    peak = black_friday_profile(data, peak_per_minute=120, minutes=30)
    middle = [x for x in peak if 10 * 60 <= x.offset < 20 * 60]
    first_minutes = [x for x in peak if x.offset < 60]
    assert len(middle) / 10 > 100 and len(first_minutes) < 60, "the peak is ten times the start"
    assert len({x.order.number for x in peak}) == len(peak), "order numbers are unique"
    assert peak == black_friday_profile(data, peak_per_minute=120, minutes=30), "deterministic"
    assert all(abs((x.order.created_at - START).total_seconds() - x.offset) < 0.01 for x in peak)
