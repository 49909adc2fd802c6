"""Sample data generator: deterministic catalogues, customers, orders and load profiles full of edge cases.

Everything comes from one ``random.Random(seed)``, so the same seed always gives
the same data (ids, names, prices, times). The output is canonical
:mod:`doohickey.model` entities, which every twin seeds from.

Edge cases that break integrations, on purpose: unicode names, very long
addresses, missing optional fields (no phone, no company, no province), several
countries and phone formats, near-duplicate customers (the same person with a
different email casing or phone format; listed in :attr:`Dataset.near_duplicates`
so tests know), gift cards (not taxed, not shipped), zero-priced lines, multi-line
orders with discounts, taxes and shipping fees, and several currencies including
one without minor units (JPY). Totals always add up to the minor unit:
``subtotal - discount_total + shipping_total + tax_total == total``.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

import phonenumbers

from doohickey.model import (
    Address,
    Customer,
    Order,
    OrderLine,
    Product,
    ShippingLine,
    StockLevel,
    TaxLine,
    Variant,
)

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

# Minor-unit exponent per currency (ISO 4217) and a fixed conversion rate from USD.
CURRENCIES: dict[str, tuple[int, Decimal]] = {
    "USD": (2, Decimal("1")),
    "EUR": (2, Decimal("0.92")),
    "GBP": (2, Decimal("0.79")),
    "CAD": (2, Decimal("1.36")),
    "JPY": (0, Decimal("151")),
}

# Country -> (currency, tax title, tax rate, example cities, region for phonenumbers).
COUNTRIES: dict[str, tuple[str, str, Decimal, tuple[str, ...]]] = {
    "US": ("USD", "State tax", Decimal("0.0825"), ("Austin", "San Francisco", "Brooklyn")),
    "CA": ("CAD", "GST", Decimal("0.05"), ("Montréal", "Toronto", "Vancouver")),
    "GB": ("GBP", "VAT", Decimal("0.20"), ("London", "Llanfairpwllgwyngyll", "Edinburgh")),
    "DE": ("EUR", "MwSt", Decimal("0.19"), ("München", "Köln", "Düsseldorf")),
    "FR": ("EUR", "TVA", Decimal("0.20"), ("Paris", "Saint-Étienne", "Orléans")),
    "NL": ("EUR", "BTW", Decimal("0.21"), ("Amsterdam", "'s-Hertogenbosch", "Utrecht")),
    "JP": ("JPY", "消費税", Decimal("0.10"), ("東京", "大阪", "Sapporo")),
}

# Subscriber numbers that phonenumbers formats per country (fictional ranges where they exist).
_PHONE_SEEDS = {
    "US": "+1 415 555 0{:03d}",
    "CA": "+1 514 555 0{:03d}",
    "GB": "+44 20 7946 0{:03d}",
    "DE": "+49 30 901820{:02d}",
    "FR": "+33 1 44 55 6{:03d}",
    "NL": "+31 20 555 1{:03d}",
    "JP": "+81 3 1234 5{:03d}",
}

FIRST_NAMES = (
    "José", "Zoë", "Søren", "Siobhán", "Łukasz", "Ana-María", "François", "Chloé", "Björn", "Amélie",
    "Ольга", "明", "Nguyễn", "Renée", "Mary", "John", "Ahmed", "Priya", "O'Neil", "Dũng",
)
LAST_NAMES = (
    "Müller", "O'Brien", "García Márquez", "Ní Bhriain", "Kierkegaard", "Smith", "Иванова", "王",
    "van der Berg", "Øvergård", "Dubois", "Nakamura", "Thị Minh", "D'Angelo", "Żółkiewski", "Lee",
)
STREETS = (
    "Hauptstraße", "Rue de la Paix", "Baker Street", "Calle de Alcalá", "Keizersgracht", "Main St",
    "Chemin du Moulin-à-Vent", "銀座通り", "Avenue des Champs-Élysées",
)
PRODUCT_WORDS = (
    ("Crème brûlée mug", "Kitchen"), ("Merino wool socks", "Apparel"), ("日本茶 Sencha tin", "Grocery"),
    ("Straße cycling cap", "Apparel"), ("Ceramic pour-over", "Kitchen"), ("Linen tea towel", "Home"),
    ("Øresund print", "Art"), ("Espresso beans 1kg", "Grocery"), ("Canvas tote", "Accessories"),
    ("Beeswax candle", "Home"), ("Ножницы scissors", "Tools"), ("Walnut cutting board", "Kitchen"),
)
SIZES = ("S", "M", "L", "XL")
COLOURS = ("Red", "Blue", "Ivory", "Forest")
LOCATIONS = ("WH-MAIN", "WH-EAST")


def money(amount: Decimal, currency: str) -> Decimal:
    """Round ``amount`` to the currency's minor unit, half up (what most tax engines do)."""
    exponent = CURRENCIES[currency][0]
    return amount.quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_UP)


