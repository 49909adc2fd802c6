"""The evidence for one source field matching one target field, as numbers with reasons.

:class:`SchemaView` precomputes what each field looks like (name tokens, its parent
context, description vector, type family, enum values, sample shapes); :func:`features`
compares one source field with one target field and returns every signal in 0..1 plus
the sentences a person reads to judge the suggestion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from doohickey.mapping.suggest.lexicon import CONTAINER_WORDS, WEAK_WORDS
from doohickey.mapping.suggest.schema import Field, Schema
from doohickey.mapping.suggest.text import (
    canonical,
    cosine,
    description_words,
    idf_table,
    raw_words,
    soft_dice,
    tfidf_vector,
    tokens,
)
from doohickey.mapping.values import value_score

# Type families and how well a value of one family fits a field of another.
_FAMILY = {
    "string": "text", "text": "text", "str": "text", "char": "text", "varchar": "text",
    "integer": "int", "int": "int", "long": "int", "int32": "int", "int64": "int",
    "number": "num", "float": "num", "double": "num", "decimal": "num", "numeric": "num", "money": "num",
    "boolean": "bool", "bool": "bool",
    "datetime": "time", "date": "time", "date-time": "time", "timestamp": "time", "time": "time",
    "enum": "enum", "selection": "enum",
    "array": "list", "object": "object",
}
_COMPAT = {
    frozenset({"int", "num"}): 0.85, frozenset({"text", "num"}): 0.65, frozenset({"text", "int"}): 0.5,
    frozenset({"text", "enum"}): 0.75, frozenset({"text", "time"}): 0.6, frozenset({"bool", "enum"}): 0.5,
    frozenset({"int", "enum"}): 0.4, frozenset({"text", "bool"}): 0.2, frozenset({"int", "bool"}): 0.15,
    frozenset({"num", "bool"}): 0.1, frozenset({"time", "int"}): 0.2, frozenset({"time", "num"}): 0.1,
    frozenset({"time", "enum"}): 0.1, frozenset({"time", "bool"}): 0.05, frozenset({"num", "enum"}): 0.2,
}


def type_family(kind: str) -> str:
    """The family of a declared type (text, int, num, bool, time, enum, list, object)."""
    return _FAMILY.get(kind.lower(), "text")


def type_fit(a: str, b: str) -> float:
    """How well values of type family ``a`` fit a field of family ``b`` (1 = same family)."""
    return 1.0 if a == b else _COMPAT.get(frozenset({a, b}), 0.3)


_DISPLAY_NAMES = {("name",), ("title",), ("label",), ("display name",)}


def _segment_tokens(segment: str) -> tuple[str, ...]:
    return tokens(segment.removesuffix("[]"))


_ADDRESS_WORDS = {"city", "postal code", "street", "address 2", "country", "country code"}


def _disambiguate(leaf: tuple[str, ...], family: str, siblings: set[str]) -> tuple[str, ...]:
    """Read "state" as a region beside city and postal code, and as a status elsewhere."""
    if "state" not in leaf:
        return leaf
    in_address = family != "enum" and len(_ADDRESS_WORDS & siblings) >= 2
    return tuple(("subdivision" if in_address else "status") if w == "state" else w for w in leaf)


def _context_tokens(segment: str) -> tuple[str, ...]:
    """Tokens of a parent segment without "line"/"item" filler when something more telling is there."""
    words = _segment_tokens(segment)
    kept = tuple(w for w in words if w not in CONTAINER_WORDS)
    return kept or words


def _shape(value: str) -> str:
    """The shape of a sample value: digits become 9, letters a/A, so ``K1A 0B1`` -> ``A9A 9A9``."""
    out = re.sub(r"[A-Z]", "A", value.strip())
    out = re.sub(r"[a-z]", "a", out)
    out = re.sub(r"\d", "9", out)
    return re.sub(r"(.)\1+", r"\1\1", out)[:24]


@dataclass
class FieldView:
    """Everything the comparison needs about one field, computed once."""

    field: Field
    leaf: tuple[str, ...]
    qualified: tuple[str, ...]  # last parent segment + leaf, phrase-folded; () at the top level
    parent: str
    grandparent: str
    family: str
    depth: int
    description: dict[str, float]
    document: dict[str, float]  # name words and description words together
    enum: frozenset[str]
    values: tuple[str, ...]  # the raw enum values, or true/false for a boolean, for status semantics
    shapes: frozenset[str]
    samples: frozenset[str]  # sample values, trimmed and lower-cased
    is_reference: bool
    kind: str  # "code", "name" or "" when the field's words do not say
    is_id: bool  # an identifier (own id, foreign key, relation), not a value


@dataclass
class SchemaView:
    """A schema with every field's view, the parent paths and their children."""

    schema: Schema
    fields: list[FieldView] = field(default_factory=list)
    children: dict[str, list[FieldView]] = field(default_factory=dict)


