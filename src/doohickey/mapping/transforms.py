"""Transforms: the small, named, pure functions a FieldMap row applies to a value.

A row names transforms in order: ``email -> email | strip | lower``. A transform
may take one argument in parentheses: ``join(", ")``, ``money(0)``,
``e164_phone(US)``, ``date(%d/%m/%Y)``, ``default(unknown)``. Quotes around the
argument are optional.

Rules every transform follows:

- ``None`` passes through unchanged (a missing optional field stays missing), except
  ``default`` and ``bool`` which exist to decide what missing means;
- on a value it cannot convert, it raises :class:`TransformError` with a short
  reason; the FieldMap turns that into a ``MappingError`` naming the row and value;
- on a path with ``[]`` it applies to each element, except the *aggregate* ones
  (``join``, ``first``, ``last``, ``count``, ``sum``) which take the whole list.

The registry :data:`TRANSFORMS` holds them by name; :func:`parse_transform` turns
``"join(, )"`` into a callable and :func:`transform_problem` explains a bad spec
(with a did-you-mean) for ``plan check``.
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
import functools
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import phonenumbers


class TransformError(ValueError):
    """A transform cannot convert this value; the message says why, in a few words."""


@dataclass(frozen=True)
class Transform:
    """One registered transform: the function, whether it takes a list whole, its one-line doc."""

    name: str
    fn: Callable[..., Any]
    aggregate: bool = False
    takes_arg: bool = False
    doc: str = ""


TRANSFORMS: dict[str, Transform] = {}


def transform(name: str, *, aggregate: bool = False, takes_arg: bool = False) -> Callable[[Callable[..., Any]], Any]:
    """Register a function as the transform ``name`` (its docstring is its documentation)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        TRANSFORMS[name] = Transform(name, fn, aggregate, takes_arg, doc)
        return fn

    return register


