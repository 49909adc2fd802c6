"""The ERP twin's wire shapes (pydantic): what its OpenAPI document publishes for requests and answers.

Money travels as decimal strings ("12.50") so no cent is lost to floats; requests
also accept JSON numbers. Every resource carries ``id``, ``created_at`` and
``updated_at`` (ISO-8601 UTC).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")
Money = Decimal
OrderStatus = Literal["draft", "confirmed", "partially_fulfilled", "fulfilled", "cancelled"]


class Strict(BaseModel):
    """Requests refuse unknown fields, so a mapping typo is a clear 422 rather than silently lost data."""

    model_config = ConfigDict(extra="forbid")


class Address(BaseModel):
    """A postal address; ``country`` is ISO 3166-1 alpha-2."""

    name: str = ""
    company: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = Field("", max_length=2)
    phone: str = ""


class CustomerIn(Strict):
    """Fields of a new customer."""

    external_ref: str | None = Field(None, description="Your id for this customer; unique, a repeat returns it.")
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    phone: str = ""
    addresses: list[Address] = Field(default_factory=list)


class CustomerPatch(Strict):
    """Fields to change on a customer; absent fields stay as they are."""

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    phone: str | None = None
    addresses: list[Address] | None = None


class Customer(CustomerIn):
    """A customer record."""

    model_config = ConfigDict(extra="ignore")
    id: str
    created_at: str
    updated_at: str


class ItemIn(Strict):
    """An item (a stock-keeping unit) identified by its product code."""

    code: str = Field(..., min_length=1, description="The product code (SKU).")
    name: str = ""
    product_code: str = Field("", description="Groups items of one product (its variants).")
    price: Money = Decimal(0)
    barcode: str = ""
    weight_grams: int = 0
    is_gift_card: bool = False
    active: bool = True


class Item(ItemIn):
    """An item record."""

    model_config = ConfigDict(extra="ignore")
    id: str
    created_at: str
    updated_at: str


class OrderLineIn(Strict):
    """One line of a new sales order; ``unit_price`` defaults to the item's price."""

    item_code: str = Field(..., description="Product code (SKU) of an existing item.")
    quantity: int = Field(..., ge=1)
    unit_price: Money | None = None
    discount: Money = Field(Decimal(0), ge=0, description="Total discount on this line.")
    tax_rate: Money = Decimal(0)
    tax_amount: Money = Field(Decimal(0), ge=0, description="Tax charged on this line, as computed by the seller.")
    description: str = ""
    is_gift_card: bool = False


class SalesOrderIn(Strict):
    """A new sales order."""

    external_ref: str | None = Field(None, description="Your order number; unique: a repeat returns the first order.")
    customer_id: str | None = None
    email: str = ""
    currency: str = Field("USD", pattern="^[A-Z]{3}$")
    status: Literal["draft", "confirmed"] = "draft"
    lines: list[OrderLineIn] = Field(..., min_length=1)
    shipping_fee: Money = Field(Decimal(0), ge=0)
    shipping_tax: Money = Field(Decimal(0), ge=0)
    location: str = Field("WH-MAIN", description="Where the order is fulfilled from: confirmed orders commit stock "
                                                 "there (available = on_hand - committed).")
    expected_total: Money | None = Field(None, description="If given, the order is refused unless its computed "
                                                           "total equals this (catches mapping errors).")
    ship_to: Address | None = None
    bill_to: Address | None = None
    memo: str = ""


class OrderLine(BaseModel):
    """A sales order line with what has been fulfilled so far."""

    line_no: int
    item_code: str
    description: str = ""
    quantity: int
    unit_price: Money
    discount: Money
    tax_rate: Money
    tax_amount: Money
    amount: Money = Field(..., description="quantity x unit_price - discount, before tax.")
    quantity_fulfilled: int
    is_gift_card: bool = False


