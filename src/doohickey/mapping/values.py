"""Status value matching: which value of one system's status enumeration means which of another's.

``match_values(["pending", "paid", "refunded"], ["draft", "confirmed", "done", "cancelled"])``
scores every (source value, target value) pair by what the values *mean* in commerce
(a lexicon of status semantics: paid / posted / captured, refunded / credited, cancelled /
voided, pending / awaiting payment, partially_* ...), and by their words when the lexicon is
silent. Several source values may share one target (``pending`` and ``authorized`` both
await payment); a source value with no target above the threshold stays unmapped, which is
what a reviewer needs to see. The result writes as a status table (``{source: target}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from rapidfuzz.fuzz import token_set_ratio

from doohickey.errors import MappingError

if TYPE_CHECKING:
    from doohickey.mapping.suggest.schema import Field

DEFAULT_THRESHOLD = 0.5

# Meaning -> phrases that carry it and how surely (1.0 = that is what the word means).
STATUS_MEANINGS: dict[str, dict[str, float]] = {
    "awaiting payment": {"awaiting payment": 1.0, "pending payment": 1.0, "payment pending": 1.0, "unpaid": 1.0,
                         "pending": 0.9, "not paid": 1.0, "due": 0.7, "open": 0.5, "authorized": 0.6,
                         "authorised": 0.6, "capture pending": 0.8, "waiting payment": 1.0},
    "authorized": {"authorized": 1.0, "authorised": 1.0, "capture pending": 0.7, "held for review": 0.4},
    "paid": {"paid": 1.0, "captured": 0.95, "posted": 0.8, "settled": 0.9, "payment received": 1.0,
             "processing": 0.6, "awaiting fulfillment": 0.5, "awaiting shipment": 0.4, "completed": 0.4,
             "done": 0.4},
    "partially paid": {"partially paid": 1.0, "partial payment": 1.0, "partly paid": 1.0},
    "refunded": {"refunded": 1.0, "credited": 0.9, "credit note": 0.8, "returned": 0.6, "reimbursed": 0.9},
    "partially refunded": {"partially refunded": 1.0, "partial refund": 1.0, "partly refunded": 1.0},
    "cancelled": {"cancelled": 1.0, "canceled": 1.0, "voided": 0.95, "void": 0.95, "annulled": 0.9,
                  "aborted": 0.7, "trash": 0.3, "deleted": 0.4},
    "failed": {"failed": 1.0, "declined": 1.0, "rejected": 0.9, "error": 0.8, "exception": 0.7,
               "payment failed": 1.0, "denied": 0.9},
    "draft": {"draft": 1.0, "quotation": 0.9, "quote": 0.9, "new": 0.6, "incomplete": 0.8, "open": 0.4,
              "cart": 0.6, "checkout": 0.6},
    "on hold": {"on hold": 1.0, "held": 0.9, "hold": 0.9, "manual verification required": 0.9,
                "held for review": 0.9, "review": 0.8, "disputed": 0.5, "suspended": 0.7, "authorized": 0.7,
                "authorised": 0.7},
    "processing": {"processing": 1.0, "confirmed": 0.8, "in progress": 0.9, "awaiting fulfillment": 0.9,
                   "awaiting shipment": 0.7, "accepted": 0.7, "approved": 0.7, "paid": 0.6},
    "not shipped": {"unfulfilled": 1.0, "unshipped": 1.0, "not shipped": 1.0, "null": 0.8, "waiting": 0.8,
                    "awaiting shipment": 0.9, "awaiting fulfillment": 0.7, "awaiting pickup": 0.6,
                    "pending": 0.4, "ready": 0.5},
    "partially shipped": {"partially shipped": 1.0, "partial": 0.9, "partially fulfilled": 1.0,
                          "partially delivered": 0.9, "partly shipped": 1.0},
    "shipped": {"shipped": 1.0, "sent": 1.0, "fulfilled": 1.0, "dispatched": 1.0, "delivered": 0.8,
                "done": 0.6, "completed": 0.6, "in transit": 0.8},
    "completed": {"completed": 1.0, "complete": 1.0, "done": 1.0, "closed": 0.9, "finished": 1.0,
                  "fulfilled": 0.6},
    "restocked": {"restocked": 1.0, "returned": 0.8, "returned to stock": 1.0},
    "active": {"active": 1.0, "enabled": 1.0, "published": 1.0, "visible": 1.0, "true": 0.8, "yes": 0.8,
               "live": 0.9, "on": 0.6},
    "inactive": {"inactive": 1.0, "disabled": 1.0, "archived": 0.9, "hidden": 1.0, "draft": 0.65,
                 "unpublished": 1.0, "false": 0.8, "no": 0.8, "off": 0.6},
    "empty": {"none": 1.0, "null": 0.5, "": 1.0, "n a": 1.0, "not applicable": 1.0},
}


def normalise(value: str) -> str:
    """Lower-case words of a status value: ``Partially_Paid`` and ``partially-paid`` -> ``partially paid``."""
    words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", str(value)).lower())
    return " ".join(words)


def meanings(value: str) -> dict[str, float]:
    """The status meanings a value carries, each with how surely."""
    norm = normalise(value)
    out: dict[str, float] = {}
    for meaning, phrases in STATUS_MEANINGS.items():
        if norm in phrases:
            out[meaning] = phrases[norm]
    return out


@dataclass
class ValueMatch:
    """One proposed target value for a source value, with its score and reasons."""

    source: str
    target: str
    score: float
    reasons: list[str]


@dataclass
class ValueMatches:
    """Ranked candidates for every source value and the accepted table (n:1 allowed)."""

    threshold: float
    candidates: dict[str, list[ValueMatch]]
    accepted: list[ValueMatch]

    @property
    def unmapped(self) -> list[str]:
        """Source values with no target above the threshold."""
        taken = {m.source for m in self.accepted}
        return [v for v in self.candidates if v not in taken]

    def table(self) -> dict[str, str]:
        """The status table ``{source_value: target_value}`` of the accepted matches."""
        return {m.source: m.target for m in self.accepted}

    def to_json(self, top: int = 3) -> dict[str, object]:
        """Threshold, candidates (up to ``top`` per source value) and unmapped values, for ``--json``."""
        return {"threshold": self.threshold,
                "matches": [{"source": m.source, "target": m.target, "score": round(m.score, 4),
                             "reasons": m.reasons} for ms in self.candidates.values() for m in ms[:top]],
                "unmapped": self.unmapped}


def value_score(source: str, target: str) -> tuple[float, list[str]]:
    """How surely ``source`` means ``target`` (0..1) and why."""
    ms, mt = meanings(source), meanings(target)
    best, why = 0.0, ""
    for meaning in ms.keys() & mt.keys():
        s = ms[meaning] * mt[meaning]
        if s > best:
            best, why = s, meaning
    ns, nt = normalise(source), normalise(target)
    reasons = [f"both mean '{why}'"] if best > 0 else []
    if ns == nt:
        # The same word is strong evidence, but a precise synonym (pending -> awaiting payment) may still win.
        same = 0.88 if ms else 1.0
        if same > best:
            best = same
        reasons.insert(0, "same value")
    elif not ms or not mt:
        fuzzy = token_set_ratio(ns, nt) / 100.0
        if fuzzy >= 0.8 and 0.7 * fuzzy > best:
            best = 0.7 * fuzzy
            reasons.append(f"similar words ({fuzzy:.2f})")
    return best, reasons


def match_values(source: list[str], target: list[str], threshold: float = DEFAULT_THRESHOLD) -> ValueMatches:
    """Match each source status value to the target value that means the same, above ``threshold``."""
    if not source or not target:
        raise MappingError("status value matching needs at least one source value and one target value")
    candidates: dict[str, list[ValueMatch]] = {}
    accepted: list[ValueMatch] = []
    for s in dict.fromkeys(source):
        scored = [ValueMatch(s, t, *value_score(s, t)) for t in dict.fromkeys(target)]
        scored.sort(key=lambda m: -m.score)
        candidates[s] = [m for m in scored if m.score > 0] or scored[:1]
        if scored and scored[0].score >= threshold:
            accepted.append(scored[0])
    return ValueMatches(threshold, candidates, accepted)


def field_values(fld: Field) -> list[str]:
    """The values a field can take: its ``enum``, or true/false for a boolean."""
    if fld.enum:
        return list(fld.enum)
    return ["true", "false"] if fld.type.lower() in {"boolean", "bool"} else []


def parse_values(spec: str) -> tuple[list[str], str]:
    """Values from ``a,b,c`` or from the ``enum`` of ``schema.json#field.path``; also returns a label."""
    from doohickey.mapping.suggest.schema import load_schema

    if "#" in spec:
        ref, _, field_path = spec.rpartition("#")
        if field_path.startswith("/"):
            raise MappingError(f"{spec}: write SCHEMA#field.path (a field of the schema), not a JSON pointer")
        schema = load_schema(ref)
        values = field_values(schema.get(field_path))
        if not values:
            raise MappingError(f"{schema.name} field {field_path!r} has no enum values to match")
        return values, f"{schema.name}.{field_path}"
    if Path(spec).is_file() or spec.endswith((".json", ".yaml", ".yml")):
        raise MappingError(f"{spec}: name the field too, as {spec}#field.path")
    values = [v.strip() for v in spec.split(",") if v.strip()]
    if not values:
        raise MappingError(f"no values in {spec!r}: give a comma list (paid,refunded) or schema.json#field")
    return values, "values"


def write_status_table(path: str | Path, result: ValueMatches, source_label: str = "", target_label: str = "") -> None:
    """Write the accepted matches as a status table YAML ``{source_value: target_value}`` with a review header."""
    lines = ["# DRAFT status table proposed by `doohickey map values`: review every row before use.",
             f"# from {source_label or 'source values'} to {target_label or 'target values'}; "
             f"threshold {result.threshold}"]
    for m in result.accepted:
        lines.append(f"#   {m.source} -> {m.target}: score {m.score:.2f} ({'; '.join(m.reasons)})")
    if result.unmapped:
        lines.append(f"# unmapped (no target above the threshold): {', '.join(result.unmapped)}")
    body = yaml.safe_dump(result.table(), sort_keys=False, allow_unicode=True) if result.accepted else "{}\n"
    Path(path).write_text("\n".join(lines) + "\n" + body, encoding="utf-8")