_ID_WORDS = {"id", "uuid", "guid", "key", "identifier"}
_CODED = {"country", "country code", "subdivision", "subdivision code", "currency", "language", "locale", "unit"}
_CODE_WORDS = {"code", "iso", "iso2", "alpha2", "abbreviation", "country code", "subdivision code", "symbol"}
_CODE_TEXT = re.compile(r"(?i)\b(iso[ -]?\d*|two-letter|2-letter|three-letter|3-letter|alpha-?[23]|abbreviation|"
                        r"code)\b")
_NAME_TEXT = re.compile(r"(?i)\b(name|title|label)\b")


def value_kind(f: Field, words: tuple[str, ...]) -> str:
    """For countries, states, currencies and units: whether the field holds a code or a display name."""
    if not _CODED & {canonical(w) for w in words} and not _CODED & set(words):
        return ""
    if any(w in _CODE_WORDS or canonical(w) in _CODE_WORDS for w in words):
        return "code"
    if any(w in {"name", "title", "label"} for w in words):
        return "name"
    code, name = bool(_CODE_TEXT.search(f.description)), bool(_NAME_TEXT.search(f.description))
    if code and not name:
        return "code"
    if name and not code:
        return "name"
    return ""


def _contrast_kinds(view: SchemaView) -> None:
    """A bare ``country`` beside a ``country_iso2`` holds the name: the sibling already holds the code."""
    for kids in view.children.values():
        coded = [k for k in kids if k.kind == "code"]
        for k in kids:
            if k.kind or not (_CODED & {canonical(w) for w in k.leaf}):
                continue
            concepts = {canonical(w) for w in k.leaf}
            for c in coded:
                cc = {canonical(w) for w in c.leaf} | {canonical(w).removesuffix(" code") for w in c.leaf}
                if concepts & cc:
                    k.kind = "name"
                    break


def _norm_enum(value: str) -> str:
    return " ".join(tokens(value)) or value.lower()


@dataclass
class _Facts:
    """What one schema says about its own structure: relations, sibling counts and sibling words."""

    parents: set[str]
    paths: set[str]
    siblings: dict[str, int]
    sibling_words: dict[str, set[str]]
    entity_words: set[str]


def _facts(schema: Schema) -> _Facts:
    siblings: dict[str, int] = {}
    words: dict[str, set[str]] = {}
    for f in schema.fields:
        siblings[f.parent] = siblings.get(f.parent, 0) + 1
        words.setdefault(f.parent, set()).update(canonical(t) for t in _segment_tokens(f.segments[-1]))
    entity = {canonical(w) for w in tokens(schema.entity)} | set(raw_words(schema.entity))
    return _Facts({f.parent for f in schema.fields}, {f.path for f in schema.fields}, siblings, words, entity)


def _without_entity(leaf: tuple[str, ...], entity: set[str]) -> tuple[str, ...]:
    """Drop the entity's own name from a field name when more is left: order_source in an order is a source."""
    kept = tuple(w for w in leaf if w not in entity and canonical(w) not in entity)
    if kept and len(kept) < len(leaf) and any(w not in WEAK_WORDS for w in kept):
        return kept
    return leaf


def _qualified(f: Field, leaf: tuple[str, ...], family: str, is_ref: bool, facts: _Facts) -> tuple[str, ...]:
    """The field named together with its parent object: ``product.code`` -> "product code" (a SKU)."""
    segs = f.segments
    if len(segs) < 2 or segs[-2].endswith("[]"):
        return ()  # rows of a list do not read as one name with their child (shipping_lines[].id)
    qualified = (*_context_tokens(segs[-2]), *leaf)
    joined = tokens(" ".join(qualified))  # phrases across the two segments: product code, currency code
    if len(joined) < len(qualified):
        qualified = joined
    if leaf in _DISPLAY_NAMES and (f.parent in facts.paths or facts.siblings.get(f.parent, 0) <= 4):
        qualified = _segment_tokens(segs[-2])  # ``country.name`` on a relation is the country itself
    if is_ref and "id" not in qualified:
        qualified = (*qualified, "id")
    return _disambiguate(qualified, family, facts.sibling_words.get(".".join(segs[:-2]), set()))


