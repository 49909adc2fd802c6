"""Customer matching: the same person is found however their email or phone is written; lookalikes are not."""

from __future__ import annotations

import pytest

from doohickey.plan.model import MatchRule
from doohickey.reconcile.diff import ReconcileError
from doohickey.reconcile.matching import (
    CustomerIndex,
    find_duplicates,
    find_match,
    normalise_phone,
    parse_rules,
    profile_of,
)

RULES = parse_rules(["email", "phone", {"fuzzy": "name+address", "threshold": 0.92}])


def customer(id: str, **kw) -> dict:
    address = kw.pop("address", {"line1": "12 Harbour Street", "city": "Springfield", "postal_code": "94110"})
    return {"id": id, "first_name": "Jane", "last_name": "Doe", "addresses": [address], **kw}


def index_of(*customers: dict) -> CustomerIndex:
    return CustomerIndex(RULES).add_all(profile_of(c, rules=RULES) for c in customers)


def test_email_written_two_ways_is_the_same_customer() -> None:
    index = index_of(customer("shop-1", email="jane.doe@example.com"))
    match = find_match(profile_of(customer("new", email="  Jane.Doe@Example.com"), rules=RULES), index)
    assert match is not None and (match.right, match.rule, match.score) == ("shop-1", "email", 1.0)
    assert match.reasons == ("same email: jane.doe@example.com",)


def test_phone_written_two_ways_is_the_same_customer() -> None:
    index = index_of(customer("erp-7", phone="4155550100", first_name="J.", addresses=[]))
    candidate = profile_of({"id": "new", "phone": "+1 (415) 555-0100", "first_name": "Jane"}, rules=RULES)
    match = find_match(candidate, index)
    assert match is not None and (match.right, match.rule) == ("erp-7", "phone")
    assert normalise_phone("(415) 555-0100", "US") == normalise_phone("+14155550100") == "+14155550100"
    assert normalise_phone("not a number") == ""


def test_a_similar_name_at_another_address_is_not_merged() -> None:
    index = index_of(customer("c1"))
    elsewhere = customer("c2", address={"line1": "401 Ocean Avenue", "city": "Portland", "postal_code": "97201"})
    assert find_match(profile_of(elsewhere, rules=RULES), index) is None
    similar = customer("c3", first_name="Janet", address={"line1": "88 Elm Road", "city": "Austin",
                                                          "postal_code": "73301"})
    assert find_match(profile_of(similar, rules=RULES), index) is None
    assert find_duplicates([profile_of(c, rules=RULES) for c in (customer("c1"), elsewhere, similar)], RULES) == []


def test_same_person_and_address_with_a_typo_matches_fuzzily_with_reasons() -> None:
    index = index_of(customer("c1"))
    typo = customer("c9", last_name="Doe ", address={"line1": "12 Harbor Street", "city": "Springfield",
                                                     "postal_code": "94110"})
    match = find_match(profile_of(typo, rules=RULES), index)
    assert match is not None and match.rule == "fuzzy" and 0.92 <= match.score < 1
    assert any(r.startswith("name 1.00") for r in match.reasons) and any("address" in r for r in match.reasons)


def test_gmail_dots_and_tags_are_folded_only_when_asked() -> None:
    a = {"id": "a", "email": "jane.doe+shop@gmail.com"}
    b = {"id": "b", "email": "janedoe@googlemail.com"}
    plain = parse_rules(["email"])
    assert find_match(profile_of(b, rules=plain), CustomerIndex(plain).add_all([profile_of(a, rules=plain)])) is None
    gmail = parse_rules([{"email": {"gmail": True}}])
    found = find_match(profile_of(b, rules=gmail), CustomerIndex(gmail).add_all([profile_of(a, rules=gmail)]))
    assert found is not None and found.right == "a"


def test_rules_come_from_the_plan_model_and_bad_rules_are_named() -> None:
    plan_rules = [MatchRule.model_validate(x) for x in ("email", {"fuzzy": "name+address", "threshold": 0.95})]
    rules = parse_rules(plan_rules)
    assert [(r.key, r.fields, r.threshold) for r in rules.rules] == [
        ("email", (), 1.0), ("fuzzy", ("name", "address"), 0.95)]
    with pytest.raises(ReconcileError, match=r"matching.customer\[1\]: unknown matching rule 'shoe_size'"):
        parse_rules(["email", "shoe_size"])
    with pytest.raises(ReconcileError, match="fuzzy fields"):
        parse_rules([{"fuzzy": "name+aura"}])


def test_batch_dedupe_lists_the_duplicates_already_present_with_reasons() -> None:
    firsts = ["Amara", "Bilal", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kofi",
              "Lena", "Mateo", "Nadia", "Omar"]
    lasts = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Kowalski", "Haddad", "Fischer", "Silva", "Novak", "Brennan",
             "Castillo", "Yilmaz", "Duarte", "Petrov", "Mensah", "Ferreira", "Nakamura", "Ortiz", "Schmidt", "Quinn"]
    streets = ["Maple Avenue", "Harbour Street", "Kingsway", "Orchard Lane", "Mill Road", "Station Parade"]
    people = [customer(f"p{i}", first_name=firsts[i % 15], last_name=lasts[i // 15], email=f"p{i}@example.com",
                       address={"line1": f"{i * 7 % 90 + 1} {streets[i % 6]}", "city": "Town",
                                "postal_code": f"{1000 + i % 50}"})
              for i in range(300)]
    people.append(customer("dup-email", first_name="Other", email="P7@Example.com"))
    people.append({**people[42], "id": "dup-fuzzy", "email": "", "first_name": "Matteo"})
    matches = find_duplicates([profile_of(p, rules=RULES) for p in people], RULES)
    pairs = {(m.left, m.right, m.rule) for m in matches}
    assert pairs == {("p7", "dup-email", "email"), ("p42", "dup-fuzzy", "fuzzy")}
    fuzzy = next(m for m in matches if m.rule == "fuzzy")
    assert fuzzy.score >= 0.92 and fuzzy.reasons


def test_a_canonical_customer_object_is_matched_by_its_phone() -> None:
    from doohickey import model

    existing = model.Customer(id="erp-1", first_name="Ana", last_name="Lima", phone="+44 20 7946 0958")
    rules = parse_rules([{"phone": {"region": "GB"}}])
    index = CustomerIndex(rules).add_all([profile_of(existing, rules=rules)])
    newcomer = model.Customer(id="shop-9", first_name="Ana", phone="020 7946 0958")
    match = find_match(profile_of(newcomer, rules=rules), index)
    assert match is not None and match.right == "erp-1" and match.reasons == ("same phone: +442079460958",)


def test_a_placeholder_email_shared_by_many_does_not_explode_into_all_pairs() -> None:
    rules = parse_rules(["email"])
    people = [profile_of({"id": f"c{i}", "email": "noemail@shop.example"}, rules=rules) for i in range(1000)]
    matches = find_duplicates(people, rules)
    assert len(matches) == 999 and "shared by 1000 customers" in matches[0].reasons[0]
