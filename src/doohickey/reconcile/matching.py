"""Customer matching: find the existing customer before creating a second one, and list duplicates.

Rules come from the plan's ``matching: {customer: [...]}`` list and are tried in order:

- ``email``: trimmed and case-folded (``Jane.Doe@Example.com`` == ``jane.doe@example.com``); Gmail's
  ignored dots and ``+tags`` are folded only when asked (``{key: email, gmail: true}``), since for
  other providers they are different mailboxes;
- ``phone``: parsed with ``phonenumbers`` and compared in E.164, numbers without ``+country`` read in
  the rule's ``region`` (default ``US``): ``+1 (415) 555-0100`` == ``4155550100``;
- ``account_id``: an identifier both Systems hold (loyalty number, tax id), trimmed and case-folded;
- ``{fuzzy: name+address, threshold: 0.92}``: the mean rapidfuzz similarity of the listed fields
  (fields empty on either side are left out) must reach the threshold. A name alone is never enough:
  the same name at another address scores far below any sensible threshold.

Every :class:`Match` carries its score and its reasons. Fuzzy comparison only runs on *blocks*
of profiles sharing a cheap key (postcode, name initials, street, birth date), so a batch of
100,000 customers compares a few million pairs, not five billion; within a block the scores
come from ``rapidfuzz.process.cdist`` (C, vectorised).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import phonenumbers
from rapidfuzz import fuzz, process

from doohickey.errors import DoohickeyError
from doohickey.reconcile.diff import ReconcileError

FUZZY_FIELDS = ("name", "address", "postcode", "city", "birth_date", "company")
_GMAIL = {"gmail.com", "googlemail.com"}
_NON_WORD = re.compile(r"[^\w]+")


# --- normalisers ----------------------------------------------------------------------------------------


def normalise_email(value: Any, *, gmail: bool = False, plus: bool = False) -> str:
    """An email trimmed and case-folded; ``gmail`` folds Gmail dots and tags, ``plus`` drops any ``+tag``."""
    text = "" if value is None else str(value).strip().casefold()
    if "@" not in text:
        return ""
    local, _, domain = text.rpartition("@")
    if gmail and domain in _GMAIL:
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
    elif plus:
        local = local.split("+", 1)[0]
    return f"{local}@{domain}" if local and domain else ""


def normalise_phone(value: Any, region: str = "US") -> str:
    """A phone number in E.164 (``+14155550100``), or ``""`` when it cannot be a valid number."""
    text = "" if value is None else str(value).strip()
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_words(value: Any) -> str:
    """Lower-case words without accents or punctuation, single-spaced (for fuzzy comparison)."""
    if value is None or value != value:  # NaN from data frames
        return ""
    text = unicodedata.normalize("NFKD", str(value).casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", text).split())


# --- profiles and matches -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """The identity features of one customer, normalised once; ``id`` is its external id in ``system``."""

    id: str
    system: str = ""
    email: str = ""
    phone: str = ""
    account_id: str = ""
    name: str = ""
    address: str = ""
    postcode: str = ""
    city: str = ""
    birth_date: str = ""
    company: str = ""

    def value(self, name: str) -> str:
        """The normalised value of a feature by name."""
        return getattr(self, name)


def _first_address(data: Mapping[str, Any]) -> Mapping[str, Any]:
    addresses = data.get("addresses") or []
    for key in ("default_address", "billing_address", "shipping_address"):
        if isinstance(data.get(key), Mapping):
            return data[key]
    return addresses[0] if addresses and isinstance(addresses[0], Mapping) else data


def profile_of(data: Mapping[str, Any] | Any, *, id: str | None = None, system: str = "",
               rules: MatchRules | None = None) -> Profile:
    """The Profile of a canonical customer dict (or ``model.Customer``) or a flat row with FEBRL-like columns."""
    if not isinstance(data, Mapping):
        from doohickey.model import to_dict

        data = to_dict(data)
    rules = rules or DEFAULT_RULES
    addr = _first_address(data)
    name = " ".join(str(data.get(k) or "") for k in ("first_name", "given_name", "last_name", "surname", "name")
                    if data.get(k) == data.get(k))
    street = " ".join(str(addr.get(k) or "") for k in ("street_number", "line1", "address1", "address_1",
                                                        "line2", "address2", "address_2")
                      if addr.get(k) == addr.get(k))
    postcode = addr.get("postal_code") or addr.get("zip") or addr.get("postcode") or ""
    city = addr.get("city") or addr.get("suburb") or ""
    phone = data.get("phone") or addr.get("phone") or ""
    account = data.get("account_id") or data.get("soc_sec_id") or data.get("tax_id") or ""
    return Profile(
        id=str(id if id is not None else data.get("id") or data.get("_id") or ""),
        system=system,
        email=normalise_email(data.get("email"), gmail=rules.gmail, plus=rules.plus),
        phone=normalise_phone(phone, rules.region),
        account_id=normalise_words(account).replace(" ", ""),
        name=normalise_words(name),
        address=normalise_words(street),
        postcode=normalise_words(postcode).replace(" ", ""),
        city=normalise_words(city),
        birth_date=normalise_words(data.get("birth_date") or data.get("date_of_birth") or "").replace(" ", ""),
        company=normalise_words(data.get("company") or ""),
    )


@dataclass(frozen=True)
class Match:
    """Two customers judged to be the same: the rule that decided, its score (0..1) and the reasons."""

    left: str
    right: str
    rule: str
    score: float
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"left": self.left, "right": self.right, "rule": self.rule, "score": round(self.score, 4),
                "reasons": list(self.reasons)}


# --- rules ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One matching rule: an exact key (email, phone, account_id) or ``fuzzy`` over ``fields``."""

    key: str
    fields: tuple[str, ...] = ()
    threshold: float = 1.0


