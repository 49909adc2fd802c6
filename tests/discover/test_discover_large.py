"""Discovery holds up on a large document: 3,000 operations in YAML and JSON (timings printed, not asserted)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from doohickey.discover import discover
from doohickey.discover.synthetic import synthetic_spec


def test_three_thousand_operations(tmp_path: Path) -> None:
    doc = synthetic_spec(resources=600)
    as_json = tmp_path / "big.json"
    as_json.write_text(json.dumps(doc))
    as_yaml = tmp_path / "big.yaml"
    as_yaml.write_text(yaml.safe_dump(doc, sort_keys=False))
    for path in (as_json, as_yaml):
        started = time.perf_counter()
        profile = discover(path)
        elapsed = time.perf_counter() - started
        print(f"\n{path.name}: {path.stat().st_size / 1e6:.1f} MB, {profile.stats.operations} operations, "
              f"{profile.stats.refs} $refs checked, discovered in {elapsed:.2f} s")
        assert profile.stats.operations == 3000
        assert {"order", "customer", "product", "variant", "stock", "shipment", "refund", "return"} == set(
            profile.entities)
        order = profile.entity("order")
        assert set(order.operations) == {"list", "get", "create", "update", "delete"}
        assert order.pagination.total_pages_path == "meta.pagination.total_pages"
        assert order.poll is not None and order.poll.field == "updated_at"
        assert len(profile.other_resources) == 200  # capped: the profile lists the first 200