class SalesOrder(BaseModel):
    """A sales order: ``total = subtotal - discount_total + shipping_fee + tax_total``."""

    id: str
    number: str
    external_ref: str | None = None
    customer_id: str | None = None
    email: str = ""
    currency: str
    status: OrderStatus
    lines: list[OrderLine]
    subtotal: Money
    discount_total: Money
    shipping_fee: Money
    shipping_tax: Money
    tax_total: Money
    total: Money
    ship_to: Address | None = None
    bill_to: Address | None = None
    memo: str = ""
    location: str = "WH-MAIN"
    cancelled_at: str | None = None
    created_at: str
    updated_at: str


class StockLevel(BaseModel):
    """Stock of one item at one location."""

    id: str
    item_code: str
    location: str
    on_hand: int
    committed: int = 0
    available: int
    updated_at: str


class StockAdjustmentIn(Strict):
    """Change stock of one item at one location: give ``delta`` (+/-) or ``on_hand`` (a count), not both."""

    item_code: str
    location: str = "WH-MAIN"
    delta: int | None = None
    on_hand: int | None = Field(None, ge=0)
    reason: str = ""


class FulfilmentLineIn(Strict):
    """Quantity of one item shipped."""

    item_code: str
    quantity: int = Field(..., ge=1)


class FulfilmentIn(Strict):
    """An item fulfilment: all open quantities when ``lines`` is empty, else only those lines (partial)."""

    lines: list[FulfilmentLineIn] = Field(default_factory=list)
    location: str = "WH-MAIN"
    carrier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    memo: str = ""


class Fulfilment(BaseModel):
    """An item fulfilment: goods shipped for a sales order, with carrier and tracking."""

    id: str
    order_id: str
    order_external_ref: str | None = None
    status: str
    location: str
    carrier: str
    tracking_number: str
    tracking_url: str = ""
    lines: list[FulfilmentLineIn]
    memo: str = ""
    created_at: str
    updated_at: str


class CreditLineIn(Strict):
    """One refunded item: quantity and amount; ``restock`` puts the goods back in stock."""

    item_code: str
    quantity: int = Field(0, ge=0)
    amount: Money = Field(Decimal(0), ge=0)
    restock: bool = False


class CreditMemoIn(Strict):
    """A credit memo (refund) for a sales order: ``amount`` is the total credited (tax included); without it,
    the sum of line amounts plus ``shipping_amount``. ``amount`` may not be less than lines plus shipping."""

    order_id: str
    external_ref: str | None = Field(None, description="Your refund id; unique: a repeat returns the first memo.")
    lines: list[CreditLineIn] = Field(default_factory=list)
    shipping_amount: Money = Field(Decimal(0), ge=0)
    amount: Money | None = Field(None, gt=0)
    location: str = "WH-MAIN"
    reason: str = ""


class CreditMemo(BaseModel):
    """A credit memo record."""

    id: str
    order_id: str
    order_external_ref: str | None = None
    external_ref: str | None = None
    currency: str
    amount: Money
    shipping_amount: Money
    lines: list[CreditLineIn]
    reason: str = ""
    created_at: str
    updated_at: str


class Page(BaseModel, Generic[T]):
    """One page of a list: ask for ``page + 1`` while ``has_more`` is true."""

    items: list[T]
    page: int
    limit: int
    total: int = Field(..., description="Matching records across all pages.")
    has_more: bool
    next_page: int | None = None


class ErrorDetail(BaseModel):
    """One problem with the request."""

    model_config = ConfigDict(populate_by_name=True)
    detail: str
    error_code: str = Field(..., alias="o:errorCode")
    error_path: str | None = Field(None, alias="o:errorPath")


class ErrorBody(BaseModel):
    """Every error answer (NetSuite REST shape): ``o:errorDetails[].detail`` says what is wrong in business words."""

    model_config = ConfigDict(populate_by_name=True)
    type: str
    title: str
    status: int
    detail: str
    error_details: list[ErrorDetail] = Field(..., alias="o:errorDetails")
