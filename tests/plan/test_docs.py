"""The documentation keeps up: every plan key is in docs/plan.md, every transform and finding id is documented."""

from __future__ import annotations

import re
from pathlib import Path

from doohickey.mapping.transforms import TRANSFORMS
from doohickey.plan.load import allowed_keys
from doohickey.plan.schema import all_keys

ROOT = Path(__file__).resolve().parents[2]
PLAN_DOC = (ROOT / "docs" / "plan.md").read_text()
MAPPING_DOC = (ROOT / "docs" / "mapping.md").read_text()


def test_every_plan_key_is_documented_in_plan_md() -> None:
    keys = {key for model_keys in all_keys().values() for key in model_keys}
    keys |= {key for loc in [(), ("flows", "x"), ("systems", "x"), ("reconcile", "x"), ("slas", "x")]
             for key in allowed_keys(loc)}
    missing = sorted(key for key in keys if f"`{key}`" not in PLAN_DOC)
    assert missing == []


def test_every_finding_id_is_documented() -> None:
    source = (ROOT / "src" / "doohickey" / "plan" / "check.py").read_text()
    ids = set(re.findall(r'"([a-z]+(?:-[a-z]+)+)", Severity\.', source)) | {"secret-inline"}
    assert len(ids) >= 20
    assert sorted(i for i in ids if f"`{i}`" not in PLAN_DOC) == []


def test_every_transform_is_documented_in_mapping_md() -> None:
    fieldmap_part = MAPPING_DOC.split("## Suggesting mappings")[0]
    assert sorted(name for name in TRANSFORMS if not re.search(rf"`{name}(\(|`)", fieldmap_part)) == []


def test_readme_opens_with_the_two_commands_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```(?:sh|bash|console)?\n(.*?)```", readme, re.S).group(1).strip().splitlines()
    assert block == ['pip install -e . && doohickey demo', 'pip install -e ".[test]" && bash scripts/test.sh']
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