@dataclass(frozen=True)
class MatchRules:
    """The ordered rules of a plan's ``matching`` entry, with the options the normalisers need."""

    rules: tuple[Rule, ...]
    region: str = "US"
    gmail: bool = False
    plus: bool = False
    max_block: int = 400

    @property
    def exact(self) -> tuple[Rule, ...]:
        """The exact-key rules, in order."""
        return tuple(r for r in self.rules if r.key != "fuzzy")

    @property
    def fuzzy(self) -> Rule | None:
        """The fuzzy rule, if any."""
        return next((r for r in self.rules if r.key == "fuzzy"), None)


def parse_rules(items: Iterable[Any], *, region: str = "US", where: str = "matching.customer") -> MatchRules:
    """Read a plan's rule list: ``email``, ``phone``, ``account_id``, ``{fuzzy: name+address, threshold: 0.92}``.

    Accepts the plan model's ``MatchRule`` objects as well as plain strings and dicts.
    """
    rules: list[Rule] = []
    gmail = plus = False
    for n, item in enumerate(items):
        data = _rule_dict(item)
        key = str(data.get("key", ""))
        if key not in {"email", "phone", "account_id", "fuzzy"}:
            raise ReconcileError(f"{where}[{n}]: unknown matching rule {key!r}; use email, phone, account_id "
                                 "or {fuzzy: name+address, threshold: 0.92}")
        fields = tuple(data.get("fields") or ())
        if key == "fuzzy":
            unknown = [f for f in fields if f not in FUZZY_FIELDS]
            if unknown or not fields:
                raise ReconcileError(f"{where}[{n}]: fuzzy fields {unknown or fields} not known; "
                                     f"choose from {'+'.join(FUZZY_FIELDS)}")
        threshold = float(data.get("threshold", 0.92 if key == "fuzzy" else 1.0))
        if not 0 < threshold <= 1:
            raise ReconcileError(f"{where}[{n}]: threshold {threshold} must be in (0, 1]")
        region = data.get("region") or region
        gmail = gmail or bool(data.get("gmail"))
        plus = plus or bool(data.get("plus"))
        rules.append(Rule(key, fields, threshold))
    if not rules:
        raise ReconcileError(f"{where}: no matching rules")
    return MatchRules(tuple(rules), region=region, gmail=gmail, plus=plus)


def _rule_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, str):
        return {"key": item}
    if isinstance(item, Mapping):
        data = dict(item)
        if "fuzzy" in data:
            data["key"] = "fuzzy"
            data["fields"] = str(data.pop("fuzzy")).split("+")
        elif "key" not in data and len(data) == 1:
            (key, options), = data.items()
            data = {"key": key, **(options or {})}
        return data
    if hasattr(item, "key"):
        return {"key": item.key, "fields": list(getattr(item, "fields", []) or []),
                "threshold": getattr(item, "threshold", 1.0), "region": getattr(item, "region", None),
                "gmail": getattr(item, "gmail", False)}
    raise ReconcileError(f"matching rule {item!r} is neither a name nor a mapping")


DEFAULT_RULES = MatchRules((Rule("email"), Rule("phone"), Rule("fuzzy", ("name", "address"), 0.92)))

_SCORERS = {"name": fuzz.token_sort_ratio, "address": fuzz.token_sort_ratio, "company": fuzz.token_sort_ratio,
            "city": fuzz.ratio, "postcode": fuzz.ratio, "birth_date": fuzz.ratio}


