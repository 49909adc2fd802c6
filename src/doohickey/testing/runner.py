"""The scenario runner behind ``doohickey test``: a plan's test cases, each on fresh twins, judged per use case.

:func:`select_cases` picks the plan's test cases (or library scenarios named on the command
line) and refuses unknown names with a did-you-mean before anything starts. :func:`run_tests`
runs each test case in its own :class:`~doohickey.testing.harness.Sandbox` (so one case's
orders and faults never leak into the next), then applies the test case's own ``faults``
(before) and ``expect`` (after). :class:`TestRun` holds the results and gives the verdict per
business use case: which test cases prove it, whether all passed, and the lag percentiles
against its promise.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from doohickey.errors import DoohickeyError
from doohickey.plan.model import Plan, TestCase
from doohickey.testing.expect import Check, Checks, ExpectationError
from doohickey.testing.harness import Sandbox, SandboxOptions

NO_USE_CASE = "(no use case named)"


@dataclass
class CaseResult:
    """One test case's outcome: its checks, measurements, and why it failed or was skipped."""

    name: str
    scenario: str
    use_case: str
    summary: str
    checks: list[Check] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    skipped: str | None = None
    orders: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every check held, none failed, and the scenario ran to the end."""
        return self.skipped is None and self.error is None and bool(self.checks) and all(c.passed
                                                                                         for c in self.checks)

    @property
    def status(self) -> str:
        """``passed``, ``failed`` or ``skipped``."""
        return "skipped" if self.skipped else ("passed" if self.passed else "failed")

    @property
    def failures(self) -> list[str]:
        """What went wrong, one sentence each."""
        out = [c.message() for c in self.checks if not c.passed]
        if self.error:
            out.append(self.error)
        if not self.checks and not self.error and not self.skipped:
            out.append("the scenario checked nothing")
        return out


@dataclass
class UseCaseVerdict:
    """Whether one business use case holds: the test cases that prove it and the lag against its promise."""

    use_case: str
    cases: list[str]
    status: str
    lags: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TestRun:
    """Every test case run for one plan."""

    __test__ = False  # not a pytest class

    plan: str
    path: str
    env: str
    started_at: dt.datetime
    results: list[CaseResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """Whether no test case failed (skipped ones are reported, not failed)."""
        return all(r.status != "failed" for r in self.results) and any(r.status == "passed" for r in self.results)

    def verdicts(self) -> list[UseCaseVerdict]:
        """One verdict per business use case, in the order the plan first names them."""
        groups: dict[str, list[CaseResult]] = {}
        for result in self.results:
            groups.setdefault(result.use_case, []).append(result)
        out = []
        for use_case, results in groups.items():
            statuses = {r.status for r in results}
            status = "failed" if "failed" in statuses else ("passed" if "passed" in statuses else "skipped")
            lags = [lag for r in results for lag in (r.metrics.get("lags") or {}).values()]
            out.append(UseCaseVerdict(use_case, [r.name for r in results], status, _merge_lags(lags)))
        return out


def _merge_lags(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The worst lag figures per flow across the test cases of one use case."""
    by_flow: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if not entry.get("count"):
            continue
        have = by_flow.get(entry["flow"])
        if have is None:
            by_flow[entry["flow"]] = dict(entry)
            continue
        have["count"] += entry["count"]
        for key in ("p50_s", "p95_s", "max_s"):
            have[key] = max(have.get(key) or 0.0, entry.get(key) or 0.0)
        have["met"] = bool(have.get("met")) and bool(entry.get("met", True))
    return list(by_flow.values())


