"""`doohickey discover`: readable output, --json and --out, and the docs cover every command of the group."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from doohickey.cli import app
from doohickey.discover import load_profile
from doohickey.twins.authdemo import openapi_document

DOCS = Path(__file__).resolve().parents[2] / "docs" / "discover.md"


def test_discover_prints_json_and_writes_a_profile(tmp_path: Path) -> None:
    spec = tmp_path / "demo.json"
    spec.write_text(json.dumps(openapi_document()))
    runner = CliRunner()
    result = runner.invoke(app, ["discover", str(spec), "--json", "--out", str(tmp_path / "p.yaml")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["entities"]["order"]["operations"]["list"]["method"] == "GET"
    assert {s["name"] for s in data["auth"]} == {"ApiKey", "QueryKey", "Basic", "Bearer", "OAuth"}
    profile = load_profile(tmp_path / "p.yaml")
    assert profile.entity("order").records_path == "data"
    readable = runner.invoke(app, ["discover", str(spec)])
    assert readable.exit_code == 0
    assert "order" in readable.output and "OAuth2 client_credentials, authorization_code" in readable.output


def test_every_command_of_the_group_is_documented() -> None:
    text = DOCS.read_text()
    for command in ("doohickey discover", "doohickey auth setup", "doohickey auth test", "--json", "--out",
                    "--plan", "--profile", "--secret", "preflight("):
        assert command in text, f"docs/discover.md does not mention {command}"
