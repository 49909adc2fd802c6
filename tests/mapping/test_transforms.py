"""Transforms: each named function converts what a real payload holds, and explains what it cannot."""

from __future__ import annotations

import pytest

from doohickey.mapping.transforms import TRANSFORMS, TransformError, apply_transform, transform_problem


@pytest.mark.parametrize(("spec", "value", "expected"), [
    ("strip", "  Ann Lee \n", "Ann Lee"),
    ("lower", "Ann@Example.COM", "ann@example.com"),
    ("upper", "eur", "EUR"),
    ("title", "ann LEE", "Ann Lee"),
    ("ascii", "Zoë Müller", "Zoe Muller"),
    ("truncate(4)", "abcdef", "abcd"),
    ("money", "10.005", "10.01"),                 # half-up, not banker's rounding
    ("money", 0.1, "0.10"),                       # floats do not leak binary noise
    ("money", "1,299.5", "1299.50"),
    ("money(0)", "1500.5", "1501"),               # zero-decimal currencies (JPY)
    ("money", "-2.345", "-2.35"),
    ("decimal", "1,234.50", "1234.50"),
    ("cents_to_money", 1999, "19.99"),
    ("cents_to_money", "5", "0.05"),
    ("money_to_cents", "19.995", 2000),
    ("money_to_cents", "0.10", 10),
    ("int", "3", 3),
    ("int", "3.0", 3),
    ("round(1)", "2.25", "2.3"),
    ("negate", "5.00", "-5.00"),
    ("bool", "yes", True),
    ("bool", "0", False),
    ("bool", None, False),
    ("iso_country", "DEU", "DE"),
    ("iso_country", "Germany", "DE"),
    ("iso_country", "united states of america", "US"),
    ("iso_country", "USA", "US"),
    ("iso_country", "Côte d'Ivoire", "CI"),
    ("iso_country", "gb", "GB"),
    ("iso_country", "South Korea", "KR"),
    ("e164_phone(US)", "(415) 555-0100", "+14155550100"),
    ("e164_phone", "+44 20 7946 0958", "+442079460958"),
    ("e164_phone(DE)", "030 123456", "+4930123456"),
    ("currency", " usd", "USD"),
    ("date", "2025-03-01T23:30:00-05:00", "2025-03-01"),
    ("date(%d/%m/%Y)", "31/12/2024", "2024-12-31"),
    ("datetime_utc", "2025-03-01T10:00:00+01:00", "2025-03-01T09:00:00Z"),
    ("datetime_utc", "2025-03-01T10:00:00Z", "2025-03-01T10:00:00Z"),
    ("datetime_utc", "2025-03-01 10:00:00", "2025-03-01T10:00:00Z"),
    ("datetime_utc", 0, "1970-01-01T00:00:00Z"),
    ("join", ["Ann", "", None, "Lee"], "Ann Lee"),
    ('join(", ")', ["a", "b"], "a, b"),
    ("split", "gift, rush,", ["gift", "rush"]),
    ("split(;)", "a;b", ["a", "b"]),
    ("first", ["", "x", "y"], "x"),
    ("last", ["x", "y", None], "y"),
    ("count", ["x", "y"], 2),
    ("sum", ["1.10", "2.20"], "3.30"),
    ("grams_to_kg", 1250, "1.25"),
    ("kg_to_grams", "1.2505", 1251),
    ("lb_to_grams", 1, 454),
    ("default(unknown)", "", "unknown"),
    ("default(unknown)", "x", "x"),
    ("none_if_empty", "  ", None),
])
def test_transform_converts(spec: str, value: object, expected: object) -> None:
    assert apply_transform(spec, value) == expected


@pytest.mark.parametrize("name", sorted(set(TRANSFORMS) - {"bool", "count", "sum", "default", "none_if_empty"}))
def test_missing_values_stay_missing(name: str) -> None:
    assert apply_transform(name, None) is None


@pytest.mark.parametrize(("spec", "value", "reason"), [
    ("money", "ten dollars", "'ten dollars' is not a number"),
    ("int", "2.5", "'2.5' is not a whole number"),
    ("bool", "maybe", "'maybe' is not a yes/no value"),
    ("iso_country", "Germny", "'Germny' is not a country name or ISO code (did you mean 'Germany'?)"),
    ("e164_phone", "555-0100", "add the default region, e.g. e164_phone(US)"),
    ("e164_phone(US)", "12", "wrong number of digits"),
    ("currency", "dollars", "not a three-letter currency code"),
    ("date", "01/02/2025", "pass a format, date(%d/%m/%Y)"),
    ("cents_to_money", "19.5", "not a whole number of minor units"),
    ("money", True, "is a yes/no, not a number"),
])
def test_transform_explains_what_it_cannot_convert(spec: str, value: object, reason: str) -> None:
    with pytest.raises(TransformError) as info:
        apply_transform(spec, value)
    assert reason in str(info.value)


def test_bad_specs_are_explained_with_did_you_mean() -> None:
    assert "did you mean 'lower'" in transform_problem("lowr")
    assert transform_problem("strip(x)") == "transform 'strip' takes no argument"
    assert "takes a whole number" in transform_problem("money(two)")
    assert transform_problem("join(, )") is None and transform_problem("e164_phone(US)") is None


def test_every_transform_is_documented() -> None:
    assert all(t.doc for t in TRANSFORMS.values())
    assert {"strip", "lower", "upper", "money", "int", "decimal", "bool", "iso_country", "e164_phone", "date",
            "datetime_utc", "cents_to_money", "money_to_cents", "join", "split", "first", "default"} <= set(TRANSFORMS)
