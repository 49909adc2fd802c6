"""Loading plans: the bundled example loads; malformed plans name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from doohickey.plan import PlanLoadError, load_plan

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shopify-erp-wms" / "integration.yaml"


def test_example_plan_loads_with_its_decisions() -> None:
    plan = load_plan(EXAMPLE)
    assert plan.owner_of("order", "status") == ["erp"]
    assert plan.owner_of("order", "email") == ["shop"]
    flow = plan.flows["orders-to-erp"]
    assert flow.trigger.poll is not None and flow.trigger.poll.total_seconds() == 120
    assert flow.status is not None and flow.status.values["paid"] == "confirmed"
    assert [r.source for r in flow.map.rows][:2] == ["email", "currency"]
    assert plan.systems["shop"].production.secrets()["token"].env == "SHOPIFY_ADMIN_TOKEN"


def _broken(tmp_path: Path, old: str, new: str) -> PlanLoadError:
    text = EXAMPLE.read_text().replace(old, new, 1)
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "shopify-order-to-erp-sale.yaml").write_text(
        (EXAMPLE.parent / "maps" / "shopify-order-to-erp-sale.yaml").read_text())
    path = tmp_path / "integration.yaml"
    path.write_text(text)
    with pytest.raises(PlanLoadError) as info:
        load_plan(path)
    return info.value


def test_unknown_key_names_line_and_suggests(tmp_path: Path) -> None:
    error = _broken(tmp_path, "    timing: real-time\n", "    timng: real-time\n")
    (problem,) = error.problems
    assert problem.field == "flows.orders-to-erp.timng"
    assert problem.position.line == 59 and problem.position.file.endswith("integration.yaml")
    assert "did you mean 'timing'" in problem.hint


def test_inline_secret_is_an_error_without_echoing_it(tmp_path: Path) -> None:
    error = _broken(tmp_path, "token: {env: SHOPIFY_ADMIN_TOKEN}", "token: shpat_0123456789abcdef")
    assert error.problems[0].code == "inline-secret"
    assert error.problems[0].field == "systems.shop.production.token"
    assert "shpat_0123456789abcdef" not in str(error)


def test_undefined_system_is_named_with_a_suggestion(tmp_path: Path) -> None:
    error = _broken(tmp_path, "    to: erp\n", "    to: erpp\n")
    assert error.problems[0].code == "unknown-system"
    assert "did you mean 'erp'" in error.problems[0].hint


def test_bad_duration_and_bad_yaml(tmp_path: Path) -> None:
    assert "not a duration" in _broken(tmp_path, "poll: 2m", "poll: soon").problems[0].message
    (tmp_path / "y").mkdir()
    error = _broken(tmp_path / "y", "flows:", "flows: [")
    assert error.problems[0].code == "yaml" and error.problems[0].position.line == 54