def convert(usd: Decimal, currency: str) -> Decimal:
    """A USD catalogue price in ``currency`` at the generator's fixed rate, rounded to the minor unit."""
    return money(usd * CURRENCIES[currency][1], currency)


@dataclass
class Dataset:
    """One generated data set: catalogue, customers, stock and orders, plus what tests need to know.

    ``near_duplicates`` maps a duplicate customer's id to the id of the customer it
    duplicates; ``gift_card_skus`` and ``zero_priced_skus`` name the special lines.
    """

    seed: int
    products: list[Product] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    stock: list[StockLevel] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    near_duplicates: dict[str, str] = field(default_factory=dict)
    gift_card_skus: set[str] = field(default_factory=set)
    zero_priced_skus: set[str] = field(default_factory=set)

    @property
    def variants(self) -> list[Variant]:
        """Every variant of every product."""
        return [v for p in self.products for v in p.variants]


@dataclass(frozen=True)
class ScheduledOrder:
    """One order of a load profile, due ``offset`` seconds after the profile starts."""

    offset: float
    order: Order


class DataGenerator:
    """Generates canonical entities from one seeded random source; call order matters for determinism."""

    def __init__(self, seed: int = 0, *, start: dt.datetime = START) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.start = start
        self._order_no = 1000
        self.near_duplicates: dict[str, str] = {}

    # --- catalogue -------------------------------------------------------------------------------

    def catalogue(self, n_products: int = 12) -> list[Product]:
        """Products with 1-4 variants each, one gift card product and one zero-priced sample."""
        rng = self.rng
        products = []
        for i in range(n_products):
            title, kind = PRODUCT_WORDS[i % len(PRODUCT_WORDS)]
            code = f"P{i + 1:04d}"
            options = rng.sample([*SIZES, *COLOURS], k=rng.randint(1, 4))
            base = Decimal(rng.randint(300, 12000)) / 100
            variants = [
                Variant(
                    id=f"{code}-{j + 1}", sku=f"DH-{i + 1:04d}-{opt.upper()}", title=opt,
                    price=money(base + Decimal(j) * Decimal("1.50"), "USD"),
                    barcode=f"{rng.randint(10**11, 10**12 - 1)}" if rng.random() < 0.8 else "",
                    weight_grams=rng.randint(50, 3000), inventory_item_id=f"INV-{code}-{j + 1}",
                )
                for j, opt in enumerate(options)
            ]
            products.append(Product(id=code, title=title if i < len(PRODUCT_WORDS) else f"{title} {i}", code=code,
                                    vendor=rng.choice(("Acme", "Ünicorn GmbH", "")), product_type=kind,
                                    variants=variants, updated_at=self.start))
        products.append(Product(
            id="GIFT", title="Gift card", code="GIFT", product_type="Gift card", updated_at=self.start,
            variants=[Variant(id=f"GIFT-{v}", sku=f"GIFT-{v}", title=f"{v} USD", price=Decimal(v))
                      for v in (25, 50, 100)],
        ))
        products.append(Product(
            id="SAMPLE", title="Free sample sachet", code="SAMPLE", product_type="Promotional", updated_at=self.start,
            variants=[Variant(id="SAMPLE-1", sku="SAMPLE-TEA", title="Tea sample", price=Decimal("0.00"),
                              weight_grams=5)],
        ))
        return products

    def stock(self, products: list[Product], locations: tuple[str, ...] = LOCATIONS) -> list[StockLevel]:
        """Stock per SKU and location; gift cards carry none; some SKUs are out of stock."""
        levels = []
        for product in products:
            if product.id == "GIFT":
                continue
            for variant in product.variants:
                for location in locations:
                    on_hand = 0 if self.rng.random() < 0.1 else self.rng.randint(1, 500)
                    levels.append(StockLevel(sku=variant.sku, location=location, available=on_hand,
                                             on_hand=on_hand, updated_at=self.start))
        return levels

    # --- customers -------------------------------------------------------------------------------

    def customers(self, n: int = 30, near_duplicate_share: float = 0.15) -> list[Customer]:
        """``n`` customers plus near-duplicates of about ``near_duplicate_share`` of them."""
        people = [self._customer(i) for i in range(n)]
        dupes = []
        for original in people:
            if self.rng.random() < near_duplicate_share:
                dupe = self._near_duplicate(original, len(people) + len(dupes))
                self.near_duplicates[dupe.id] = original.id
                dupes.append(dupe)
        return people + dupes

    def _customer(self, i: int) -> Customer:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        country = rng.choice(list(COUNTRIES))
        local = _ascii_slug(f"{first}.{last}") or f"customer{i}"
        email = f"{local}{i}@{rng.choice(('example.com', 'example.org', 'mail.example.de'))}"
        phone = self._phone(country, i) if rng.random() < 0.75 else ""  # missing optional field
        company = rng.choice(("", "", "Ünicorn GmbH", "Société Générale de Thé", "ACME Ltd."))
        address = self._address(first, last, country, phone, company, long=rng.random() < 0.15)
        created = self.start + dt.timedelta(minutes=i)
        return Customer(
            id=f"C{i + 1:05d}", email=email, first_name=first, last_name=last, phone=phone, company=company,
            accepts_marketing=rng.random() < 0.4, addresses=[address], created_at=created, updated_at=created,
        )

    def _phone(self, country: str, i: int, style: int | None = None) -> str:
        number = phonenumbers.parse(_PHONE_SEEDS[country].format(i % 100), None)
        formats = (phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                   phonenumbers.PhoneNumberFormat.NATIONAL)
        chosen = formats[self.rng.randrange(3) if style is None else style]
        return phonenumbers.format_number(number, chosen)

    def _address(self, first: str, last: str, country: str, phone: str, company: str, *, long: bool) -> Address:
        rng = self.rng
        street = rng.choice(STREETS)
        line1 = f"{rng.randint(1, 999)} {street}"
        if long:
            line1 += " Gebäude C, Aufgang 3, 4. Obergeschoss links, c/o Hausverwaltung Sonnenschein & Partner mbB"
        return Address(
            first_name=first, last_name=last, company=company, line1=line1,
            line2=rng.choice(("", "", "Apt. 4B", "Hinterhaus, 2. OG")), city=rng.choice(COUNTRIES[country][3]),
            province=rng.choice(("", "TX", "QC")) if country in ("US", "CA") else "",
            postal_code=f"{rng.randint(10000, 99999)}", country=country, phone=phone,
        )

    def _near_duplicate(self, original: Customer, i: int) -> Customer:
        local, _, domain = original.email.partition("@")
        if original.phone and self.rng.random() < 0.5:
            # Same number in another format (E.164 vs national vs international).
            number = phonenumbers.parse(original.phone, original.addresses[0].country)
            current = original.phone
            candidates = [phonenumbers.format_number(number, f) for f in (
                phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                phonenumbers.PhoneNumberFormat.NATIONAL)]
            phone = next(c for c in candidates if c != current)
            email = original.email
        else:
            phone = original.phone
            email = f"{local.title()}@{domain.upper()}"
        created = (original.created_at or self.start) + dt.timedelta(days=30)
        return replace(original, id=f"C{i + 1:05d}", email=email, phone=phone,
                       addresses=[replace(a, phone=phone) for a in original.addresses],
                       created_at=created, updated_at=created)

    # --- orders ----------------------------------------------------------------------------------

    def order(self, customers: list[Customer], products: list[Product], *, at: dt.datetime | None = None,
              currency: str | None = None) -> Order:
        """One order of 1-5 lines for a random customer, in the customer's currency unless given."""
        rng = self.rng
        customer = rng.choice(customers)
        address = customer.addresses[0] if customer.addresses else Address(country="US")
        country = address.country or "US"
        currency = currency or (COUNTRIES[country][0] if rng.random() < 0.8 else rng.choice(list(CURRENCIES)))
        _, tax_title, rate, _ = COUNTRIES.get(country, COUNTRIES["US"])
        self._order_no += 1
        number = f"#{self._order_no}"
        regular = [v for p in products if p.id not in ("GIFT", "SAMPLE") for v in p.variants]
        picks = rng.sample(regular, k=min(len(regular), rng.randint(1, 4)))
        lines = [self._line(f"{number}-{k + 1}", v, rng.randint(1, 3), currency, tax_title, rate,
                            discount_share=rng.choice((0, 0, 0.1, 0.15)))
                 for k, v in enumerate(picks)]
        extras = {v.sku: v for p in products if p.id in ("GIFT", "SAMPLE") for v in p.variants}
        if "GIFT-50" in extras and rng.random() < 0.15:
            lines.append(self._line(f"{number}-g", extras["GIFT-50"], 1, currency, tax_title, rate, gift_card=True))
        if "SAMPLE-TEA" in extras and rng.random() < 0.2:
            lines.append(self._line(f"{number}-s", extras["SAMPLE-TEA"], 1, currency, tax_title, rate))
        shipping = []
        if any(line.requires_shipping for line in lines) and rng.random() < 0.85:
            price = convert(Decimal(rng.choice(("4.99", "9.90", "14.50"))), currency)
            shipping.append(ShippingLine(title="Standard", code="STD", price=price,
                                         taxes=[TaxLine(tax_title, rate, money(price * rate, currency))]))
        created = at or (self.start + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 30)))
        order = Order(
            id=str(5_000_000_000 + self._order_no), number=number, email=customer.email, currency=currency,
            customer=customer, lines=lines, shipping_lines=shipping, shipping_address=address,
            billing_address=address if rng.random() < 0.7 else None,
            discount_codes=["WELCOME10"] if any(line.discount for line in lines) else [],
            financial_status=rng.choice(("paid", "paid", "paid", "authorized", "pending")),
            note=rng.choice(("", "", "Bitte nicht klingeln 🔔", "Leave at the door")),
            created_at=created, updated_at=created,
        )
        return totalled(order)

    def _line(self, line_id: str, variant: Variant, quantity: int, currency: str, tax_title: str, rate: Decimal,
              *, discount_share: float = 0, gift_card: bool = False) -> OrderLine:
        unit = convert(variant.price, currency)
        gross = unit * quantity
        discount = money(gross * Decimal(str(discount_share)), currency)
        taxes = [] if gift_card else [TaxLine(tax_title, rate, money((gross - discount) * rate, currency))]
        return OrderLine(id=line_id, sku=variant.sku, title=variant.title, quantity=quantity, unit_price=unit,
                         discount=discount, taxes=taxes, gift_card=gift_card, requires_shipping=not gift_card)

    def orders(self, n: int, customers: list[Customer], products: list[Product]) -> list[Order]:
        """``n`` orders at random times within the first 30 days, oldest first."""
        made = [self.order(customers, products) for _ in range(n)]
        return sorted(made, key=lambda o: (o.created_at, o.number))


