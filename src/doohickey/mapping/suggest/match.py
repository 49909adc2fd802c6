"""Scoring, ranking and the 1:1 assignment of source fields to target fields.

:func:`suggest` compares every source field with every target field (:mod:`.signals`),
turns the signals into one score in 0..1 with a fixed logistic model (weights below,
fitted on development pairs with pairs held out, see ``bench/mapping.py``), keeps the
best few candidates per source field, and picks a 1:1 assignment greedily by
descending score above the threshold, the way a reviewer would read the list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from doohickey.mapping.suggest.schema import Schema
from doohickey.mapping.suggest.signals import Evidence, build_views, features, parent_affinity

DEFAULT_THRESHOLD = 0.5
TOP_K = 3

# Logistic weights over the signals of signals.features(); "name*context" is the product of both.
# Fitted with `python bench/mapping.py --fit` (bias shifted so that 0.5 is the tuned threshold).
# A second stage adds how far a pair is behind the best candidate of its source and of its target.
WEIGHTS: dict[str, float] = {
    "bias": -8.625,
    "name": 1.654,
    "exact": 0.111,
    "context": 1.836,
    "name*context": 3.495,
    "description": 0.193,
    "document": 1.299,
    "type": 1.555,
    "enum": 1.118,
    "samples": 1.5,  # a prior, not fitted: the development pairs carry no sample values
    "depth": 0.31,
    "kind": 1.266,
    "ident": 0.275,
}
STAGE2: dict[str, float] = {"gap_source": -1.966, "gap_target": -1.386, "mutual": 1.496}


@dataclass
class Candidate:
    """One proposed target for a source field, with its score and the reasons."""

    source: str
    target: str
    score: float
    reasons: list[str]
    signals: dict[str, float] = field(default_factory=dict, repr=False)


@dataclass
class Suggestions:
    """Ranked candidates for every source field and the accepted 1:1 assignment."""

    source: Schema
    target: Schema
    threshold: float
    candidates: dict[str, list[Candidate]]
    accepted: list[Candidate]

    def to_json(self, top: int = TOP_K) -> dict[str, object]:
        """The benchmark / ``--json`` format: threshold and up to ``top`` candidates per source field."""
        matches = [
            {"source": c.source, "target": c.target, "score": round(c.score, 4), "reasons": c.reasons}
            for cands in self.candidates.values() for c in cands[:top]
        ]
        return {"threshold": self.threshold, "matches": matches}

    def accepted_for(self, source: str) -> Candidate | None:
        """The accepted candidate of one source field, if any."""
        return next((c for c in self.accepted if c.source == source), None)


def features_vector(signals: dict[str, float]) -> dict[str, float]:
    """The model inputs derived from the raw signals (adds the name*context interaction)."""
    out = dict(signals)
    out["name*context"] = signals["name"] * signals["context"]
    return out


def logit(signals: dict[str, float], weights: dict[str, float] | None = None) -> float:
    """The first-stage linear score of one pair."""
    w = weights or WEIGHTS
    x = features_vector(signals)
    return w.get("bias", 0.0) + sum(w.get(k, 0.0) * v for k, v in x.items())


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def score_matrix(source: Schema, target: Schema) -> dict[tuple[str, str], Evidence]:
    """The evidence for every (source path, target path) pair."""
    src, dst = build_views(source, target)
    affinity = parent_affinity(src, dst)
    return {(s.field.path, t.field.path): features(s, t, affinity) for s in src.fields for t in dst.fields}


def rank(evidence: dict[tuple[str, str], Evidence], weights: dict[str, float] | None = None,
         stage2: dict[str, float] | None = None) -> dict[tuple[str, str], float]:
    """Scores in 0..1 for every pair: the linear score, then how far behind the best of its row and column."""
    s2 = STAGE2 if stage2 is None else stage2
    z = {k: logit(e.values, weights) for k, e in evidence.items()}
    best_s: dict[str, float] = {}
    best_t: dict[str, float] = {}
    for (s, t), v in z.items():
        best_s[s] = max(best_s.get(s, -1e9), v)
        best_t[t] = max(best_t.get(t, -1e9), v)
    out = {}
    for (s, t), v in z.items():
        gap_s = min(best_s[s] - v, 5.0) / 5.0
        gap_t = min(best_t[t] - v, 5.0) / 5.0
        mutual = 1.0 if gap_s == 0.0 and gap_t == 0.0 else 0.0  # each is the other's best candidate
        out[(s, t)] = _sigmoid(v + s2.get("gap_source", 0.0) * gap_s + s2.get("gap_target", 0.0) * gap_t
                               + s2.get("mutual", 0.0) * mutual)
    return out


def assign(candidates: dict[str, list[Candidate]], threshold: float) -> list[Candidate]:
    """Greedy 1:1 assignment by descending score: each source and target used at most once."""
    pool = sorted((c for cands in candidates.values() for c in cands), key=lambda c: -c.score)
    used_s: set[str] = set()
    used_t: set[str] = set()
    chosen: list[Candidate] = []
    for c in pool:
        if c.score < threshold or c.source in used_s or c.target in used_t:
            continue
        used_s.add(c.source)
        used_t.add(c.target)
        chosen.append(c)
    return chosen


def suggest(source: Schema, target: Schema, threshold: float = DEFAULT_THRESHOLD, top: int = TOP_K,
            weights: dict[str, float] | None = None, stage2: dict[str, float] | None = None) -> Suggestions:
    """Propose ranked target candidates for every source field and a 1:1 assignment above ``threshold``."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    evidence = score_matrix(source, target)
    scores = rank(evidence, weights, stage2)
    by_source: dict[str, list[tuple[float, str]]] = {f.path: [] for f in source.fields}
    for (s, t), sc in scores.items():
        by_source[s].append((sc, t))
    candidates = {}
    for s, scored in by_source.items():
        best = sorted(scored, key=lambda c: -c[0])[: max(top, 1)]
        candidates[s] = [Candidate(s, t, sc, evidence[(s, t)].reasons, evidence[(s, t)].values) for sc, t in best]
    accepted = assign(candidates, threshold)
    return Suggestions(source, target, threshold, candidates, accepted)
