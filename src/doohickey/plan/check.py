"""Risk checks of a Plan: the gaps that make integrations fail, found before anything is built.

:func:`check_plan` loads a plan and returns a :class:`CheckResult`: every
:class:`Finding` (an id, a severity, where it is, why it matters in business
terms, how to fix it) and the verdict:

- **errors** (exit 2): the plan cannot be loaded, or holds something that must
  never run (an inline secret, an unknown transform);
- **discovery-level** (exit 1): warnings remain; each is an open decision;
- **ready to build** (exit 0): nothing but information is left.

Each check is one small function ``(ctx) -> Iterable[Finding]`` listed in
:data:`CHECKS`. Status vocabularies of connectors live in
:data:`STATUS_VALUES` (a connector may also declare ``status_values`` on its
``CONNECTOR``); timing checks assume :data:`PROCESSING` per change on top of
the trigger's interval.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from doohickey.mapping.transforms import transform_problem
from doohickey.plan.load import (
    DUPLICATE,
    KEY,
    Loc,
    PlanLoadError,
    Position,
    Problem,
    _dotted,
    _position,
    load_plan_with_positions,
)
from doohickey.plan.model import Flow, Plan, parse_duration

# How long the engine needs to move one change once its trigger fired (queue, map, write, one retry).
PROCESSING = timedelta(seconds=30)

REQUIRED_TESTS = ("happy-path", "delayed-sync", "duplicate-event", "failed-webhook", "cancellation", "refund",
                  "partial-shipment", "manual-reconciliation")

RECONCILED_ENTITIES = ("order", "stock", "customer")
_PLURAL = {"order": "orders", "stock": "stock", "customer": "customers"}

# (connector, entity, canonical field) -> the values that field can hold in records read from that connector.
STATUS_VALUES: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("shopify", "order", "financial_status"): ("pending", "authorized", "partially_paid", "paid",
                                               "partially_refunded", "refunded", "voided", "expired"),
    ("shopify", "order", "fulfillment_status"): ("unfulfilled", "partial", "fulfilled", "restocked"),
    ("shopify", "order", "status"): ("open", "closed", "cancelled"),
    ("shopify", "fulfilment", "status"): ("pending", "open", "success", "cancelled", "error", "failure"),
    ("erp", "order", "status"): ("open", "confirmed", "processing", "shipped", "cancelled"),
    ("erp", "order", "fulfillment_status"): ("unfulfilled", "partial", "fulfilled"),
    ("wms", "order", "status"): ("processing", "shipped", "cancelled"),
    ("wms", "order", "fulfillment_status"): ("unfulfilled", "partial", "fulfilled"),
    ("wms", "fulfilment", "status"): ("pending", "success", "cancelled"),
    ("tryton", "order", "status"): ("draft", "quotation", "confirmed", "processing", "done", "cancelled"),
}


class Severity(StrEnum):
    """How much a finding blocks: errors stop everything, warnings are open decisions, info is advice."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Verdict(StrEnum):
    """What the plan is ready for."""

    READY = "ready to build"
    DISCOVERY = "discovery-level"
    ERRORS = "errors"