def _view(f: Field, facts: _Facts, description: dict[str, float], document: dict[str, float]) -> FieldView:
    segs = f.segments
    fam = type_family(f.type)
    if f.enum and fam == "text":
        fam = "enum"
    # A scalar that also has sub-fields is a relation (ERP Many2One): it holds the record id.
    is_ref = f.path in facts.parents and fam in {"int", "num"}
    leaf = _disambiguate(_segment_tokens(segs[-1]), fam, facts.sibling_words.get(f.parent, set()))
    leaf = _without_entity(leaf, facts.entity_words)
    if is_ref and "id" not in leaf:
        leaf = (*leaf, "id")
    return FieldView(
        field=f, leaf=leaf, qualified=_qualified(f, leaf, fam, is_ref, facts),
        parent=f.parent, grandparent=".".join(segs[:-2]), family=fam, depth=f.path.count("[]"),
        description=description, document=document,
        enum=frozenset(_norm_enum(v) for v in f.enum),
        values=tuple(f.enum) or (("true", "false") if fam == "bool" else ()),
        shapes=frozenset(_shape(v) for v in f.samples),
        samples=frozenset(v.strip().lower() for v in f.samples if v.strip()),
        is_reference=is_ref, is_id=bool(leaf) and leaf[-1] in _ID_WORDS,
        kind=value_kind(f, tuple(t for seg in segs[-2:] for t in _segment_tokens(seg))),
    )


def build_views(source: Schema, target: Schema) -> tuple[SchemaView, SchemaView]:
    """Precompute field views of both schemas with one shared description vocabulary."""
    docs = {f.path: description_words(f.description) for s in (source, target) for f in s.fields}
    idf = idf_table(docs.values())
    names = {f.path: [canonical(t) for seg in f.segments[-2:] for t in _segment_tokens(seg)]
             for s in (source, target) for f in s.fields}
    doc_idf = idf_table([*docs.values(), *names.values()])
    views = []
    for schema in (source, target):
        facts = _facts(schema)
        view = SchemaView(schema)
        for f in schema.fields:
            fv = _view(f, facts, tfidf_vector(docs[f.path], idf),
                       tfidf_vector(docs[f.path] + names[f.path] + names[f.path][-1:], doc_idf))
            view.fields.append(fv)
            view.children.setdefault(f.parent, []).append(fv)
        _contrast_kinds(view)
        for p in list(view.children):
            # Grandparents count as parents too (qualified names are compared against them).
            segs = p.split(".") if p else []
            for k in range(len(segs)):
                view.children.setdefault(".".join(segs[:k]), [])
        views.append(view)
    return views[0], views[1]


@lru_cache(maxsize=20000)
def value_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Share of the smaller value list that has a same-meaning value on the other side (status semantics)."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    hits = sum(1 for v in small if max(value_score(v, w)[0] for w in large) >= 0.5)
    return hits / len(small)


@lru_cache(maxsize=100000)
def name_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[float, tuple[str, ...]]:
    """Soft token overlap of two names, with the synonym pairs that made it."""
    score, why = soft_dice(a, b)
    return score, tuple(why)


@lru_cache(maxsize=20000)
def path_similarity(a: str, b: str) -> float:
    """How alike two parent paths read (root matches root)."""
    if a == b == "":
        return 1.0
    if not a or not b:
        return 0.3
    sa, sb = a.split("."), b.split(".")
    ta = tuple(t for seg in sa for t in _context_tokens(seg))
    tb = tuple(t for seg in sb for t in _context_tokens(seg))
    # The nearest enclosing object says most (billing_address.city vs invoice_address.country.name).
    score = 0.4 * soft_dice(ta, tb)[0] + 0.6 * soft_dice(_context_tokens(sa[-1]), _context_tokens(sb[-1]))[0]
    if (a.endswith("[]")) != (b.endswith("[]")):
        score *= 0.85
    return score


def parent_affinity(src: SchemaView, dst: SchemaView) -> dict[tuple[str, str], float]:
    """For each pair of parent paths, how much their children look alike (share of children with a twin)."""
    out: dict[tuple[str, str], float] = {}
    for p, kids_p in src.children.items():
        for q, kids_q in dst.children.items():
            if not kids_p or not kids_q:
                out[(p, q)] = 0.0
                continue
            hits_p = sum(1 for a in kids_p if max(name_similarity(a.leaf, b.leaf)[0] for b in kids_q) >= 0.85)
            hits_q = sum(1 for b in kids_q if max(name_similarity(a.leaf, b.leaf)[0] for a in kids_p) >= 0.85)
            out[(p, q)] = (hits_p + hits_q) / (len(kids_p) + len(kids_q))
    return out


@dataclass
class Evidence:
    """The signals for one (source, target) pair; the sentences explaining them are written on demand."""

    values: dict[str, float]
    detail: tuple = ()  # what _reasons() needs; kept so that only shown candidates pay for sentences

    @property
    def reasons(self) -> list[str]:
        """The reasons a person reads, strongest evidence first."""
        return _reasons(*self.detail) if self.detail else []


def _context(p: str, q: str, affinity: dict[tuple[str, str], float]) -> float:
    by_name = path_similarity(p, q)
    by_children = affinity.get((p, q), 0.0)
    return max(by_name, 0.5 * by_name + 0.5 * min(1.0, by_children * 1.6))


