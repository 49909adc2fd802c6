"""Canonical business Entities shared by every connector, twin, map and reconciliation.

Connectors translate their product's native payloads to and from these shapes
(in their ``maps.py``); the plan's FieldMaps then map canonical source fields onto
canonical target fields. Money is always a :class:`~decimal.Decimal` in the order's
currency (never float); quantities are ints; times are timezone-aware UTC.

``to_dict`` / ``from_dict`` give the JSON-ready form used as a Record's ``data``:
Decimals become strings, datetimes ISO-8601 strings, nested entities dicts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import types
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

ENTITY_NAMES = (
    "order",
    "customer",
    "product",
    "variant",
    "stock",
    "fulfilment",
    "shipment",
    "refund",
    "return",
    "consent",
    "reservation",
)

T = TypeVar("T")


@dataclass
class Address:
    """A postal address; ``country`` is ISO 3166-1 alpha-2."""

    first_name: str = ""
    last_name: str = ""
    company: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    province: str = ""
    postal_code: str = ""
    country: str = ""
    phone: str = ""


@dataclass
class Customer:
    """A person or company that buys; ``id`` is the owning System's external id."""

    id: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    company: str = ""
    accepts_marketing: bool = False
    addresses: list[Address] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass
class Variant:
    """A sellable variant of a Product, identified across Systems by its SKU."""

    id: str = ""
    sku: str = ""
    title: str = ""
    price: Decimal = Decimal("0")
    barcode: str = ""
    weight_grams: int = 0
    inventory_item_id: str = ""


@dataclass
class Product:
    """A product with one or more variants."""

    id: str = ""
    title: str = ""
    code: str = ""
    vendor: str = ""
    product_type: str = ""
    status: str = "active"
    variants: list[Variant] = field(default_factory=list)
    updated_at: dt.datetime | None = None


@dataclass
class StockLevel:
    """Stock of one SKU at one location: ``available`` is sellable, ``on_hand`` physical."""

    sku: str = ""
    location: str = ""
    available: int = 0
    on_hand: int = 0
    reserved: int = 0
    updated_at: dt.datetime | None = None


@dataclass
class TaxLine:
    """One tax charged on a line or on shipping."""

    title: str = ""
    rate: Decimal = Decimal("0")
    amount: Decimal = Decimal("0")


@dataclass
class OrderLine:
    """One line of an Order: ``unit_price`` before discount; ``discount`` is the line's total discount."""

    id: str = ""
    sku: str = ""
    title: str = ""
    quantity: int = 0
    unit_price: Decimal = Decimal("0")
    discount: Decimal = Decimal("0")
    taxes: list[TaxLine] = field(default_factory=list)
    gift_card: bool = False
    requires_shipping: bool = True


@dataclass
class ShippingLine:
    """A shipping charge on an Order."""

    title: str = ""
    code: str = ""
    price: Decimal = Decimal("0")
    taxes: list[TaxLine] = field(default_factory=list)


@dataclass
class Order:
    """A customer order as the storefront took it.

    ``financial_status`` uses Shopify's vocabulary (pending, authorized, paid,
    partially_refunded, refunded, voided); ``status`` is the order's life-cycle
    state as the plan's status tables translate it for the target (open,
    confirmed, processing, shipped, cancelled, closed).
    """

    id: str = ""
    number: str = ""
    email: str = ""
    currency: str = "USD"
    customer: Customer | None = None
    lines: list[OrderLine] = field(default_factory=list)
    shipping_lines: list[ShippingLine] = field(default_factory=list)
    shipping_address: Address | None = None
    billing_address: Address | None = None
    subtotal: Decimal = Decimal("0")
    discount_total: Decimal = Decimal("0")
    shipping_total: Decimal = Decimal("0")
    tax_total: Decimal = Decimal("0")
    total: Decimal = Decimal("0")
    discount_codes: list[str] = field(default_factory=list)
    financial_status: str = "pending"
    fulfillment_status: str = "unfulfilled"
    status: str = "open"
    note: str = ""
    tags: list[str] = field(default_factory=list)
    cancelled_at: dt.datetime | None = None
    cancel_reason: str = ""
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass
class FulfilmentLine:
    """Quantity of one SKU in a Fulfilment or Shipment."""

    sku: str = ""
    quantity: int = 0


@dataclass
class Fulfilment:
    """Goods sent for an Order (all or part of it), with carrier and tracking.

    ``order_id`` is the order's id in the System that holds this record;
    ``order_number`` is the number the customer knows (``#1001``), which every System can search by.
    """

    id: str = ""
    order_id: str = ""
    order_number: str = ""
    status: str = "success"
    lines: list[FulfilmentLine] = field(default_factory=list)
    carrier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    location: str = ""
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass
class RefundLine:
    """Quantity and amount refunded for one SKU."""

    sku: str = ""
    quantity: int = 0
    amount: Decimal = Decimal("0")
    restock: bool = False


@dataclass
class Refund:
    """Money returned to the customer for an Order, with the lines it covers."""

    id: str = ""
    order_id: str = ""
    order_number: str = ""
    currency: str = "USD"
    amount: Decimal = Decimal("0")
    shipping_amount: Decimal = Decimal("0")
    lines: list[RefundLine] = field(default_factory=list)
    reason: str = ""
    created_at: dt.datetime | None = None


# Fulfilment and Shipment are the same business fact seen from the shop and the warehouse.
Shipment = Fulfilment


def to_dict(entity: Any) -> dict[str, Any]:
    """The JSON-ready dict of an entity: Decimals as strings, datetimes as ISO-8601 UTC."""
    return {f.name: _plain(getattr(entity, f.name)) for f in dataclasses.fields(entity)}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return value


# Resolving string annotations compiles code on every call; an entity's hints never change.
_type_hints = functools.cache(typing.get_type_hints)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build entity ``cls`` from its dict form, converting strings back to Decimals and datetimes.

    Unknown keys are ignored so that Records carrying extra native fields still load.
    """
    hints = _type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _typed(hints[f.name], data[f.name])
    return cls(**kwargs)


def _typed(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _typed(inner[0], value)
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_typed(item, v) for v in value]
    if hint is Decimal:
        return Decimal(str(value))
    if hint is dt.datetime:
        return parse_time(value)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value)
    return value


def parse_time(value: str | dt.datetime) -> dt.datetime:
    """Parse an ISO-8601 time (``Z`` allowed); naive times are taken as UTC."""
    parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def stamp(moment: dt.datetime) -> str:
    """A time as fixed-width ISO-8601 UTC text (microseconds, ``Z``), so text order is time order in SQL.

    Naive times are taken as UTC, like :func:`parse_time`.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