@dataclass(frozen=True)
class Finding:
    """One risk or problem: what, where, why it matters to the business, how to fix it."""

    id: str
    severity: Severity
    title: str
    field: str
    why: str
    fix: str
    position: Position | None = None

    @property
    def where(self) -> str:
        """``field (file:line)`` for people."""
        if self.position is None:
            return self.field
        return f"{self.field} ({Path(self.position.file).name}:{self.position.line})"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (stable keys)."""
        pos = self.position
        return {"id": self.id, "severity": str(self.severity), "title": self.title, "field": self.field,
                "file": pos.file if pos else None, "line": pos.line if pos else None,
                "column": pos.column if pos else None, "why": self.why, "fix": self.fix}


@dataclass
class CheckResult:
    """Every finding about one plan, and the verdict they add up to."""

    path: str
    findings: list[Finding]
    plan: Plan | None = None
    problems: list[Problem] = field(default_factory=list)  # why the plan could not be loaded, if it could not

    @property
    def verdict(self) -> Verdict:
        """errors > discovery-level (any warning) > ready to build."""
        severities = {f.severity for f in self.findings}
        if Severity.ERROR in severities:
            return Verdict.ERRORS
        return Verdict.DISCOVERY if Severity.WARNING in severities else Verdict.READY

    @property
    def exit_code(self) -> int:
        """0 ready, 1 discovery-level, 2 errors."""
        return {Verdict.READY: 0, Verdict.DISCOVERY: 1, Verdict.ERRORS: 2}[self.verdict]

    @property
    def open_decisions(self) -> list[Finding]:
        """The warnings: decisions the project still has to make."""
        return [f for f in self.findings if f.severity is Severity.WARNING]

    def by_id(self, finding_id: str) -> list[Finding]:
        """Findings with this id."""
        return [f for f in self.findings if f.id == finding_id]

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON document of ``plan check --json``."""
        counts = {str(s): sum(1 for f in self.findings if f.severity is s) for s in Severity}
        return {"plan": self.path, "verdict": str(self.verdict), "exit_code": self.exit_code, "counts": counts,
                "open_decisions": [f"{f.title} [{f.where}]" for f in self.open_decisions],
                "findings": [f.to_dict() for f in self.findings]}


@dataclass
class Context:
    """What every check reads: the plan and where its keys are."""

    plan: Plan
    positions: dict[Loc, Position]
    findings: list[Finding] = field(default_factory=list)

    def at(self, loc: Loc) -> Position | None:
        """The position of ``loc``'s key (or of its value, or of its nearest written parent)."""
        return self.positions.get((*KEY, *loc)) or _position(loc, self.positions)

    def finding(self, id: str, severity: Severity, title: str, loc: Loc, why: str, fix: str) -> Finding:
        """A finding located at ``loc``."""
        return Finding(id, severity, title, _dotted(loc), why, fix, self.at(loc))


def check_plan(path: str | Path) -> CheckResult:
    """Load the plan at ``path`` and run every check. Load problems become error findings."""
    try:
        plan, positions = load_plan_with_positions(path)
    except PlanLoadError as exc:
        return CheckResult(str(path), [_load_finding(p) for p in exc.problems], None, exc.problems)
    ctx = Context(plan, positions)
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(ctx))
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    findings.sort(key=lambda f: (order[f.severity], f.position.line if f.position else 0))
    return CheckResult(str(path), findings, plan)


def _load_finding(problem: Problem) -> Finding:
    if problem.code == "inline-secret":
        return Finding("secret-inline", Severity.ERROR, "A secret is written inline in the plan", problem.field,
                       "Anyone who can read the plan (the repository, a shared drive, a ticket) can use this "
                       "credential to change orders, stock and customers; it also ends up in backups and diffs.",
                       f"Revoke the credential, then {problem.hint}.", problem.position)
    hint = f" ({problem.hint})" if problem.hint else ""
    return Finding(f"plan-{problem.code}", Severity.ERROR, problem.message, problem.field,
                   "The plan cannot be read, so nothing can be checked, built or run from it.",
                   f"Correct the plan{hint}.", problem.position)


# --- timing helpers ----------------------------------------------------------------------------------------------