def _pretty(path: str) -> str:
    return path or "(top level)"


def _best_view(s: FieldView, t: FieldView, affinity: dict[tuple[str, str], float]) -> tuple:
    """Names compared leaf to leaf, or with a parent folded in (product.code), whichever reads best."""
    views = (
        (s.leaf, t.leaf, s.parent, t.parent, 1.0),
        (s.qualified, t.leaf, s.grandparent, t.parent, 0.9),
        (s.leaf, t.qualified, s.parent, t.grandparent, 0.9),
    )
    best: tuple = (-1.0, 0.0, 0.0, (), (), (), "", "")
    for a, b, p, q, discount in views:
        if not a or not b:
            continue
        nm, why = name_similarity(a, b)
        ctx = _context(p, q, affinity)
        combined = discount * (0.7 * nm + 0.3 * ctx)
        if combined > best[0]:
            best = (combined, nm * discount, ctx, why, a, b, p, q)
    return best[1:]


def features(s: FieldView, t: FieldView, affinity: dict[tuple[str, str], float]) -> Evidence:
    """Compare one source field with one target field."""
    name, ctx, why, a, b, p, q = _best_view(s, t, affinity)
    exact = 1.0 if s.field.leaf.lower() == t.field.leaf.lower() else 0.0
    desc, shared = cosine(s.description, t.description) if s.description and t.description else (0.0, [])
    doc = cosine(s.document, t.document)[0]
    tfit = type_fit(s.family, t.family)
    enum = 0.0
    if s.values and t.values:
        enum = value_overlap(s.values, t.values)
    samples = 0.0
    if s.shapes and t.shapes:
        # Shared values say more than shared shapes ("US-CA" vs "CA" share neither; "10115" vs "94107" share shape).
        shape = len(s.shapes & t.shapes) / min(len(s.shapes), len(t.shapes))
        same = len(s.samples & t.samples) / min(len(s.samples), len(t.samples)) if s.samples and t.samples else 0.0
        samples = max(0.6 * shape, same)
    depth = 1.0 if s.depth == t.depth else 0.0
    # +1 when both hold codes or both names, -1 for a code against a name (country vs country_code).
    kind = 0.0 if not s.kind or not t.kind else (1.0 if s.kind == t.kind else -1.0)
    # An identifier against a value (rate_id vs rate, cart_id vs cart_tax) is rarely the same field.
    ident = (1.0 if s.is_id == t.is_id else -1.0) if s.is_id or t.is_id else 0.0
    values = {"name": name, "exact": exact, "context": ctx, "description": desc, "document": doc, "type": tfit,
              "enum": enum, "samples": samples, "depth": depth,
              "kind": kind, "ident": ident}
    return Evidence(values, (s, t, values, why, a, b, p, q, shared))


def _reasons(s: FieldView, t: FieldView, v: dict[str, float], why: tuple[str, ...], a: tuple[str, ...],
             b: tuple[str, ...], p: str, q: str, shared: list[str]) -> list[str]:
    out: list[str] = []
    if v["exact"]:
        out.append(f"same name '{s.field.leaf}'")
    elif v["name"] >= 0.3:
        detail = f" ({why[0]})" if why else ""
        out.append(f"names {' '.join(a)!r} ~ {' '.join(b)!r} {v['name']:.2f}{detail}")
    if p == q == "":
        out.append("both at the top level")
    elif v["context"] >= 0.5:
        out.append(f"same context {_pretty(p)} ~ {_pretty(q)} {v['context']:.2f}")
    elif v["context"] < 0.35:
        out.append(f"different context {_pretty(p)} vs {_pretty(q)}")
    if v["description"] >= 0.15:
        out.append(f"descriptions share {', '.join(shared[:3])} {v['description']:.2f}")
    if v["type"] < 0.5:
        out.append(f"types differ: {s.field.type} vs {t.field.type}")
    elif v["type"] == 1.0 and s.family != "text":
        out.append(f"both {s.family}")
    if v["enum"] > 0:
        out.append(f"values mean the same things ({v['enum']:.0%} of them)")
    if v["kind"] > 0:
        out.append(f"both hold a {s.kind}")
    elif v["kind"] < 0:
        out.append(f"a {s.kind} against a {t.kind}")
    if v["ident"] < 0:
        out.append("an identifier against a value")
    if s.samples & t.samples:
        out.append(f"sample values in common: {', '.join(sorted(s.samples & t.samples)[:3])}")
    elif v["samples"] > 0:
        out.append("sample values have the same shape")
    if s.depth != t.depth:
        out.append(f"array nesting differs ({s.depth} vs {t.depth})")
    return out