def fuzzy_score(a: Profile, b: Profile, fields: Sequence[str]) -> tuple[float, tuple[str, ...]]:
    """Mean similarity (0..1) over the fields both profiles hold, and a reason per field."""
    scores, reasons = [], []
    for name in fields:
        x, y = a.value(name), b.value(name)
        if not x or not y:
            continue
        s = _SCORERS[name](x, y) / 100
        scores.append(s)
        reasons.append(f"{name} {s:.2f}: {x!r} ~ {y!r}")
    if not scores:
        return 0.0, ()
    return sum(scores) / len(scores), tuple(reasons)


def block_keys(p: Profile) -> list[str]:
    """Cheap keys that true duplicates very likely share at least one of (postcode, name, street, birth date)."""
    keys = []
    if p.postcode:
        keys.append("p:" + p.postcode)
    tokens = sorted(t for t in p.name.split() if len(t) > 1)
    if tokens:
        keys.append("n:" + "|".join(t[:3] for t in tokens[:3]))
    street = [t for t in p.address.split() if not t.isdigit()]
    if street:
        keys.append("a:" + street[0][:5] + (p.city[:3] if p.city else ""))
    if p.birth_date:
        keys.append("d:" + p.birth_date)
    return keys


# --- the index the engine asks before creating a customer -----------------------------------------------