def totalled(order: Order) -> Order:
    """Fill an order's totals from its lines, shipping lines and taxes (all already rounded)."""
    order.subtotal = sum((line.unit_price * line.quantity for line in order.lines), Decimal(0))
    order.discount_total = sum((line.discount for line in order.lines), Decimal(0))
    order.shipping_total = sum((s.price for s in order.shipping_lines), Decimal(0))
    order.tax_total = sum((t.amount for line in [*order.lines, *order.shipping_lines] for t in line.taxes), Decimal(0))
    order.total = order.subtotal - order.discount_total + order.shipping_total + order.tax_total
    return order


def generate(seed: int = 0, *, products: int = 12, customers: int = 30, orders: int = 50,
             near_duplicate_share: float = 0.15) -> Dataset:
    """A full data set under ``seed``: catalogue, stock at two locations, customers and orders."""
    gen = DataGenerator(seed)
    catalogue = gen.catalogue(products)
    people = gen.customers(customers, near_duplicate_share)
    stock = gen.stock(catalogue)
    made = gen.orders(orders, people, catalogue)
    return Dataset(
        seed=seed, products=catalogue, customers=people, stock=stock, orders=made,
        near_duplicates=dict(gen.near_duplicates),
        gift_card_skus={v.sku for p in catalogue if p.id == "GIFT" for v in p.variants},
        zero_priced_skus={v.sku for p in catalogue for v in p.variants if v.price == 0},
    )


