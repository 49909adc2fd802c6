"""The commands end to end: a plan naming two ERP twins served over loopback, reconciled and matched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from doohickey.cli import app
from doohickey.clock import ManualClock
from doohickey.twins import create_twin
from doohickey.twins.datagen import generate
from doohickey.twins.server import TwinServer

DATA = generate(21, orders=0)

PLAN = """
name: reconcile-cli
systems:
  erp:
    kind: erp
    connector: erp
    sandbox: {{url: "{main}", api_key: {{env: RECONCILE_TEST_KEY}}}}
  branch:
    kind: erp
    connector: erp
    sandbox: {{url: "{branch}", api_key: {{env: RECONCILE_TEST_KEY}}}}
ownership:
  stock: erp
matching:
  customer: [email, phone, {{fuzzy: name+address, threshold: 0.92}}]
reconcile:
  stock: {{between: [erp, branch], owner: "Stock desk (Ana)", tolerance: 0, repair: report}}
"""


@pytest.fixture
def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, object, object]]:
    monkeypatch.setenv("RECONCILE_TEST_KEY", "erp-test-key")
    clock = ManualClock()
    main, branch = (create_twin("erp", seed=2, clock=clock, data=DATA) for _ in range(2))
    with TwinServer(main.app) as s1, TwinServer(branch.app) as s2:
        path = tmp_path / "integration.yaml"
        path.write_text(PLAN.format(main=s1.url, branch=s2.url))
        yield path, main, branch


def test_reconcile_reports_drift_writes_reports_and_repairs_from_the_owner(plan, tmp_path: Path) -> None:
    path, _, branch = plan
    level = DATA.stock[2]
    branch.state.adjust_stock(level.sku, level.location, on_hand=level.on_hand + 3)
    runner = CliRunner()
    result = runner.invoke(app, ["reconcile", str(path), "stock", "--report", str(tmp_path / "stock.html")])
    assert result.exit_code == 1, result.output  # drift found
    assert "stock erp -> branch: 1 mismatch (" in result.output and f"{level.sku}/{level.location}" in result.output
    html = (tmp_path / "stock.html").read_text()
    assert "Stock desk (Ana)" in html and "<svg" in html and level.sku in html

    result = runner.invoke(app, ["reconcile", str(path), "stock", "--repair", "--report", str(tmp_path / "s.json")])
    assert result.exit_code == 0, result.output
    assert "repaired 1, 0 left" in result.output
    assert branch.state.stock_level(level.sku, level.location)["on_hand"] == level.on_hand
    assert json.loads((tmp_path / "s.json").read_text())["status"] == "repaired"

    result = runner.invoke(app, ["reconcile", str(path), "--report", str(tmp_path / "s.csv")])
    assert result.exit_code == 0 and "no differences" in result.output
    assert (tmp_path / "s.csv").read_text().startswith("# stock: stock erp -> branch")


def test_match_customers_lists_the_planted_duplicates_with_reasons(plan) -> None:
    path, _, _ = plan
    result = CliRunner().invoke(app, ["match", "customers", "erp", "--plan", str(path)])
    assert result.exit_code == 0, result.output
    emails = {c.email.casefold() for c in DATA.customers}
    planted = len(DATA.customers) - len(emails)
    assert f"{planted} suspected duplicate(s) in erp" in result.output and planted > 0
    assert "same email" in result.output
    against = CliRunner().invoke(app, ["match", "customers", "erp", "--against", "branch", "--plan", str(path)])
    assert f"{len(DATA.customers)} suspected duplicate(s) in erp vs branch" in against.output


def test_bad_plan_and_unknown_entry_give_clear_errors(plan, tmp_path: Path) -> None:
    path, _, _ = plan
    result = CliRunner().invoke(app, ["reconcile", str(path), "orders"])
    assert result.exit_code == 2 and "reconciles no 'orders'" in result.output
    missing = CliRunner().invoke(app, ["reconcile", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "nope.yaml" in missing.output and "Traceback" not in missing.output