def _none_safe(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(value: Any, *args: Any) -> Any:
        return None if value is None else fn(value, *args)

    return wrapper


# --- text ------------------------------------------------------------------------------------------------------


@transform("strip")
@_none_safe
def strip(value: Any) -> str:
    """Remove surrounding whitespace: ``"  a b "`` -> ``"a b"``."""
    return str(value).strip()


@transform("lower")
@_none_safe
def lower(value: Any) -> str:
    """Lower-case: ``"Ann@X.com"`` -> ``"ann@x.com"``."""
    return str(value).lower()


@transform("upper")
@_none_safe
def upper(value: Any) -> str:
    """Upper-case: ``"usd"`` -> ``"USD"``."""
    return str(value).upper()


@transform("title")
@_none_safe
def title(value: Any) -> str:
    """Capitalise each word: ``"ann LEE"`` -> ``"Ann Lee"``."""
    return str(value).title()


@transform("str")
@_none_safe
def to_str(value: Any) -> str:
    """Any value as text: ``12`` -> ``"12"``."""
    return str(value)


@transform("ascii")
@_none_safe
def to_ascii(value: Any) -> str:
    """Drop accents for systems that only take ASCII: ``"Zoë Müller"`` -> ``"Zoe Muller"``."""
    return unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode()


@transform("truncate", takes_arg=True)
@_none_safe
def truncate(value: Any, length: str = "255") -> str:
    """Cut text to at most N characters (``truncate(40)``), for fields with a length limit."""
    return str(value)[: int(length)]


@transform("none_if_empty")
def none_if_empty(value: Any) -> Any:
    """Empty text, list or mapping becomes missing (so a row's ``default`` applies)."""
    return None if value in ("", [], {}) or (isinstance(value, str) and not value.strip()) else value


@transform("default", takes_arg=True)
def default(value: Any, fallback: str = "") -> Any:
    """Use the argument when the value is missing or empty: ``default(unknown)``."""
    return fallback if value is None or (isinstance(value, str) and not value.strip()) else value


# --- numbers and money -----------------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise TransformError(f"{value!r} is a yes/no, not a number")
    if isinstance(value, float):
        value = repr(value)  # 0.1 stays 0.1, not 0.1000000000000000055
    try:
        number = Decimal(str(value).strip().replace(",", "")) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise TransformError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise TransformError(f"{value!r} is not a finite number")
    return number


@transform("decimal")
@_none_safe
def to_decimal(value: Any) -> str:
    """A number as exact decimal text: ``"1,234.50"`` -> ``"1234.50"`` (never a float)."""
    return str(_decimal(value))


@transform("money", takes_arg=True)
@_none_safe
def money(value: Any, places: str = "2") -> str:
    """An amount rounded half-up to 2 places (or ``money(0)`` for JPY), as text: ``10.005`` -> ``"10.01"``."""
    quantum = Decimal(1).scaleb(-int(places))
    return str(_decimal(value).quantize(quantum, rounding=ROUND_HALF_UP))


@transform("cents_to_money", takes_arg=True)
@_none_safe
def cents_to_money(value: Any, places: str = "2") -> str:
    """Minor units to an amount: ``1999`` -> ``"19.99"`` (``cents_to_money(0)`` for zero-decimal currencies)."""
    number = _decimal(value)
    if number != number.to_integral_value():
        raise TransformError(f"{value!r} is not a whole number of minor units")
    return str(number.scaleb(-int(places)).quantize(Decimal(1).scaleb(-int(places))))


@transform("money_to_cents", takes_arg=True)
@_none_safe
def money_to_cents(value: Any, places: str = "2") -> int:
    """An amount to minor units, rounding half-up: ``"19.995"`` -> ``2000``."""
    return int(_decimal(value).scaleb(int(places)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@transform("int")
@_none_safe
def to_int(value: Any) -> int:
    """A whole number: ``"3"`` -> ``3``; ``"3.5"`` is an error (quantities are never fractional)."""
    number = _decimal(value)
    if number != number.to_integral_value():
        raise TransformError(f"{value!r} is not a whole number")
    return int(number)


@transform("round", takes_arg=True)
@_none_safe
def round_half_up(value: Any, places: str = "0") -> str:
    """Round half-up to N places (``round(3)``), as exact text."""
    return str(_decimal(value).quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP))


@transform("negate")
@_none_safe
def negate(value: Any) -> str:
    """Flip the sign of an amount (credit notes): ``"5.00"`` -> ``"-5.00"``."""
    return str(-_decimal(value))


_TRUE = {"true", "yes", "y", "1", "on", "t"}
_FALSE = {"false", "no", "n", "0", "off", "f", ""}


@transform("bool")
def to_bool(value: Any) -> bool:
    """Yes/no from ``true/false``, ``yes/no``, ``1/0``, ``on/off``; missing is ``False``."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | float | Decimal):
        return value != 0
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise TransformError(f"{value!r} is not a yes/no value")


# --- units -----------------------------------------------------------------------------------------------------


@transform("grams_to_kg")
@_none_safe
def grams_to_kg(value: Any) -> str:
    """Weight in grams to kilograms, exact: ``1250`` -> ``"1.25"``."""
    return str((_decimal(value) / 1000).normalize())


@transform("kg_to_grams")
@_none_safe
def kg_to_grams(value: Any) -> int:
    """Weight in kilograms to whole grams, half-up: ``"1.2505"`` -> ``1251``."""
    return int((_decimal(value) * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@transform("lb_to_grams")
@_none_safe
def lb_to_grams(value: Any) -> int:
    """Weight in pounds to whole grams (1 lb = 453.59237 g), half-up."""
    return int((_decimal(value) * Decimal("453.59237")).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- codes -----------------------------------------------------------------------------------------------------


def _fold(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", to_ascii(text).lower()).strip()


@functools.cache
def _countries() -> tuple[dict[str, str], list[str]]:
    """Folded name / alpha-3 / alpha-2 -> alpha-2, from the ISO 3166-1 table shipped with doohickey."""
    table = json.loads((Path(__file__).with_name("countries.json")).read_text(encoding="utf-8"))
    index: dict[str, str] = {}
    for alpha2, (alpha3, *names) in table.items():
        index[alpha2.lower()] = alpha2
        index[alpha3.lower()] = alpha2
        for name in names:
            index.setdefault(_fold(name), alpha2)
    return index, sorted(table)


@transform("iso_country")
@_none_safe
def iso_country(value: Any) -> str:
    """A country as ISO 3166-1 alpha-2 from a code or a name: ``"DEU"``, ``"Germany"`` -> ``"DE"``."""
    text = str(value).strip()
    if not text:
        return ""
    index, _ = _countries()
    found = index.get(text.lower()) or index.get(_fold(text))
    if found is None:
        close = difflib.get_close_matches(_fold(text), [k for k in index if len(k) > 3], n=1, cutoff=0.8)
        hint = f" (did you mean {close[0].title()!r}?)" if close else ""
        raise TransformError(f"{text!r} is not a country name or ISO code{hint}")
    return found


@transform("e164_phone", takes_arg=True)
@_none_safe
def e164_phone(value: Any, region: str = "") -> str:
    """A phone number in E.164: ``"(415) 555-0100"`` with ``e164_phone(US)`` -> ``"+14155550100"``."""
    text = str(value).strip()
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, region.upper() or None)
    except phonenumbers.NumberParseException:
        hint = "" if region else "; add the default region, e.g. e164_phone(US)"
        raise TransformError(f"{text!r} is not a phone number{hint}") from None
    if not phonenumbers.is_possible_number(number):
        raise TransformError(f"{text!r} has the wrong number of digits for a phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@transform("currency")
@_none_safe
def currency(value: Any) -> str:
    """A currency as its ISO 4217 code: ``" usd"`` -> ``"USD"``."""
    text = str(value).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", text):
        raise TransformError(f"{value!r} is not a three-letter currency code")
    return text


# --- dates -----------------------------------------------------------------------------------------------------


def _datetime(value: Any, fmt: str = "") -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    text = str(value).strip()
    try:
        if fmt:
            return dt.datetime.strptime(text, fmt)
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        expected = f"the format {fmt}" if fmt else "ISO-8601 (2025-03-01T10:00:00Z); pass a format, date(%d/%m/%Y)"
        raise TransformError(f"{text!r} is not a date in {expected}") from None


@transform("date", takes_arg=True)
@_none_safe
def date(value: Any, fmt: str = "") -> str:
    """A calendar date as ``YYYY-MM-DD`` from ISO text or the given format: ``date(%d/%m/%Y)``."""
    if isinstance(value, str) and not value.strip():
        return ""
    return _datetime(value, fmt).date().isoformat()


@transform("datetime_utc", takes_arg=True)
@_none_safe
def datetime_utc(value: Any, fmt: str = "") -> str:
    """A moment as ISO-8601 UTC ``2025-03-01T09:00:00Z``; a time without a zone is taken as UTC."""
    if isinstance(value, str) and not value.strip():
        return ""
    moment = _datetime(value, fmt)
    moment = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{moment.microsecond:06d}" if moment.microsecond else "") + "Z"


# --- lists -----------------------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@transform("join", aggregate=True, takes_arg=True)
@_none_safe
def join(value: Any, separator: str = " ") -> str:
    """Join a list's non-empty parts: ``[first_name, last_name]`` with ``join`` -> ``"Ann Lee"``."""
    return separator.join(str(v) for v in _as_list(value) if v not in (None, ""))


@transform("split", takes_arg=True)
@_none_safe
def split(value: Any, separator: str = ",") -> list[str]:
    """Split text into trimmed, non-empty parts: ``"a, b,"`` -> ``["a", "b"]``."""
    if isinstance(value, list):
        return value
    return [part.strip() for part in str(value).split(separator) if part.strip()]


@transform("first", aggregate=True)
@_none_safe
def first(value: Any) -> Any:
    """The first non-empty element of a list (or the value itself)."""
    return next((v for v in _as_list(value) if v not in (None, "")), None)


@transform("last", aggregate=True)
@_none_safe
def last(value: Any) -> Any:
    """The last non-empty element of a list (or the value itself)."""
    return next((v for v in reversed(_as_list(value)) if v not in (None, "")), None)


@transform("count", aggregate=True)
def count(value: Any) -> int:
    """How many elements a list has (missing counts 0)."""
    return 0 if value is None else len(_as_list(value))


@transform("sum", aggregate=True)
def total(value: Any) -> str:
    """Exact sum of a list of amounts or quantities, as text: ``["1.10", "2.20"]`` -> ``"3.30"``."""
    return str(sum((_decimal(v) for v in _as_list(value or []) if v is not None), Decimal(0)))


# --- parsing specs ---------------------------------------------------------------------------------------------

_SPEC = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.S)


def _argument(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        try:
            return str(ast.literal_eval(raw))
        except (ValueError, SyntaxError):
            return raw[1:-1]
    return raw


@functools.lru_cache(maxsize=1024)
def parse_transform(spec: str) -> tuple[Transform, tuple[str, ...]]:
    """Turn ``"join(, )"`` into the Transform and its arguments; raise TransformError when unknown."""
    problem = transform_problem(spec)
    if problem:
        raise TransformError(problem)
    match = _SPEC.match(spec)
    assert match is not None  # transform_problem checked the shape
    name, raw = match.group(1), match.group(2)
    return TRANSFORMS[name], (() if raw is None or raw.strip() == "" else (_argument(raw),))


def transform_problem(spec: str) -> str | None:
    """Why ``spec`` is not a usable transform (unknown name with did-you-mean, bad argument), or None."""
    match = _SPEC.match(str(spec))
    if not match:
        return f"{spec!r} is not a transform; write a name, optionally with one argument: join(, )"
    name, raw = match.group(1), match.group(2)
    if name not in TRANSFORMS:
        close = difflib.get_close_matches(name, TRANSFORMS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown transform {name!r} ({hint}known: {', '.join(sorted(TRANSFORMS))})"
    if raw is not None and raw.strip() and not TRANSFORMS[name].takes_arg:
        return f"transform {name!r} takes no argument"
    numeric = name in ("money", "cents_to_money", "money_to_cents", "round", "truncate")
    if numeric and raw and raw.strip() and not _argument(raw).isdigit():
        return f"transform {name!r} takes a whole number, not {raw.strip()!r}"
    return None


def apply_transform(spec: str, value: Any) -> Any:
    """Apply one transform spec to one value (no list handling; the FieldMap does that)."""
    found, args = parse_transform(spec)
    return found.fn(value, *args)