def format_duration(value: timedelta) -> str:
    """A duration for people: ``15m``, ``1h``, ``15m30s``."""
    seconds = int(value.total_seconds())
    parts = [(seconds // 86400, "d"), (seconds % 86400 // 3600, "h"), (seconds % 3600 // 60, "m"), (seconds % 60, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


def cron_interval(expression: str) -> timedelta | None:
    """Roughly how often a 5-field cron expression fires (``*/5 * * * *`` -> 5m, ``0 2 * * *`` -> 1d)."""
    parts = expression.split()
    if len(parts) != 5:
        return None
    minute, hour, day, _month, weekday = parts
    step = re.fullmatch(r"\*/(\d+)", minute)
    if step:
        return timedelta(minutes=int(step.group(1)))
    if minute == "*":
        return timedelta(minutes=1)
    if hour == "*":
        return timedelta(hours=1)
    step = re.fullmatch(r"\*/(\d+)", hour)
    if step:
        return timedelta(hours=int(step.group(1)))
    if day == "*" and weekday == "*":
        return timedelta(days=1) / max(1, len(hour.split(",")))
    return timedelta(days=7) if day == "*" else timedelta(days=30)


def trigger_delay(flow: Flow, *, webhook_lost: bool = False) -> timedelta | None:
    """The longest a change can wait for the flow's trigger (webhooks are immediate unless lost)."""
    if flow.trigger.webhook and not webhook_lost:
        return timedelta(0)
    candidates = [flow.trigger.poll] if flow.trigger.poll else []
    if flow.trigger.schedule and (interval := cron_interval(flow.trigger.schedule)):
        candidates.append(interval)
    return min(candidates) if candidates else None


def _words_duration(text: str) -> timedelta | None:
    match = re.search(r"within\s+(\d+(?:\.\d+)?)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)\b",
                      text, re.I)
    if not match:
        return None
    unit = match.group(2).lower()[0]
    return parse_duration(f"{match.group(1)}{'m' if unit == 'm' else unit}")


# --- the checks --------------------------------------------------------------------------------------------------


def check_ownership(ctx: Context) -> Iterable[Finding]:
    """Disputed fields (two owners), entities flows move with no owner, flows that write into the owner."""
    plan = ctx.plan
    for key, owners in plan.ownership.items():
        if isinstance(owners, list) and len(set(owners)) > 1:
            dup = ctx.positions.get((*DUPLICATE, key))
            finding = ctx.finding(
                "ownership-disputed", Severity.WARNING, f"{key} has two owners: {' and '.join(owners)}",
                ("ownership", key),
                f"When {' and '.join(owners)} disagree about {key}, each sync overwrites the other: customers and "
                "staff see the value flip, and nobody can say which number is true.",
                f"Pick one source of truth for {key} (write `{key}: {owners[0]}`), or split it into fields each "
                "owned by one system.")
            if dup is not None:
                finding = Finding(finding.id, finding.severity, finding.title + " (the key is written twice)",
                                  finding.field, finding.why, finding.fix, dup)
            yield finding
    seen: set[str] = set()
    for name, flow in plan.flows.items():
        has_fields = any(k.startswith(f"{flow.entity}.") for k in plan.ownership)
        if flow.entity not in plan.ownership and flow.entity not in seen:
            seen.add(flow.entity)
            what = f"{flow.entity} fields not listed under ownership" if has_fields else f"{flow.entity}"
            yield ctx.finding(
                "ownership-missing", Severity.WARNING, f"{what} {'have' if has_fields else 'has'} no owner",
                ("flows", name, "entity"),
                f"Flow {name} moves {flow.entity} records, but no system is named the source of truth. The engine "
                "cannot tell a real change from a stale copy, so edits made in one system are silently undone by "
                "the other.",
                f"Add `{flow.entity}: <system>` under ownership (and `{flow.entity}.<field>: <system>` for fields "
                "another system decides).")
            continue
        if flow.entity not in plan.ownership:
            continue
        source_owns = any(flow.source in plan.owner_of(flow.entity, k.split(".", 1)[1])
                          for k in plan.ownership if k.startswith(f"{flow.entity}."))
        if plan.owner_of(flow.entity) == [flow.target] and not source_owns:
            yield ctx.finding(
                "flow-into-owner", Severity.WARNING,
                f"Flow {name} writes {flow.entity} into its owner {flow.target}", ("flows", name, "to"),
                f"{flow.target} is the source of truth for {flow.entity} and {flow.source} owns none of its fields, "
                "so the engine will write nothing (or, if forced, overwrite the master with a copy).",
                f"Reverse the flow (from {flow.target} to {flow.source}), or give {flow.source} ownership of the "
                f"fields it really decides (`{flow.entity}.<field>: {flow.source}`).")


def check_conflicts(ctx: Context) -> Iterable[Finding]:
    """Two-way flows need a conflict rule for the fields both sides edit."""
    for name, flow in ctx.plan.flows.items():
        if flow.direction == "two-way" and flow.conflict is None:
            yield ctx.finding(
                "two-way-no-conflict", Severity.WARNING, f"Two-way flow {name} has no conflict rule",
                ("flows", name, "direction"),
                f"When {flow.source} and {flow.target} both change the same {flow.entity} before a sync, one edit "
                "is lost at random: an address a customer corrected, a price a merchant set.",
                "Add `conflict: owner-wins`, `newest` (with trusted_timestamp) or `manual-protected` (with "
                "protect_manual_edits).")


def check_webhooks(ctx: Context) -> Iterable[Finding]:
    """Webhook flows need retries, an alert and a polling safety net."""
    for name, flow in ctx.plan.flows.items():
        if not flow.trigger.webhook:
            continue
        policy = flow.on_failure
        if policy is None or policy.retries == 0:
            yield ctx.finding(
                "webhook-no-retry", Severity.WARNING, f"Webhook flow {name} has no retry policy",
                ("flows", name, "on_failure") if policy else ("flows", name, "trigger"),
                f"An outage of {flow.target} lasting a few seconds turns every {flow.entity} arriving meanwhile "
                "into a permanent failure that someone must find and re-key by hand.",
                "Add `on_failure: {retries: 8, backoff: exponential, dead_letter: true, alert: ..., owner: ...}`.")
        if policy is None or not policy.alert:
            yield ctx.finding(
                "webhook-no-alert", Severity.WARNING, f"Webhook flow {name} alerts nobody when it fails",
                ("flows", name, "on_failure") if policy else ("flows", name, "trigger"),
                f"Failed {flow.entity} syncs pile up unseen until a customer or the finance team notices.",
                "Name an alert channel: `on_failure: {alert: ops}` and define it under alerts:.")
        if not flow.trigger.poll and not flow.trigger.schedule:
            yield ctx.finding(
                "webhook-no-poll", Severity.WARNING, f"Webhook flow {name} has no polling safety net",
                ("flows", name, "trigger"),
                f"Webhooks get lost (outages, expired subscriptions, deploys); without polling, a lost "
                f"{flow.entity} is never synced and nobody knows.",
                "Add `poll: 5m` (or a schedule) to the trigger: polling picks up what webhooks missed.")


def check_failure_owners(ctx: Context) -> Iterable[Finding]:
    """Every flow's failure policy names the person or team who fixes it."""
    for name, flow in ctx.plan.flows.items():
        if flow.on_failure is not None and not flow.on_failure.owner:
            yield ctx.finding(
                "failure-no-owner", Severity.WARNING, f"Failures of flow {name} have no named owner",
                ("flows", name, "on_failure"),
                "Dead letters and alerts that belong to nobody are fixed by nobody: orders stay stuck until a "
                "customer complains.",
                "Add `owner: <person or team>` to on_failure (and a `fallback:` saying what they do by hand).")
        elif flow.on_failure is None and not flow.trigger.webhook:
            yield ctx.finding(
                "failure-no-owner", Severity.WARNING, f"Flow {name} has no failure policy and no named owner",
                ("flows", name),
                "Without a failure policy nothing is retried, nobody is alerted and nobody owns the fix.",
                "Add `on_failure: {retries: 5, alert: ops, owner: <person or team>}`.")


def check_reconciliation(ctx: Context) -> Iterable[Finding]:
    """Orders, stock and customers that flows move are reconciled, on a schedule, by a named owner."""
    plan = ctx.plan
    reconciled = {plan.reconcile_entity(key) for key in plan.reconcile}
    first_flow: dict[str, str] = {}
    for name, flow in plan.flows.items():
        first_flow.setdefault(flow.entity, name)
    for entity in RECONCILED_ENTITIES:
        if entity in first_flow and entity not in reconciled:
            yield ctx.finding(
                "reconcile-missing", Severity.WARNING, f"{entity} is synced but never reconciled",
                ("flows", first_flow[entity], "entity"),
                f"Syncs drift (lost events, hand edits, bugs). Without a scheduled comparison of {entity} records "
                "the drift is found by customers and auditors, not by you.",
                f"Add `reconcile: {{{_PLURAL[entity]}: {{between: [owner, copy], every: 15m, owner: <team>}}}}`.")
    for key, rec in plan.reconcile.items():
        if not rec.owner:
            yield ctx.finding(
                "reconcile-no-owner", Severity.WARNING, f"Reconciliation {key} has no owner", ("reconcile", key),
                "Discrepancies reported to nobody are not fixed.", "Add `owner: <person or team>`.")
        if rec.every is None:
            yield ctx.finding(
                "reconcile-no-schedule", Severity.WARNING, f"Reconciliation {key} has no schedule",
                ("reconcile", key),
                "A reconciliation that never runs finds nothing.", "Add `every: 15m` (or how often it must run).")


def _status_values(connector: str, entity: str, field: str) -> tuple[str, ...] | None:
    try:
        from doohickey import connectors

        declared = getattr(connectors.load(connector), "status_values", None)
    except Exception:  # a connector that cannot be imported here still has the table below
        declared = None
    if isinstance(declared, dict) and (entity, field) in declared:
        return tuple(declared[(entity, field)])
    return STATUS_VALUES.get((connector, entity, field))


def check_status_tables(ctx: Context) -> Iterable[Finding]:
    """Every status value the source can send has a mapping (or a default) on the other side."""
    plan = ctx.plan
    for name, flow in plan.flows.items():
        table = flow.status
        if table is None or table.default is not None:
            continue
        connector = plan.systems[flow.source].connector
        known = _status_values(connector, flow.entity, table.source)
        if not known:
            continue
        missing = [v for v in known if v not in table.values]
        if missing:
            yield ctx.finding(
                "status-mismatch", Severity.WARNING,
                f"Status table of {name} has no mapping for {table.source} " + ", ".join(missing),
                ("flows", name, "status"),
                f"{flow.source} ({connector}) can send {table.source} = {', '.join(missing)}; such "
                f"{flow.entity}s fail to sync (dead letters) or land in {flow.target} in the wrong state.",
                "Map each value under status.values (e.g. "
                + ", ".join(f"{v}: ..." for v in missing[:3]) + ") or set `default:`.")


def check_lag(ctx: Context) -> Iterable[Finding]:
    """Flows with an acceptable lag have a trigger fast enough to meet it (stock: inventory drift)."""
    for name, flow in ctx.plan.flows.items():
        if flow.acceptable_lag is None:
            continue
        delay = trigger_delay(flow, webhook_lost=True) if not flow.trigger.webhook else trigger_delay(flow)
        if delay is None:
            continue
        worst = delay + PROCESSING
        if worst <= flow.acceptable_lag:
            continue
        stock = flow.entity == "stock"
        yield ctx.finding(
            "inventory-drift" if stock else "lag-unreachable", Severity.WARNING,
            f"Flow {name} cannot meet its acceptable lag of {format_duration(flow.acceptable_lag)}",
            ("flows", name, "acceptable_lag"),
            (f"Stock reaches {flow.target} up to {format_duration(worst)} late (trigger every "
             f"{format_duration(delay)} + {format_duration(PROCESSING)} processing): the storefront keeps selling "
             "items that are gone (overselling) or hides items that are back.") if stock else
            (f"Changes reach {flow.target} up to {format_duration(worst)} late (trigger "
             f"{format_duration(delay)} + {format_duration(PROCESSING)} processing), longer than promised."),
            f"Poll at most every {format_duration(max(flow.acceptable_lag - PROCESSING, timedelta(seconds=1)))}, "
            "add a webhook trigger, or agree a longer acceptable_lag.")


def check_matching(ctx: Context) -> Iterable[Finding]:
    """Customer flows need matching rules, or every sync may create a second customer master."""
    if ctx.plan.matching.get("customer"):
        return
    for name, flow in ctx.plan.flows.items():
        if flow.entity == "customer":
            yield ctx.finding(
                "duplicate-customers", Severity.WARNING, f"Customer flow {name} has no matching rules",
                ("flows", name, "entity"),
                f"Without rules saying when two customers are the same person, {flow.target} gets a new customer "
                "for every guest checkout or changed email: duplicate masters, split order history, double "
                "marketing.",
                "Add `matching: {customer: [email, {key: phone, region: US}, {fuzzy: name+address, "
                "threshold: 0.92}]}`.")
            return


def check_tests(ctx: Context) -> Iterable[Finding]:
    """The named test cases every go-live needs are in the plan."""
    names = {case.name for case in ctx.plan.tests}
    for required in REQUIRED_TESTS:
        if required not in names:
            yield ctx.finding(
                "test-missing", Severity.WARNING, f"No test case named {required}", ("tests",),
                f"The {required.replace('-', ' ')} case is where integrations break in production; untested, the "
                "first real occurrence is the test.",
                f"Add `- {{name: {required}, use_case: <the business use case>}}` under tests:.")


def check_slas(ctx: Context) -> Iterable[Finding]:
    """Each SLA is fed by a flow whose trigger can meet it."""
    plan = ctx.plan
    promises: list[tuple[str, Loc, str | None, timedelta | None]] = [
        (f"SLA {key}", ("slas", key), sla.flow, sla.within) for key, sla in plan.slas.items()]
    for name, flow in plan.flows.items():
        if flow.sla and flow.sla not in plan.slas:
            promises.append((f"SLA of flow {name}", ("flows", name, "sla"), name, _words_duration(flow.sla)))
    for label, loc, flow_name, within in promises:
        if flow_name is None:
            yield ctx.finding(
                "sla-no-flow", Severity.WARNING, f"{label} is fed by no flow", loc,
                "A promise no flow can keep is broken from day one, and nothing measures it.",
                "Name the flow that delivers it (`flow: <flow>`), or drop the SLA.")
            continue
        flow = plan.flows[flow_name]
        if within is None:
            continue
        delay = trigger_delay(flow)
        if delay is not None and delay + PROCESSING > within:
            yield ctx.finding(
                "sla-unreachable", Severity.WARNING,
                f"{label} ({format_duration(within)}) cannot be met by flow {flow_name}", loc,
                f"Flow {flow_name} only looks for changes every {format_duration(delay)}, so the promise "
                f"'{plan.slas[loc[1]].use_case if loc[0] == 'slas' else flow.sla}' is broken by design.",
                f"Trigger {flow_name} by webhook or poll more often than every {format_duration(within)}, or "
                "agree a longer SLA.")
            continue
        lost = trigger_delay(flow, webhook_lost=True)
        if flow.trigger.webhook and lost is not None and lost + PROCESSING > within:
            yield ctx.finding(
                "sla-at-risk", Severity.INFO,
                f"{label} ({format_duration(within)}) is missed whenever a webhook is lost", loc,
                f"The polling safety net of {flow_name} runs every {format_duration(lost)}, so an order whose "
                "webhook never came arrives after the promised time.",
                f"Poll {flow_name} more often than every {format_duration(within)} if the SLA must hold then too.")


def check_transforms(ctx: Context) -> Iterable[Finding]:
    """FieldMap rows name transforms that exist (with a did-you-mean)."""
    for name, flow in ctx.plan.flows.items():
        for i, row in enumerate(flow.map.rows if flow.map else []):
            for spec in row.transform:
                problem = transform_problem(spec)
                if problem:
                    yield ctx.finding(
                        "transform-unknown", Severity.ERROR, f"Row '{row.source} -> {row.target}': {problem}",
                        ("flows", name, "map", "rows", i),
                        f"Every {flow.entity} through flow {name} would fail to map and go to the dead letters.",
                        "Use a transform from the list (see docs/mapping.md).")


def check_advice(ctx: Context) -> Iterable[Finding]:
    """Advice: a deploy window, and flows that say which business use case they serve."""
    plan = ctx.plan
    if plan.deploy_window is None:
        yield ctx.finding(
            "deploy-window-missing", Severity.INFO, "No deploy window", ("name",),
            "Changes that go live during peak hours put the busiest sales at risk.",
            "Add `deploy_window: {days: [tue, wed], from: '02:00', to: '05:00', timezone: Europe/Berlin}`.")
    for name, flow in plan.flows.items():
        if not flow.use_case:
            yield ctx.finding(
                "use-case-missing", Severity.INFO, f"Flow {name} does not say which business use case it serves",
                ("flows", name), "Stakeholders sign off use cases, not flows.",
                "Add `use_case: <in business words>`.")


CHECKS: tuple[Callable[[Context], Iterable[Finding]], ...] = (
    check_transforms, check_ownership, check_conflicts, check_webhooks, check_failure_owners,
    check_reconciliation, check_status_tables, check_lag, check_matching, check_tests, check_slas,
    check_advice,
)

