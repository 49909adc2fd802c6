"""Benchmark: doohickey's reconciliation diff against reladiff on two stock tables in DuckDB.

Builds two tables of N stock levels (``sku``, ``location``, ``available``) in a DuckDB
file; the second drifts from the first on a deterministic share of rows: changed
quantities (mismatch), rows deleted (missing) and rows added (orphan). Then:

- doohickey reads both tables page by page (``fetchmany``) and diffs them with
  :class:`doohickey.reconcile.diff.Diff`, in a child process so its peak RSS is its own;
- reladiff diffs the same two tables with its default algorithm for one database (a join
  inside DuckDB), through ``connect_to_table`` / ``diff_tables``.

Both results are turned into (sku, kind) sets and must agree. Usage::

    python bench/reconcile.py [--rows 1000000] [--drift 0.01] [--seed 7] [--json] [--also-hashdiff]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TABLE_SQL = """
CREATE TABLE owner_stock AS
SELECT 'SKU-' || lpad(i::VARCHAR, 9, '0') AS sku, 'main' AS location, ((i * 7919) % 500)::INTEGER AS available
FROM range({rows}) t(i)
"""


def build(path: Path, rows: int, drift: float, seed: int) -> dict[str, int]:
    """Create ``owner_stock`` and ``other_stock`` in a DuckDB file; return the planted drift by kind."""
    import duckdb

    rng = random.Random(seed)
    changed = rng.sample(range(rows), max(1, int(rows * drift)))
    cut = len(changed) // 5
    missing, orphan_n, mismatched = changed[:cut], cut, changed[cut:]
    con = duckdb.connect(str(path))
    con.execute(TABLE_SQL.format(rows=rows))
    con.execute("CREATE TABLE drift (i BIGINT, kind VARCHAR, delta INTEGER)")
    con.executemany("INSERT INTO drift VALUES (?, ?, ?)",
                    [(i, "missing", 0) for i in missing]
                    + [(i, "mismatch", rng.choice((-3, -1, 1, 2, 5))) for i in mismatched])
    con.execute("""
        CREATE TABLE other_stock AS
        SELECT o.sku, o.location, o.available + coalesce(d.delta, 0) AS available
        FROM owner_stock o LEFT JOIN drift d ON d.i = CAST(substr(o.sku, 5) AS BIGINT)
        WHERE d.kind IS NULL OR d.kind <> 'missing'
    """)
    con.execute(f"""
        INSERT INTO other_stock
        SELECT 'SKU-X' || lpad(i::VARCHAR, 8, '0'), 'main', (i % 40)::INTEGER FROM range({orphan_n}) t(i)
    """)
    # Both tables are left in key order, which is reladiff's best case (a shuffled copy measured about twice
    # as slow for it); doohickey's diff does not depend on order.
    con.close()
    return {"mismatch": len(mismatched), "missing": len(missing), "orphan": orphan_n}


def doohickey_worker(db: str, out: str, page_size: int) -> None:
    """Child process: diff the two tables page by page and write timings, peak RSS and findings."""
    import duckdb

    from doohickey.reconcile.diff import Diff, DiffSpec, FieldRule
    from doohickey.reconcile.readers import sql_pages

    con = duckdb.connect(db, read_only=True)
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    spec = DiffSpec("stock", (FieldRule("available", "int", tolerance=0),), key=("sku",))
    gc.disable()  # nothing cyclic is made here; the collector would only rescan millions of row tuples
    start = time.perf_counter()
    diff = Diff(spec)
    for columns, rows in sql_pages(con.cursor(), "SELECT sku, available FROM owner_stock", page_size=page_size):
        diff.add_owner(rows, columns)
    for columns, rows in sql_pages(con.cursor(), "SELECT sku, available FROM other_stock", page_size=page_size):
        diff.add_other(rows, columns)
    result = diff.finish()
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    found = [[d.key, str(d.kind)] for d in result.discrepancies]
    Path(out).write_text(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "baseline_mb": baseline_mb,
                                     "counts": result.counts, "found": found, "truncated": result.truncated}))


def run_doohickey(db: Path, page_size: int) -> dict:
    """Run the worker in a fresh interpreter and read what it measured."""
    out = db.with_suffix(".doohickey.json")
    subprocess.run([sys.executable, __file__, "--worker", str(db), str(out), "--page-size", str(page_size)],
                   check=True)
    return json.loads(out.read_text())


def run_reladiff(db: Path, algorithm: str = "auto") -> dict:
    """Diff the same tables with reladiff (``auto``: join-diff inside DuckDB; ``hashdiff``: its cross-database one)."""
    import reladiff

    conn = reladiff.connect(f"duckdb://{db}")
    start = time.perf_counter()
    a = reladiff.connect_to_table(conn, "owner_stock", "sku", extra_columns=("available",))
    b = reladiff.connect_to_table(conn, "other_stock", "sku", extra_columns=("available",))
    rows = list(reladiff.diff_tables(a, b, algorithm=algorithm))
    seconds = time.perf_counter() - start
    signs: dict[str, set[str]] = {}
    for sign, values in rows:
        signs.setdefault(values[0], set()).add(sign)
    kinds = {"-": "missing", "+": "orphan"}
    found = {(sku, "mismatch" if len(s) == 2 else kinds[next(iter(s))]) for sku, s in signs.items()}
    return {"seconds": seconds, "found": found, "rows": len(rows)}


def main() -> None:
    """Parse the options, build the data, run both sides and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--drift", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--also-hashdiff", action="store_true",
                        help="also time reladiff's cross-database algorithm (bisecting hashes), the one it uses "
                             "when the two tables live in different databases, as two Systems do")
    parser.add_argument("--worker", nargs=2, metavar=("DB", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        doohickey_worker(args.worker[0], args.worker[1], args.page_size)
        return
    with tempfile.TemporaryDirectory(prefix="doohickey-bench-") as tmp:
        db = Path(tmp) / "stock.duckdb"
        planted = build(db, args.rows, args.drift, args.seed)
        ours = run_doohickey(db, args.page_size)
        theirs = run_reladiff(db)
        hashed = run_reladiff(db, "hashdiff") if args.also_hashdiff else None
    our_set = {tuple(x) for x in ours["found"]}
    agree = our_set == theirs["found"] and not ours["truncated"]
    report = {
        "rows": args.rows,
        "drift": args.drift,
        "doohickey_s": round(ours["seconds"], 3),
        "reladiff_s": round(theirs["seconds"], 3),
        "ratio": round(theirs["seconds"] / ours["seconds"], 2) if ours["seconds"] else None,
        "doohickey_peak_mb": round(ours["peak_mb"], 1),
        "doohickey_baseline_mb": round(ours["baseline_mb"], 1),
        "discrepancies_found": sum(ours["counts"].values()),
        "reladiff_found": len(theirs["found"]),
        "by_kind": ours["counts"],
        "planted": planted,
        "agree": agree,
    }
    if hashed is not None:
        report["reladiff_hashdiff_s"] = round(hashed["seconds"], 3)
        report["agree"] = agree = agree and hashed["found"] == theirs["found"]
    if args.json:
        print(json.dumps(report))
    else:
        print(f"reconcile bench: {args.rows:,} stock levels per side, drift {args.drift:.2%}, planted {planted}")
        print(f"{'tool':<12}{'seconds':>10}{'peak MB':>10}{'found':>10}")
        print(f"{'doohickey':<12}{report['doohickey_s']:>10.3f}{report['doohickey_peak_mb']:>10.1f}"
              f"{report['discrepancies_found']:>10,}")
        print(f"{'reladiff':<12}{report['reladiff_s']:>10.3f}{'-':>10}{report['reladiff_found']:>10,}")
        if hashed is not None:
            print(f"{'  hashdiff':<12}{report['reladiff_hashdiff_s']:>10.3f}{'-':>10}{len(hashed['found']):>10,}")
        print(f"reladiff / doohickey time: {report['ratio']}x; results agree: {agree}; by kind: {ours['counts']}")
    if not agree:
        sys.exit(1)


if __name__ == "__main__":
    main()
