"""Small value shapes of the Shopify twin: global IDs, money, times, addresses, errors.

Money is a :class:`~decimal.Decimal` inside the twin. On the GraphQL wire a
``MoneyV2.amount`` is a ``Decimal`` scalar serialised as a string the way
Shopify's Ruby ``BigDecimal`` prints it (``"10.0"``, ``"29.99"``); in webhook
(REST) payloads amounts are strings with the currency's decimals (``"10.00"``).
Times are UTC ISO-8601 strings ending in ``Z`` (sortable as text).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

GID_PREFIX = "gid://shopify/"
ZERO = Decimal("0")
# ISO 4217 currencies without minor units (the rest use two decimals here).
NO_DECIMALS = {"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "HUF"}


class UserErrors(Exception):
    """A mutation refused its input: ``errors`` are ``{field, message, code}`` dicts for ``userErrors``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(e["message"] for e in errors))
        self.errors = errors


def user_error(field: list[str] | None, message: str, code: str | None = None) -> dict[str, Any]:
    """One userErrors entry (``field`` is the input path, as Shopify gives it)."""
    return {"field": field, "message": message, "code": code}


def gid(kind: str, num: int) -> str:
    """``gid://shopify/Order/123``."""
    return f"{GID_PREFIX}{kind}/{num}"


def parse_gid(value: Any, kind: str | None = None) -> int | None:
    """The numeric id of a GID (of ``kind`` when given), or None when ``value`` is not one."""
    if not isinstance(value, str) or not value.startswith(GID_PREFIX):
        return None
    rest = value[len(GID_PREFIX):].split("?", 1)[0]
    found_kind, _, num = rest.partition("/")
    if (kind and found_kind != kind) or not num.isdigit():
        return None
    return int(num)


def gid_kind(value: str) -> str:
    """The type name in a GID (``Order`` for ``gid://shopify/Order/1``)."""
    return value[len(GID_PREFIX):].split("/", 1)[0] if value.startswith(GID_PREFIX) else ""


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round ``amount`` to the currency's minor unit."""
    exp = Decimal("1") if currency in NO_DECIMALS else Decimal("0.01")
    return amount.quantize(exp, rounding=ROUND_HALF_UP)


def gql_amount(amount: Decimal) -> str:
    """A GraphQL ``Decimal`` string as Shopify prints it: ``10.0``, ``29.99``, ``0.5``."""
    text = format(Decimal(amount).normalize(), "f")
    return text if "." in text else text + ".0"


def rest_amount(amount: Decimal, currency: str) -> str:
    """A REST money string with the currency's decimals: ``10.00``."""
    return format(quantize(amount, currency), "f")


def money_v2(amount: Decimal, currency: str) -> dict[str, str]:
    """A ``MoneyV2``."""
    return {"amount": gql_amount(amount), "currencyCode": currency}


def money_bag(amount: Decimal, currency: str) -> dict[str, dict[str, str]]:
    """A ``MoneyBag``: shop and presentment money (the twin has one currency per order)."""
    money = money_v2(amount, currency)
    return {"shopMoney": money, "presentmentMoney": dict(money)}


def bag_amount(bag: dict[str, Any] | None) -> Decimal:
    """The shop amount in a stored MoneyBag."""
    return Decimal(bag["shopMoney"]["amount"]) if bag else ZERO


def rest_money_set(amount: Decimal, currency: str) -> dict[str, dict[str, str]]:
    """A REST ``*_set`` object."""
    money = {"amount": rest_amount(amount, currency), "currency_code": currency}
    return {"shop_money": money, "presentment_money": dict(money)}


def iso(moment: dt.datetime) -> str:
    """UTC ``2026-01-01T12:00:00Z`` (sortable as text)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rest_time(value: str | None) -> str | None:
    """A REST payload time (``2026-01-01T12:00:00+00:00``) from a stored GraphQL time."""
    return value.replace("Z", "+00:00") if value else None


def parse_money(value: Any, where: str) -> Decimal:
    """A money input (string or number) as a Decimal, or a user error naming ``where``."""
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise UserErrors([user_error(where.split("."), f"{value!r} is not a valid amount")]) from None


COUNTRY_NAMES = {
    "US": "United States", "CA": "Canada", "GB": "United Kingdom", "DE": "Germany", "FR": "France",
    "NL": "Netherlands", "BE": "Belgium", "ES": "Spain", "IT": "Italy", "AT": "Austria", "CH": "Switzerland",
    "SE": "Sweden", "DK": "Denmark", "NO": "Norway", "FI": "Finland", "IE": "Ireland", "PT": "Portugal",
    "PL": "Poland", "AU": "Australia", "NZ": "New Zealand", "JP": "Japan", "CN": "China", "BR": "Brazil",
    "MX": "Mexico", "IN": "India",
}


def mailing_address(data: dict[str, Any] | None, num: int) -> dict[str, Any] | None:
    """A stored ``MailingAddress`` from input keys (address1, city, countryCode, zip, ...)."""
    if not data:
        return None
    first, last = data.get("firstName") or "", data.get("lastName") or ""
    code = (data.get("countryCode") or "").upper()
    return {
        "__typename": "MailingAddress", "id": gid("MailingAddress", num),
        "firstName": first or None, "lastName": last or None, "name": f"{first} {last}".strip() or None,
        "company": data.get("company") or None, "address1": data.get("address1") or None,
        "address2": data.get("address2") or None, "city": data.get("city") or None,
        "province": data.get("province") or data.get("provinceCode") or None,
        "provinceCode": data.get("provinceCode") or None, "zip": data.get("zip") or None,
        "country": COUNTRY_NAMES.get(code, code) or None, "countryCodeV2": code or None,
        "phone": data.get("phone") or None, "latitude": None, "longitude": None,
        "formatted": [p for p in (data.get("address1"), data.get("city"), code) if p],
    }
