"""The command line: it starts and lists its command groups."""

from typer.testing import CliRunner

from doohickey.cli import app


def test_help_lists_the_tool() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "integration.yaml" in result.output
