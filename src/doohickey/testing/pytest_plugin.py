"""pytest plugin: run the plan's named test cases inside a project's own test suite.

Loaded automatically (entry point ``pytest11``). It adds:

* ``--doohickey-plan PATH`` (or ``doohickey_plan = PATH`` in the ini file): the default plan;
* the fixture ``doohickey_scenario``: a function ``run(name, *, plan=None, data=None, faults=None,
  expect=None)`` that runs one test case (a ``tests:`` entry of the plan, or any library scenario)
  on fresh twins, fails the test with the scenario's sentences when it fails, skips it when the
  plan lacks what the scenario needs, and returns the
  :class:`~doohickey.testing.runner.CaseResult` (checks and metrics) when it passes;
* the marker ``@pytest.mark.doohickey_scenario("happy-path", plan="integration.yaml")`` with the
  fixture ``doohickey_result``, which runs the marked scenario and returns its result.

::

    def test_orders_reach_the_erp(doohickey_scenario):
        result = doohickey_scenario("happy-path", plan="integration.yaml")
        assert result.metrics["lags"]["orders-to-erp"]["met"]

    @pytest.mark.doohickey_scenario("refund")
    def test_refunds(doohickey_result):
        assert doohickey_result.passed

Imports of doohickey happen only when a fixture is used, so the plugin costs nothing elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--doohickey-plan`` and the ``doohickey_plan`` ini key."""
    parser.addini("doohickey_plan", "integration.yaml the doohickey_scenario fixture runs against", default="")
    parser.addoption("--doohickey-plan", default=None, help="integration.yaml the doohickey scenarios run against")


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker."""
    config.addinivalue_line("markers", "doohickey_scenario(name, plan=None): run this doohickey test case "
                                       "(use the doohickey_result fixture)")


def _plan_path(config: pytest.Config, plan: str | Path | None) -> Path:
    chosen = plan or config.getoption("--doohickey-plan") or config.getini("doohickey_plan")
    if not chosen:
        raise pytest.UsageError("doohickey_scenario needs a plan: pass plan=..., --doohickey-plan PATH, "
                                "or set doohickey_plan in the ini file")
    path = Path(chosen)
    return path if path.is_absolute() else Path(config.rootpath) / path


def run_scenario(config: pytest.Config, name: str, *, plan: str | Path | None = None,
                 data: dict[str, Any] | None = None, faults: list[dict[str, Any]] | None = None,
                 expect: dict[str, Any] | None = None) -> Any:
    """Run one test case of the plan (or library scenario) and fail/skip the current test accordingly."""
    import asyncio

    from doohickey.errors import DoohickeyError
    from doohickey.plan import load_plan
    from doohickey.plan.model import TestCase
    from doohickey.testing.runner import run_case
    from doohickey.testing.scenarios import lookup

    try:
        loaded = load_plan(_plan_path(config, plan))
        known = {c.name: c for c in loaded.tests}
        case = known.get(name) or TestCase(name=name)
        if data or faults or expect:
            case = case.model_copy(update={k: v for k, v in (("data", data), ("faults", faults),
                                                             ("expect", expect)) if v})
        lookup(case)
    except DoohickeyError as exc:
        pytest.fail(exc.message, pytrace=False)
    result = asyncio.run(run_case(loaded, case))
    if result.status == "skipped":
        pytest.skip(result.skipped or "not applicable to this plan")
    if result.status == "failed":
        pytest.fail(f"test case {name} failed:\n  " + "\n  ".join(result.failures), pytrace=False)
    return result


@pytest.fixture
def doohickey_scenario(request: pytest.FixtureRequest) -> Any:
    """``run(name, *, plan=None, data=None, faults=None, expect=None)``: run a doohickey test case."""

    def run(name: str, **options: Any) -> Any:
        return run_scenario(request.config, name, **options)

    return run


@pytest.fixture
def doohickey_result(request: pytest.FixtureRequest) -> Any:
    """The result of the test's ``@pytest.mark.doohickey_scenario(name, plan=...)``."""
    marker = request.node.get_closest_marker("doohickey_scenario")
    if marker is None or not marker.args:
        raise pytest.UsageError("doohickey_result needs @pytest.mark.doohickey_scenario('name')")
    return run_scenario(request.config, marker.args[0], **marker.kwargs)
