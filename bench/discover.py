"""Benchmark: discovery time on synthetic documents of growing size, and on the real BigCommerce files.

Run: ``python bench/discover.py`` (prints a table; nothing is asserted).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

from doohickey.discover import discover, discover_many
from doohickey.discover.synthetic import synthetic_spec

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "contracts" / "bigcommerce" / "openapi"


def main() -> None:
    """Print one row per document: size, operations, seconds."""
    print(f"{'document':<34} {'MB':>6} {'operations':>10} {'seconds':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for resources in (200, 600, 1200):
            doc = synthetic_spec(resources=resources)
            for suffix in ("json", "yaml"):
                path = Path(folder) / f"synthetic-{resources}.{suffix}"
                path.write_text(json.dumps(doc) if suffix == "json" else yaml.safe_dump(doc, sort_keys=False))
                started = time.perf_counter()
                profile = discover(path)
                elapsed = time.perf_counter() - started
                print(f"{path.name:<34} {path.stat().st_size / 1e6:>6.1f} {profile.stats.operations:>10} "
                      f"{elapsed:>8.2f}")
    if SHARED.is_dir():
        files = sorted(SHARED.glob("*.yml"))
        started = time.perf_counter()
        profile = discover_many(files)
        elapsed = time.perf_counter() - started
        size = sum(f.stat().st_size for f in files) / 1e6
        print(f"{'bigcommerce (9 files, merged)':<34} {size:>6.1f} {profile.stats.operations:>10} {elapsed:>8.2f}")
    else:
        print(f"(BigCommerce files not found at {SHARED})", file=sys.stderr)


if __name__ == "__main__":
    main()