def steady_profile(dataset: Dataset, *, per_minute: float, minutes: float, seed: int | None = None,
                   start: dt.datetime = START) -> list[ScheduledOrder]:
    """Orders arriving at a steady ``per_minute`` rate (Poisson arrivals) for ``minutes``."""
    return _profile(dataset, lambda _t: per_minute, minutes, seed, start)


def black_friday_profile(dataset: Dataset, *, peak_per_minute: float, minutes: float = 60,
                         base_per_minute: float | None = None, seed: int | None = None,
                         start: dt.datetime = START) -> list[ScheduledOrder]:
    """A Black Friday day in small: base rate, a ramp to ``peak_per_minute`` held for the middle third, ramp down.

    ``base_per_minute`` defaults to a tenth of the peak.
    """
    base = peak_per_minute / 10 if base_per_minute is None else base_per_minute
    third = minutes / 3

    def rate(t: float) -> float:
        if t < third:
            return base + (peak_per_minute - base) * t / third
        if t < 2 * third:
            return peak_per_minute
        return peak_per_minute - (peak_per_minute - base) * (t - 2 * third) / third

    return _profile(dataset, rate, minutes, seed, start)


def _profile(dataset: Dataset, rate, minutes: float, seed: int | None, start: dt.datetime) -> list[ScheduledOrder]:
    gen = DataGenerator(dataset.seed + 7919 if seed is None else seed, start=start)
    gen._order_no = 100_000
    schedule: list[ScheduledOrder] = []
    t = 0.0
    end = minutes * 60
    while True:
        per_second = max(rate(t / 60), 1e-9) / 60
        t += -math.log(1.0 - gen.rng.random()) / per_second
        if t >= end:
            return schedule
        at = start + dt.timedelta(seconds=t)
        schedule.append(ScheduledOrder(round(t, 3), gen.order(dataset.customers, dataset.products, at=at)))


def _ascii_slug(text: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum() or c == ".").strip(".")