@dataclass
class CustomerIndex:
    """Existing customers by their exact keys and their blocks; ``add`` as customers are created."""

    rules: MatchRules = DEFAULT_RULES
    profiles: list[Profile] = field(default_factory=list)
    exact: dict[str, dict[str, list[int]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    blocks: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, profile: Profile) -> None:
        """Index one existing customer."""
        n = len(self.profiles)
        self.profiles.append(profile)
        for rule in self.rules.exact:
            value = profile.value(rule.key)
            if value:
                self.exact[rule.key][value].append(n)
        if self.rules.fuzzy:
            for key in block_keys(profile):
                self.blocks[key].append(n)

    def add_all(self, profiles: Iterable[Profile]) -> CustomerIndex:
        """Index many customers; returns the index."""
        for p in profiles:
            self.add(p)
        return self


def find_match(candidate: Profile, index: CustomerIndex) -> Match | None:
    """The existing customer ``candidate`` is, by the first rule that decides, or ``None`` to create a new one.

    Exact rules are tried in plan order; the fuzzy rule then compares the candidate with the
    existing customers sharing one of its blocks, and returns the best at or above the threshold.
    """
    for rule in index.rules.exact:
        value = candidate.value(rule.key)
        hits = index.exact.get(rule.key, {}).get(value) if value else None
        if hits:
            other = index.profiles[hits[0]]
            return Match(candidate.id, other.id, rule.key, 1.0, (f"same {rule.key}: {value}",))
    fuzzy = index.rules.fuzzy
    if fuzzy is None:
        return None
    members = sorted({n for key in block_keys(candidate) for n in index.blocks.get(key, ())})
    if not members:
        return None
    scores = _score_against(candidate, [index.profiles[n] for n in members], fuzzy)
    best = int(np.argmax(scores))
    if scores[best] < fuzzy.threshold - 1e-6:
        return None
    other = index.profiles[members[best]]
    score, reasons = fuzzy_score(candidate, other, fuzzy.fields)
    return Match(candidate.id, other.id, "fuzzy", score, reasons)


def _score_against(candidate: Profile, others: list[Profile], rule: Rule) -> Any:
    """Mean fuzzy similarity of ``candidate`` with each of ``others`` (one vectorised row per field)."""
    total = np.zeros(len(others), dtype=np.float32)
    count = np.zeros_like(total)
    for name in rule.fields:
        mine = candidate.value(name)
        if not mine:
            continue
        values = [o.value(name) for o in others]
        present = np.array([bool(v) for v in values])
        scores = process.cdist([mine], values, scorer=_SCORERS[name], dtype=np.float32, workers=1)[0]
        total += np.where(present, scores / 100, 0)
        count += present
    return np.where(count > 0, total / np.maximum(count, 1), 0)


async def find_existing(client: Any, data: Mapping[str, Any], rules: MatchRules = DEFAULT_RULES, *,
                        index: CustomerIndex | None = None, entity: str = "customer") -> tuple[Match, Any] | None:
    """The target System's existing customer for canonical ``data``, asked of the System itself.

    For the engine, before it creates a customer: the exact rules that a System can search by
    (e-mail, phone) go through ``client.find``, and every hit is confirmed on the normalised value
    (a System's own search may be looser or stricter); the fuzzy rule needs ``index`` (the target's
    customers, kept by the caller). Returns the Match and the found Record (``None`` for index hits).
    """
    candidate = profile_of(data, rules=rules)
    for rule in rules.exact:
        value = candidate.value(rule.key)
        if not value or rule.key not in ("email", "phone"):
            continue
        raw = str(data.get(rule.key) or value)
        for query in dict.fromkeys((raw, value)):
            try:
                found = await client.find(entity, {rule.key: query})
            except DoohickeyError:
                break  # this System cannot search by this key; the next rule may still decide
            for record in found:
                other = profile_of(record.data, id=record.external_id, rules=rules)
                if other.value(rule.key) == value:
                    return Match(candidate.id, other.id, rule.key, 1.0, (f"same {rule.key}: {value}",)), record
    if index is not None and rules.fuzzy is not None:
        fuzzy_only = CustomerIndex(MatchRules((rules.fuzzy,), rules.region, rules.gmail, rules.plus, rules.max_block),
                                   index.profiles, index.exact, index.blocks)
        match = find_match(candidate, fuzzy_only)
        if match is not None:
            return match, None
    return None


# --- batch dedupe ---------------------------------------------------------------------------------------


def find_duplicates(profiles: Sequence[Profile], rules: MatchRules = DEFAULT_RULES, *,
                    explain: bool = True) -> list[Match]:
    """Suspected duplicates already present in ``profiles``: every pair a rule matches, best first.

    Exact rules pair every two profiles sharing a normalised key; the fuzzy rule scores pairs
    within each block (vectorised), each pair once.
    """
    found: dict[tuple[int, int], Match] = {}
    for rule in rules.exact:
        groups: dict[str, list[int]] = defaultdict(list)
        for n, p in enumerate(profiles):
            value = p.value(rule.key)
            if value:
                groups[value].append(n)
        for value, members in groups.items():
            reason = f"same {rule.key}: {value}"
            pairs: Iterable[tuple[int, int]] = _pairs(members)
            if len(members) > rules.max_block:
                # A value shared by hundreds (a placeholder e-mail, a shop's own phone) would make n^2 pairs:
                # each is linked to the first holder instead, and the reason says how common the value is.
                reason += f" (shared by {len(members)} customers)"
                pairs = ((members[0], m) for m in members[1:])
            for i, j in pairs:
                if (i, j) not in found:
                    found[(i, j)] = Match(profiles[i].id, profiles[j].id, rule.key, 1.0, (reason,))
    if rules.fuzzy is not None:
        for (i, j), score in _fuzzy_pairs(profiles, rules.fuzzy, rules.max_block):
            if (i, j) in found:
                continue
            reasons = fuzzy_score(profiles[i], profiles[j], rules.fuzzy.fields)[1] if explain else ()
            found[(i, j)] = Match(profiles[i].id, profiles[j].id, "fuzzy", score, reasons)
    return sorted(found.values(), key=lambda m: (-m.score, m.left, m.right))


def _pairs(members: Sequence[int]) -> Iterator[tuple[int, int]]:
    for a in range(len(members)):
        for b in range(a + 1, len(members)):
            i, j = members[a], members[b]
            yield (i, j) if i < j else (j, i)


def _fuzzy_pairs(profiles: Sequence[Profile], rule: Rule, max_block: int) -> Iterator[tuple[tuple[int, int], float]]:
    blocks: dict[str, list[int]] = defaultdict(list)
    for n, p in enumerate(profiles):
        for key in block_keys(p):
            blocks[key].append(n)
    done: set[tuple[int, int]] = set()
    for members in blocks.values():
        if len(members) < 2:
            continue
        for chunk in _windows(members, max_block):
            yield from _score_block(profiles, chunk, rule, done)


def _windows(members: list[int], size: int) -> Iterator[list[int]]:
    """A block too big to compare all-against-all is cut into overlapping windows (sorted neighbourhood)."""
    if len(members) <= size:
        yield members
        return
    step = size // 2
    for start in range(0, len(members) - step, step):
        yield members[start:start + size]


def _score_block(profiles: Sequence[Profile], members: list[int], rule: Rule,
                 done: set[tuple[int, int]]) -> Iterator[tuple[tuple[int, int], float]]:
    total = np.zeros((len(members), len(members)), dtype=np.float32)
    count = np.zeros_like(total)
    for name in rule.fields:
        values = [profiles[n].value(name) for n in members]
        present = np.array([bool(v) for v in values])
        if not present.any():
            continue
        scores = process.cdist(values, values, scorer=_SCORERS[name], dtype=np.float32, workers=1)
        mask = np.outer(present, present)
        total += np.where(mask, scores / 100, 0)
        count += mask
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), 0)
    rows, cols = np.nonzero(np.triu(mean >= rule.threshold - 1e-6, k=1))
    for a, b in zip(rows.tolist(), cols.tolist(), strict=True):
        i, j = members[a], members[b]
        pair = (i, j) if i < j else (j, i)
        if pair not in done:
            done.add(pair)
            yield pair, float(mean[a, b])
