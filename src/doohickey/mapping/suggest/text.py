"""Words out of field names and descriptions: splitting, folding, synonyms and TF-IDF.

``tokens("billingAddress.zip_code")`` gives ``["billing", "address", "postal code"]``:
camelCase, snake_case, dots, digits and ``[]`` are split, spellings folded, plurals
stemmed, and lexicon phrases collapsed to the group's first word so that synonyms meet.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from rapidfuzz.fuzz import ratio

from doohickey.mapping.suggest.lexicon import (
    HYPERNYM_SIMILARITY,
    HYPERNYMS,
    NORMALISE,
    STOPWORDS,
    SYNONYM_GROUPS,
    WEAK_WORDS,
)

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_WORD = re.compile(r"[A-Za-z]+|\d+")


def _stem(word: str) -> str:
    if word in NORMALISE:
        return NORMALISE[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def raw_words(text: str) -> list[str]:
    """Split a name into lower-case stemmed words: ``shippingAddress_1`` -> ``shipping address 1``."""
    out: list[str] = []
    for chunk in re.split(r"[^A-Za-z0-9]+", text):
        for part in _CAMEL.findall(chunk):
            out.append(_stem(part.lower()))
    return [w for w in out if w]


def _build_lexicon() -> tuple[dict[str, set[int]], dict[tuple[str, ...], str], list[float], list[str]]:
    word_groups: dict[str, set[int]] = {}
    phrases: dict[tuple[str, ...], str] = {}
    strengths: list[float] = []
    heads: list[str] = []
    for gid, (strength, terms) in enumerate(SYNONYM_GROUPS):
        strengths.append(strength)
        heads.append(terms[0])
        for term in terms:
            words = tuple(raw_words(term))
            if not words:
                continue
            key = " ".join(words)
            if len(words) > 1:
                phrases.setdefault(words, key)
            word_groups.setdefault(key, set()).add(gid)
    return word_groups, phrases, strengths, heads


_GROUPS, _PHRASES, _STRENGTH, _HEADS = _build_lexicon()
_MAX_PHRASE = max((len(p) for p in _PHRASES), default=1)


@lru_cache(maxsize=20000)
def tokens(name: str) -> tuple[str, ...]:
    """Lexicon-aware tokens of a name: known phrases become one token (``postal code``)."""
    words = raw_words(name)
    out: list[str] = []
    i = 0
    while i < len(words):
        for size in range(min(_MAX_PHRASE, len(words) - i), 1, -1):
            key = tuple(words[i:i + size])
            if key in _PHRASES:
                out.append(_PHRASES[key])
                i += size
                break
        else:
            out.append(words[i])
            i += 1
    return tuple(out)


@lru_cache(maxsize=200000)
def word_similarity(a: str, b: str) -> tuple[float, str]:
    """How close two tokens are (0..1) and why: same, synonyms (with the group), or spelling."""
    if a == b:
        return 1.0, "same"
    shared = _GROUPS.get(a, set()) & _GROUPS.get(b, set())
    if shared:
        gid = max(shared, key=lambda g: _STRENGTH[g])
        return _STRENGTH[gid], f"synonyms ({_HEADS[gid]})"
    if HYPERNYMS.get(a) == b or HYPERNYMS.get(b) == a:
        return HYPERNYM_SIMILARITY, f"a kind of {b if HYPERNYMS.get(a) == b else a}"
    ca, cb = canonical(a), canonical(b)
    if (ca, cb) != (a, b):
        # Related through a synonym: "country iso2" is a "country code", which relates to "country".
        via, reason = word_similarity(ca, cb)
        if via > 0 and reason != "similar spelling":
            return 0.95 * via, reason
    if " " in a or " " in b:
        # Unrelated phrases may still share a word (party name / name): count it, with less weight.
        wa, wb = set(a.split()), set(b.split())
        common = len(wa & wb)
        if common:
            return 0.6 * common / max(len(wa), len(wb)), "shared word"
    if len(a) >= 4 and len(b) >= 4 and not a.isdigit() and not b.isdigit():
        r = ratio(a, b) / 100.0
        if r >= 0.85:
            return 0.75 * r, "similar spelling"
    return 0.0, ""


def weight(word: str, idf: dict[str, float] | None = None) -> float:
    """How much a token counts in a name comparison: filler words count little, rare words more."""
    if word in WEAK_WORDS:
        return 0.25
    if idf is None:
        return 1.0
    return idf.get(word, 1.0)


def soft_dice(a: tuple[str, ...], b: tuple[str, ...], idf: dict[str, float] | None = None) -> tuple[float, list[str]]:
    """Weighted soft Dice overlap of two token lists, with the word pairs that matched."""
    if not a or not b:
        return (1.0, []) if not a and not b else (0.0, [])
    total = 0.0
    matched = 0.0
    why: list[str] = []
    for side, other in ((a, b), (b, a)):
        for w in side:
            wt = weight(w, idf)
            best, best_why, best_o = 0.0, "", ""
            for o in other:
                s, reason = word_similarity(w, o)
                if s > best:
                    best, best_why, best_o = s, reason, o
            total += wt
            matched += wt * best
            if side is a and best > 0 and best_why != "same":
                why.append(f"{w} ~ {best_o}: {best_why}")
    return matched / total, why


def canonical(word: str) -> str:
    """The head word of the strongest synonym group holding ``word`` (itself when none)."""
    groups = _GROUPS.get(word)
    if not groups:
        return word
    gid = max(groups, key=lambda g: (_STRENGTH[g], -g))
    return _HEADS[gid] if _STRENGTH[gid] >= 0.85 else word


def description_words(text: str) -> list[str]:
    """Content words of a description, stemmed and lexicon-folded, stopwords removed."""
    if not text:
        return []
    words = [w for w in tokens(" ".join(_WORD.findall(text))) if w not in STOPWORDS and len(w) > 1]
    return [canonical(w) for w in words if not w.isdigit()]


def idf_table(documents: Iterable[Iterable[str]]) -> dict[str, float]:
    """Smoothed inverse document frequency of every word over ``documents`` (sets of words)."""
    docs = [set(d) for d in documents]
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d)
    n = len(docs) or 1
    return {w: math.log((1 + n) / (1 + c)) + 1.0 for w, c in df.items()}


def tfidf_vector(words: list[str], idf: dict[str, float]) -> dict[str, float]:
    """A unit-length TF-IDF vector of ``words``."""
    if not words:
        return {}
    counts = Counter(words)
    vec = {w: (1 + math.log(c)) * idf.get(w, 1.0) for w, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {w: v / norm for w, v in vec.items()}


def cosine(a: dict[str, float], b: dict[str, float]) -> tuple[float, list[str]]:
    """Cosine of two unit vectors and the shared words that carry it, strongest first."""
    if len(a) > len(b):
        a, b = b, a
    parts = [(v * b[w], w) for w, v in a.items() if w in b]
    parts.sort(reverse=True)
    return sum(p for p, _ in parts), [w for _, w in parts[:4]]
