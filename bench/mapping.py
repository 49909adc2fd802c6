"""Benchmark of the mapping suggester on ../shared/benchmarks/mapping-dev.

Runs ``doohickey map suggest`` logic over every gold pair, writes the predictions to a
temporary folder, scores them with the benchmark's own ``evaluate.py``, and prints
precision, recall, F1, top-1 and MRR per pair and overall, the status-value mapping
accuracy, and the time for a 150 x 150 field pair.

``--loo`` also refits the model weights leaving one pair out at a time and scores the
held-out pair with the weights fitted on the others (an honest estimate for systems
the weights never saw). ``--fit`` prints weights fitted on all pairs (how the constants in
``doohickey.mapping.suggest.match`` were produced; needs numpy, which the bench extra brings).

Usage::

    python bench/mapping.py [--loo] [--fit] [--dev-dir PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from doohickey.errors import MappingError
from doohickey.mapping.suggest import match
from doohickey.mapping.suggest.schema import Field, Schema, load_schema
from doohickey.mapping.values import field_values, match_values

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DEV = REPO.parent / "shared" / "benchmarks" / "mapping-dev"
FEATURES = ["name", "exact", "context", "name*context", "description", "document", "type", "enum", "samples",
            "depth", "kind", "ident"]


# --------------------------------------------------------------------------- data


def load_pairs(dev: Path) -> list[tuple[str, dict, Schema, Schema]]:
    """Every gold pair with its parsed source and target schemas."""
    out = []
    for gpath in sorted((dev / "pairs").glob("*.json")):
        gold = json.loads(gpath.read_text())
        src = load_schema(dev / "schemas" / f"{gold['source']}.json")
        dst = load_schema(dev / "schemas" / f"{gold['target']}.json")
        out.append((gpath.name, gold, src, dst))
    return out


def load_evaluator(dev: Path) -> ModuleType:
    """The benchmark's evaluate.py as a module (used for in-process threshold tuning)."""
    spec = importlib.util.spec_from_file_location("mapping_dev_evaluate", dev / "evaluate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gold_targets(gold: dict) -> dict[str, set[str]]:
    """source -> acceptable targets of one gold file."""
    return {m["source"]: {m["target"], *m.get("also_acceptable_targets", [])} for m in gold["matches"]}


# --------------------------------------------------------------------------- fitting


def _design(evidence: dict, gold: dict[str, set[str]]) -> tuple[list[tuple[str, str]], list[list[float]], list[int]]:
    keys, rows, labels = [], [], []
    for (s, t), e in evidence.items():
        x = match.features_vector(e.values)
        keys.append((s, t))
        rows.append([x[f] for f in FEATURES])
        labels.append(1 if t in gold.get(s, ()) else 0)
    return keys, rows, labels


def _logreg(x, y, l2: float = 1.0, iters: int = 400):  # type: ignore[no-untyped-def]
    import numpy as np

    xb = np.hstack([np.ones((x.shape[0], 1)), x])
    w = np.zeros(xb.shape[1])
    for _ in range(iters):  # Newton steps: small feature count, converges in a handful
        p = 1 / (1 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + l2 * np.r_[0, w[1:]]
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + l2 * np.diag(np.r_[0, np.ones(len(w) - 1)])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w


def fit(pairs: list, evidences: dict[str, dict]) -> tuple[dict[str, float], dict[str, float]]:
    """Fit stage-1 weights, then the stage-2 gap weights, on the given pairs (numpy)."""
    import numpy as np

    xs, ys = [], []
    for name, gold, _, _ in pairs:
        _, rows, labels = _design(evidences[name], gold_targets(gold))
        xs += rows
        ys += labels
    w = _logreg(np.array(xs), np.array(ys, dtype=float))
    weights = {"bias": float(w[0]), **{f: float(v) for f, v in zip(FEATURES, w[1:], strict=True)}}
    x2, y2 = [], []
    for name, gold, _, _ in pairs:
        ev = evidences[name]
        g = gold_targets(gold)
        z = {k: match.logit(e.values, weights) for k, e in ev.items()}
        best_s: dict[str, float] = {}
        best_t: dict[str, float] = {}
        for (s, t), v in z.items():
            best_s[s] = max(best_s.get(s, -1e9), v)
            best_t[t] = max(best_t.get(t, -1e9), v)
        for (s, t), v in z.items():
            gs, gt = min(best_s[s] - v, 5.0) / 5.0, min(best_t[t] - v, 5.0) / 5.0
            x2.append([v, gs, gt, 1.0 if gs == 0.0 and gt == 0.0 else 0.0])
            y2.append(1 if t in g.get(s, ()) else 0)
    w2 = _logreg(np.array(x2), np.array(y2, dtype=float))
    scale = float(w2[1])
    weights = {k: v * scale for k, v in weights.items()}
    weights["bias"] += float(w2[0])
    stage2 = {"gap_source": float(w2[2]), "gap_target": float(w2[3]), "mutual": float(w2[4])}
    # The dev set has no sample values, so their weight cannot be fitted: keep the shipped prior.
    weights["samples"] = match.WEIGHTS["samples"]
    return weights, stage2


def predict(pairs: list, evidences: dict[str, dict], weights: dict | None, stage2: dict | None,
            threshold: float, cache: dict | None = None) -> dict[str, dict]:
    """Prediction documents (evaluate.py format) for each pair from precomputed evidence."""
    out = {}
    for name, _, _, _ in pairs:
        ev = evidences[name]
        if cache is not None and name in cache:
            scores = cache[name]
        else:
            scores = match.rank(ev, weights, stage2)
            if cache is not None:
                cache[name] = scores
        by_source: dict[str, list[tuple[float, str]]] = {}
        for (s, t), sc in scores.items():
            by_source.setdefault(s, []).append((sc, t))
        matches = []
        for s, cands in by_source.items():
            for sc, t in sorted(cands, key=lambda c: -c[0])[: match.TOP_K]:
                matches.append({"source": s, "target": t, "score": round(sc, 4)})
        out[name] = {"threshold": threshold, "matches": matches}
    return out


def score_in_process(evaluator: ModuleType, pairs: list, preds: dict[str, dict]) -> dict[str, float]:
    """Micro precision / recall / F1 and top-1 of predictions, using evaluate.py's own functions."""
    tot = {"tp": 0, "fp": 0, "fn": 0, "gold": 0, "top1_hits": 0, "rr_sum": 0.0}
    for name, gold, _, _ in pairs:
        g = {m["source"]: {m["target"], *m.get("also_acceptable_targets", [])} for m in gold["matches"]}
        doc = preds[name]
        plist = [(float(m["score"]), i, m["source"], m["target"]) for i, m in enumerate(doc["matches"])]
        r = evaluator.score_pair(g, {}, plist, doc["threshold"])
        for k in tot:
            tot[k] += r[k]
    p, r, f = evaluator.prf(tot["tp"], tot["fp"], tot["fn"])
    return {"precision": p, "recall": r, "f1": f, "top1": tot["top1_hits"] / tot["gold"],
            "mrr": tot["rr_sum"] / tot["gold"]}


def best_threshold(evaluator: ModuleType, pairs: list, evidences: dict, weights: dict | None,
                   stage2: dict | None) -> float:
    """The threshold with the best micro F1 on ``pairs``."""
    best = (-1.0, 0.5)
    cache: dict = {}
    for thr in [i / 100 for i in range(5, 96, 1)]:
        f = score_in_process(evaluator, pairs, predict(pairs, evidences, weights, stage2, thr, cache))["f1"]
        if f > best[0] + 1e-9:
            best = (f, thr)
    return best[1]


# --------------------------------------------------------------------------- reports


def run_evaluate(dev: Path, preds: dict[str, dict], extra: tuple[str, ...] = ()) -> str:
    """Write predictions to a temp folder and return what evaluate.py prints for them."""
    with tempfile.TemporaryDirectory(prefix="mapping-pred-") as folder:
        for name, doc in preds.items():
            Path(folder, name).write_text(json.dumps(doc))
        result = subprocess.run([sys.executable, str(dev / "evaluate.py"), folder, *extra],
                                capture_output=True, text=True, check=True)
    return result.stdout


def value_accuracy(pairs: list) -> tuple[int, int, list[str]]:
    """Share of gold status-value pairs the value matcher gets right (unmapped values must stay unmapped)."""
    hits = total = 0
    misses: list[str] = []
    for _, gold, src, dst in pairs:
        for vm in gold.get("value_matches", []):
            try:
                s_enum = field_values(src.get(vm["source_field"]))
                t_enum = field_values(dst.get(vm["target_field"]))
            except MappingError:
                continue
            result = match_values(s_enum, t_enum)
            got = {m.source: m.target for m in result.accepted}
            expected = {m["source"]: m["target"] for m in vm["map"]}
            for v in vm.get("unmapped_source_values", []):
                expected.setdefault(v, None)
            for v, want in expected.items():
                total += 1
                if got.get(v) == want:
                    hits += 1
                else:
                    misses.append(f"{gold['source']}.{vm['source_field']}={v}: got {got.get(v)}, gold {want}")
    return hits, total, misses


def synthetic_schema(name: str, n: int, seed: int) -> Schema:
    """A realistic-looking schema of ``n`` fields built from commerce words (seeded, deterministic)."""
    rng = random.Random(seed)
    parents = ["", "", "billing_address", "shipping_address", "customer", "line_items[]", "line_items[].tax_lines[]",
               "shipping_lines[]", "discount_codes[]", "payment", "fulfillments[]", "refunds[]"]
    leaves = ["id", "name", "title", "sku", "quantity", "price", "total", "amount", "currency", "email", "phone",
              "city", "zip", "country_code", "province", "address1", "address2", "first_name", "last_name",
              "company", "status", "created_at", "updated_at", "note", "code", "rate", "tax", "discount",
              "weight", "vendor", "barcode", "tracking_number", "carrier", "description", "reference"]
    kinds = ["string", "integer", "number", "datetime", "boolean"]
    fields, seen = [], set()
    while len(fields) < n:
        parent = rng.choice(parents)
        leaf = rng.choice(leaves) + ("" if rng.random() < 0.5 else f"_{rng.choice(leaves)}")
        path = f"{parent}.{leaf}" if parent else leaf
        if path in seen:
            continue
        seen.add(path)
        fields.append(Field(path, rng.choice(kinds), f"The {leaf.replace('_', ' ')} of the {parent or name}."))
    return Schema("synthetic", name, fields)


def timing() -> tuple[float, int, int]:
    """Seconds to suggest for a synthetic 150 x 150 pair (best of 3)."""
    src, dst = synthetic_schema("order", 150, 1), synthetic_schema("sale", 150, 2)
    best = math.inf
    for _ in range(3):
        from doohickey.mapping.suggest import signals, text

        signals.name_similarity.cache_clear()
        signals.path_similarity.cache_clear()
        text.tokens.cache_clear()
        text.word_similarity.cache_clear()
        t0 = time.perf_counter()
        match.suggest(src, dst)
        best = min(best, time.perf_counter() - t0)
    return best, len(src.fields), len(dst.fields)


def loo(evaluator: ModuleType, dev: Path, pairs: list, evidences: dict) -> str:
    """Leave-one-pair-out: fit on the others, tune the threshold on the others, score the held-out pair."""
    preds = {}
    for i, held in enumerate(pairs):
        train = pairs[:i] + pairs[i + 1:]
        weights, stage2 = fit(train, evidences)
        thr = best_threshold(evaluator, train, evidences, weights, stage2)
        preds.update(predict([held], evidences, weights, stage2, thr))
    return run_evaluate(dev, preds)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dev-dir", type=Path, default=DEFAULT_DEV)
    ap.add_argument("--loo", action="store_true", help="also report leave-one-pair-out (held-out) scores")
    ap.add_argument("--fit", action="store_true", help="print weights fitted on all pairs")
    args = ap.parse_args(argv)
    dev: Path = args.dev_dir
    if not (dev / "evaluate.py").is_file():
        print(f"mapping benchmark not found at {dev} (expected evaluate.py, pairs/ and schemas/ there); "
              "pass --dev-dir PATH", file=sys.stderr)
        return 2
    evaluator = load_evaluator(dev)
    pairs = load_pairs(dev)
    t0 = time.perf_counter()
    evidences = {name: match.score_matrix(src, dst) for name, _, src, dst in pairs}
    elapsed = time.perf_counter() - t0
    preds = predict(pairs, evidences, None, None, match.DEFAULT_THRESHOLD)
    print(f"## Shipped weights, threshold {match.DEFAULT_THRESHOLD} (all {len(pairs)} pairs, {elapsed:.2f} s)\n")
    print(run_evaluate(dev, preds))
    print("## Same, gold restricted to certain matches\n")
    print(run_evaluate(dev, preds, ("--certain-only",)))
    hits, total, misses = value_accuracy(pairs)
    print(f"## Status values: {hits}/{total} correct ({hits / max(total, 1):.3f})")
    for m in misses:
        print(f"   miss: {m}")
    secs, n_s, n_t = timing()
    print(f"\n## Speed: {n_s} x {n_t} synthetic field pair in {secs:.3f} s (target < 2 s)")
    _, _, big_s, big_t = max(pairs, key=lambda p: len(p[2].fields) * len(p[3].fields))
    t0 = time.perf_counter()
    match.suggest(big_s, big_t)
    print(f"   largest dev pair {big_s.name} -> {big_t.name} ({len(big_s.fields)} x {len(big_t.fields)}) "
          f"in {time.perf_counter() - t0:.3f} s")
    if args.fit:
        weights, stage2 = fit(pairs, evidences)
        thr = best_threshold(evaluator, pairs, evidences, weights, stage2)
        # Shift the bias so that the tuned threshold becomes the product's default of 0.5.
        weights["bias"] -= math.log(thr / (1 - thr))
        print(f"\n## Weights fitted on all pairs (best threshold {thr}, bias shifted so that 0.5 is it)")
        print(json.dumps({k: round(v, 3) for k, v in weights.items()}), json.dumps(
            {k: round(v, 3) for k, v in stage2.items()}))
    if args.loo:
        print("\n## Leave-one-pair-out: weights and threshold fitted on the other pairs\n")
        print(loo(evaluator, dev, pairs, evidences))
    return 0


if __name__ == "__main__":
    sys.exit(main())
