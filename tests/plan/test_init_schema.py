"""plan init scaffolds loadable, commented plans and never overwrites; plan schema validates real plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from doohickey.cli import app
from doohickey.plan import load_plan
from doohickey.plan.check import Verdict, check_plan
from doohickey.plan.schema import plan_schema
from doohickey.plan.templates import TEMPLATES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_init_writes_a_plan_that_loads_with_its_open_decisions(tmp_path: Path, template: str) -> None:
    folder = tmp_path / "Acme Shop"
    result = runner.invoke(app, ["plan", "init", "--template", template, str(folder)])
    assert result.exit_code == 0, result.output
    plan = load_plan(folder / "integration.yaml")
    assert plan.name == "acme-shop"
    text = (folder / "integration.yaml").read_text()
    assert "DECIDE:" in text and text.startswith("# yaml-language-server: $schema=./integration.schema.json")
    checked = check_plan(folder / "integration.yaml")
    assert checked.verdict is Verdict.DISCOVERY
    assert len(checked.open_decisions) == text.count("# DECIDE:") - ("fuzzy" in text)
    assert json.loads((folder / "integration.schema.json").read_text())["title"] == "doohickey integration plan"


def test_shopify_erp_wms_template_covers_the_classic_table(tmp_path: Path) -> None:
    runner.invoke(app, ["plan", "init", str(tmp_path / "p")])
    plan = load_plan(tmp_path / "p" / "integration.yaml")
    kinds = {s.kind.value for s in plan.systems.values()}
    assert {"storefront", "erp", "wms", "crm", "carrier"} <= kinds
    entities = {f.entity for f in plan.flows.values()}
    assert {"order", "stock", "customer", "fulfilment", "shipment", "refund", "return"} <= entities


def test_init_refuses_to_overwrite_and_unknown_template(tmp_path: Path) -> None:
    (tmp_path / "integration.yaml").write_text("mine")
    result = runner.invoke(app, ["plan", "init", str(tmp_path)])
    assert result.exit_code == 2 and "refusing to overwrite" in result.output
    assert (tmp_path / "integration.yaml").read_text() == "mine"
    result = runner.invoke(app, ["plan", "init", "--template", "magento", str(tmp_path / "x")])
    assert result.exit_code == 2 and "unknown template 'magento'" in result.output
    assert not (tmp_path / "x").exists()


def test_schema_accepts_the_examples_and_rejects_typos(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    out = tmp_path / "schema.json"
    assert runner.invoke(app, ["plan", "schema", "--out", str(out)]).exit_code == 0
    schema = json.loads(out.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name in ("shopify-erp-wms", "shopify-tryton", "risky"):
        data = yaml.safe_load((EXAMPLES / name / "integration.yaml").read_text())
        assert not list(validator.iter_errors(data)), name
    data = yaml.safe_load((EXAMPLES / "shopify-erp-wms" / "integration.yaml").read_text())
    data["flows"]["orders-to-erp"]["timng"] = "real-time"
    data["flows"]["stock-to-shop"]["trigger"]["poll"] = "soon"
    errors = {e.message.split(" ")[0] for e in validator.iter_errors(data)}
    assert errors, "typos must not validate"


def test_schema_describes_every_key() -> None:
    schema = plan_schema()
    models = [schema, *schema["$defs"].values()]
    undocumented = [key for model in models for key, prop in model.get("properties", {}).items()
                    if not prop.get("description")]
    assert undocumented == []
    assert "path" not in schema["properties"]
