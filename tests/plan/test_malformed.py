"""Malformed plans: each mistake gets one clear line naming file, line, field and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from doohickey.cli import app
from doohickey.plan import PlanLoadError, load_plan

GOOD = """\
name: t
systems:
  shop: {kind: storefront, connector: shopify}
  erp: {kind: erp, connector: erp}
alerts:
  ops: {email: ops@x.example}
flows:
  orders:
    entity: order
    from: shop
    to: erp
    trigger: {webhook: orders/create, poll: 5m}
    on_failure: {retries: 3, alert: ops, owner: Sam}
"""


def problems(tmp_path: Path, text: str) -> list:
    path = tmp_path / "integration.yaml"
    path.write_text(text)
    with pytest.raises(PlanLoadError) as info:
        load_plan(path)
    return info.value.problems


def test_the_base_plan_loads(tmp_path: Path) -> None:
    (tmp_path / "integration.yaml").write_text(GOOD)
    assert load_plan(tmp_path / "integration.yaml").flows["orders"].name == "orders"


@pytest.mark.parametrize(("old", "new", "code", "field", "line", "words"), [
    ("retries: 3", "retries: many", "bad-value", "flows.orders.on_failure.retries", 13, "valid integer"),
    ("retries: 3", "retries: 500", "bad-value", "flows.orders.on_failure.retries", 13, "less than or equal to 100"),
    ("entity: order", "entity: ordr", "bad-value", "flows.orders.entity", 9, "did you mean 'order'?"),
    ("to: erp", "to: wms", "unknown-system", "flows.orders.to", 11, "defined: erp, shop"),
    ("alert: ops", "alert: opps", "unknown-alert channel", "flows.orders.on_failure.alert", 13, "did you mean 'ops'"),
    ("connector: erp}", "connector: netsuite}", "unknown-connector", "systems.erp.connector", 4, "defined: "),
    ("poll: 5m", "pol: 5m", "unknown-key", "flows.orders.trigger.pol", 12, "did you mean 'poll'?"),
    ("kind: erp", "kind: accounting", "bad-value", "systems.erp.kind", 4, "allowed: 'storefront'"),
    ("    from: shop\n", "", "missing", "flows.orders.from", 9, "required"),
    ("trigger: {webhook: orders/create, poll: 5m}", "trigger: {}", "bad-value", "flows.orders.trigger", 12,
     "at least one of webhook, poll or schedule"),
])
def test_each_mistake_is_named(tmp_path: Path, old: str, new: str, code: str, field: str, line: int,
                               words: str) -> None:
    assert old in GOOD
    (problem,) = problems(tmp_path, GOOD.replace(old, new, 1))
    assert (problem.code, problem.field, problem.position.line) == (code, field, line)
    assert words in f"{problem.message} ({problem.hint})"


def test_undefined_entity_in_ownership_and_missing_map_file(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD + "ownership: {invoice: erp, order: crm}\n")
    assert {(p.code, p.field) for p in found} == {("unknown-entity", "ownership.invoice"),
                                                  ("unknown-system", "ownership.order")}
    (problem,) = problems(tmp_path, GOOD.replace("    on_failure", "    map: maps/nope.yaml\n    on_failure"))
    assert problem.code == "no-file" and "flows.orders.map" in problem.field


def test_bad_yaml_duplicate_key_and_empty_file(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, GOOD.replace("to: erp", "to: [erp"))
    assert problem.code == "yaml" and problem.position.line >= 11
    (problem,) = problems(tmp_path, GOOD + "name: again\n")
    assert problem.code == "duplicate-key" and problem.position.line == 14
    assert problems(tmp_path, "")[0].code == "empty"
    assert problems(tmp_path, "- a\n- b\n")[0].code == "not-a-mapping"


def test_inline_secrets_in_any_connection(tmp_path: Path) -> None:
    text = GOOD.replace("connector: erp}", "connector: erp, sandbox: {url: 'http://x', password: hunter2hunter2}}")
    (problem,) = problems(tmp_path, text)
    assert problem.code == "inline-secret" and problem.field == "systems.erp.sandbox.password"
    assert "hunter2" not in str(problem) and "{env: ERP_PASSWORD}" in problem.hint


def test_cli_missing_file_is_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plan", "check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "file not found" in result.output and "Traceback" not in result.output