def select_cases(plan: Plan, names: list[str] | None = None) -> list[TestCase]:
    """The test cases to run: the plan's, or those named (a plan test case, or any library scenario).

    Every chosen case must resolve to a scenario; an unknown name raises UnknownScenario with the
    nearest names, before any twin starts.
    """
    from doohickey.testing.scenarios import LIBRARY, UnknownScenario, lookup, suggest

    if not names:
        cases = list(plan.tests)
        if not cases:
            raise UnknownScenario(f"plan {plan.name} names no test cases (tests:); run one with --scenario NAME "
                                  f"({', '.join(sorted(n for n in LIBRARY if n != 'custom'))})")
    else:
        by_name = {c.name: c for c in plan.tests}
        cases = []
        for name in names:
            if name in by_name:
                cases.append(by_name[name])
            elif name in LIBRARY and name != "custom":
                cases.append(TestCase(name=name))
            else:
                known = sorted(set(by_name) | (set(LIBRARY) - {"custom"}))
                raise UnknownScenario(f"no test case or scenario named {name!r}; {suggest(name, known)}")
    for case in cases:
        lookup(case)
    return cases


def use_case_of(plan: Plan, case: TestCase, entity: str) -> str:
    """The business use case a test case proves: its own words, else its flow's, else the first fitting flow's."""
    if case.use_case:
        return case.use_case
    if case.flow and case.flow in plan.flows and plan.flows[case.flow].use_case:
        return plan.flows[case.flow].use_case or NO_USE_CASE
    for flow in plan.flows.values():
        if flow.entity == entity and flow.use_case:
            return flow.use_case
    return NO_USE_CASE


async def run_case(plan: Plan, case: TestCase, *, env: str = "sandbox", time_scale: float | None = None,
                   timeout: float = 240.0) -> CaseResult:
    """Run one test case on fresh twins and return its result (never raises for a failing scenario)."""
    from doohickey.testing.scenarios import Context, NotApplicable, lookup
    from doohickey.testing.scenarios.custom import case_faults, evaluate

    scenario = lookup(case)
    result = CaseResult(case.name, scenario.name, use_case_of(plan, case, scenario.entity), scenario.summary)
    begun = time.monotonic()
    twin_options = {name: dict(scenario.twin_options[system.sandbox.twin])
                    for name, system in plan.systems.items()
                    if system.sandbox and system.sandbox.twin in scenario.twin_options}
    options = SandboxOptions(time_scale=time_scale or scenario.time_scale or SandboxOptions.time_scale,
                             seed=int(case.data.get("seed", 7)), twin_options=twin_options, env=env)
    checks = Checks()
    try:
        faults = case_faults(case.faults, list(plan.systems))
        async with Sandbox(plan, options) as sandbox:
            ctx = Context(plan, case, sandbox, checks)
            for system, fault in faults:
                ctx.inject(system, fault)
            await asyncio.wait_for(scenario.run(ctx), timeout=timeout)
            if case.expect:
                await evaluate(ctx, case.expect)
            result.metrics, result.orders = ctx.metrics, ctx.orders
    except NotApplicable as exc:
        result.skipped = exc.message
    except (ExpectationError, DoohickeyError) as exc:
        result.error = exc.message
    except TimeoutError:
        result.error = f"the scenario did not finish within {timeout:g} s"
    except Exception as exc:  # a broken scenario is a failed test case with the reason, not a crashed run
        result.error = f"the scenario stopped: {type(exc).__name__}: {exc}"
    result.checks = list(checks.items)
    result.seconds = round(time.monotonic() - begun, 2)
    return result


Progress = Callable[[TestCase, CaseResult | None], None]


async def run_tests(plan: Plan, cases: list[TestCase], *, env: str = "sandbox", time_scale: float | None = None,
                    progress: Progress | None = None) -> TestRun:
    """Run ``cases`` one after the other; ``progress(case, None)`` before and ``(case, result)`` after each."""
    run = TestRun(plan.name, str(plan.path or ""), env, dt.datetime.now(dt.UTC))
    begun = time.monotonic()
    for case in cases:
        if progress:
            progress(case, None)
        result = await run_case(plan, case, env=env, time_scale=time_scale)
        run.results.append(result)
        if progress:
            progress(case, result)
    run.seconds = round(time.monotonic() - begun, 2)
    return run
