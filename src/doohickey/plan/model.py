"""The Plan model: every key of ``integration.yaml`` as typed pydantic models.

The Plan is the single source of configuration and of the business rules:
Systems and their Connections, field-level Ownership, Flows (trigger, timing,
FieldMap, status table, conflict rule, failure policy), customer matching,
reconciliation, business SLAs, alert channels, named test cases and the deploy
window. Unknown keys are errors (``extra="forbid"``) so typos never pass
silently. Durations are written ``30s``, ``15m``, ``2h``, ``1d``.

Cross-references (a flow naming an undefined system, say) are checked in
``load.py`` where line numbers are known; risks are found by ``check.py``.
"""

from __future__ import annotations

import difflib
import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from doohickey.model import ENTITY_NAMES

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|hr|d|w)?\s*$")
_UNIT_SECONDS = {None: 1, "ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400,
                 "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """Parse ``30s`` / ``15m`` / ``2h`` / ``1d`` / ``1w`` / a number of seconds into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration; write it like 30s, 15m, 2h or 1d")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def format_duration(value: timedelta) -> str:
    """The shortest plan spelling of a duration (``90s`` -> ``90s``, ``900s`` -> ``15m``)."""
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class Strict(BaseModel):
    """Base of every plan model: unknown keys are errors; field names are the YAML keys."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SystemKind(StrEnum):
    """What role a System plays in the business."""

    STOREFRONT = "storefront"
    ERP = "erp"
    WMS = "wms"
    CRM = "crm"
    CARRIER = "carrier"
    MARKETING = "marketing"
    PAYMENTS = "payments"


class SecretRef(Strict):
    """Where a secret lives: an environment variable or a file. Never the value itself."""

    env: str | None = Field(None, description="Name of the environment variable holding the secret.")
    file: str | None = Field(None, description="Path of a file holding the secret (relative to the plan).")

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret reference names exactly one of env: or file:")
        return self

    def describe(self) -> str:
        """Where the secret is read from, for messages (never the value)."""
        return f"environment variable {self.env}" if self.env else f"file {self.file}"


SECRET_KEY = re.compile(r"(?i)(token|secret|password|passwd|api[_-]?key|private[_-]?key|client[_-]?secret|"
                        r"credentials?|auth)$")


class Connection(BaseModel):
    """A System's settings for one environment: endpoint, options, and secret *references*.

    Besides the named keys, any other key is a connector setting (``shop: acme``,
    ``api_version: 2025-10``) or a secret reference (``token: {env: SHOPIFY_TOKEN}``).
    A secret-looking key with a plain value is an inline secret, which is an error.
    """

    model_config = ConfigDict(extra="allow")

    twin: str | None = Field(None, description="Sandbox only: run this twin instead of a real endpoint.")
    url: str | None = Field(None, description="Base URL of the API.")
    seed: int | None = Field(None, description="Sandbox only: data seed for the twin.")
    faults: str | None = Field(None, description="Sandbox only: faults file for the twin.")

    def settings(self) -> dict[str, Any]:
        """Connector settings that are not secrets."""
        return {k: v for k, v in (self.model_extra or {}).items() if not isinstance(v, SecretRef)}

    def secrets(self) -> dict[str, SecretRef]:
        """Secret references by setting name."""
        return {k: v for k, v in (self.model_extra or {}).items() if isinstance(v, SecretRef)}

    @model_validator(mode="before")
    @classmethod
    def _secret_refs(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, value in data.items():
            if key in {"twin", "url", "seed", "faults"}:
                continue
            if isinstance(value, dict) and set(value) <= {"env", "file"}:
                out[key] = SecretRef.model_validate(value)
            elif isinstance(value, dict | list):
                raise ValueError(f"setting {key!r} must be a plain value or a secret reference ({{env: NAME}})")
        return out


class System(Strict):
    """One external system in the plan."""

    kind: SystemKind = Field(description="storefront, erp, wms, crm, carrier, marketing or payments.")
    connector: str = Field(description="Connector that talks to it (shopify, tryton, openapi, erp, wms ...).")
    description: str = ""
    owner: str | None = Field(None, description="Person or team responsible for this system.")
    profile: str | None = Field(None, description="Discovery profile (openapi connector).")
    sandbox: Connection | None = None
    production: Connection | None = None

    def connection(self, env: str) -> Connection | None:
        """The Connection for ``sandbox`` or ``production``."""
        return self.sandbox if env == "sandbox" else self.production


class Direction(StrEnum):
    """Whether a Flow writes one way or both ways."""

    ONE_WAY = "one-way"
    TWO_WAY = "two-way"


class Timing(StrEnum):
    """How fast a Flow promises to move changes."""

    REAL_TIME = "real-time"
    NEAR_REAL_TIME = "near-real-time"
    BATCH = "batch"


class Trigger(Strict):
    """What starts a Flow: webhook topics, a poll interval (the safety net), a schedule."""

    webhook: list[str] = Field(default_factory=list, description="Webhook topic(s) of the source system.")
    poll: Duration | None = Field(None, description="Poll the source for changes this often.")
    schedule: str | None = Field(None, description="Cron expression for batch flows (e.g. '0 2 * * *').")

    @field_validator("webhook", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _something(self) -> Trigger:
        if not (self.webhook or self.poll or self.schedule):
            raise ValueError("a trigger needs at least one of webhook, poll or schedule")
        return self


class MapRow(Strict):
    """One FieldMap row: ``from`` a source path ``to`` a target path, through named transforms."""

    source: str = Field(alias="from", description="Source path, dotted, [] for arrays: line_items[].sku")
    target: str = Field(alias="to", description="Target path: lines[].product_code")
    transform: list[str] = Field(default_factory=list, description="Named transform(s), applied in order.")
    default: Any = Field(None, description="Value used when the source is missing or empty.")
    note: str = ""

    @field_validator("transform", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value or []

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """Accept ``"source -> target | transform | transform"`` as a row."""
        if isinstance(data, str):
            left, arrow, rest = data.partition("->")
            if not arrow:
                raise ValueError(f"map row {data!r} needs 'source -> target'")
            target, *transforms = (part.strip() for part in rest.split("|"))
            return {"from": left.strip(), "to": target, "transform": transforms}
        return data


class FieldMapSpec(Strict):
    """A FieldMap: rows, and whether unmapped canonical fields pass through unchanged."""

    rows: list[MapRow] = Field(default_factory=list)
    passthrough: bool = Field(False, description="Copy fields no row mentions as they are (canonical to canonical).")
    file: Path | None = Field(None, exclude=True, description="Set when the map was read from a file.")


class StatusTable(Strict):
    """Translates a source status field's values into the target's status values.

    Shorthand: a plain mapping ``{paid: confirmed, refunded: cancelled}`` reads
    ``status`` and writes ``status``.
    """

    source: str = Field("status", alias="from", description="Source field holding the status.")
    target: str = Field("status", alias="to", description="Target field written.")
    values: dict[str, str] = Field(default_factory=dict, description="source value -> target value")
    default: str | None = Field(None, description="Target value for source values not in the table.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and not set(data) & {"from", "to", "values", "default", "source", "target"}:
            return {"values": data}
        return data


class ConflictRule(StrEnum):
    """Who wins when two systems changed the same shared field."""

    OWNER_WINS = "owner-wins"
    NEWEST = "newest"
    MANUAL_PROTECTED = "manual-protected"


class Conflict(Strict):
    """The conflict rule for fields both systems may change."""

    rule: ConflictRule = ConflictRule.OWNER_WINS
    fields: list[str] = Field(default_factory=list, description="Shared fields this rule covers (all if empty).")
    trusted_timestamp: str | None = Field(None, description="Field holding a timestamp both sides trust (newest).")
    protect_manual_edits: Duration | None = Field(None, description="Hand edits in the target win for this long.")


class Backoff(StrEnum):
    """How the wait grows between retries."""

    EXPONENTIAL = "exponential"
    LINEAR = "linear"
    FIXED = "fixed"


class FailurePolicy(Strict):
    """What happens when a change cannot be written: retries, dead letter, alert, owner, fallback."""

    retries: int = Field(5, ge=0, le=100)
    backoff: Backoff = Backoff.EXPONENTIAL
    initial_delay: Duration = Field(timedelta(seconds=2), description="Wait before the first retry.")
    max_delay: Duration = Field(timedelta(minutes=30), description="Longest wait between retries.")
    jitter: bool = True
    dead_letter: bool = True
    alert: str | None = Field(None, description="Alert channel name (see alerts:).")
    owner: str | None = Field(None, description="Named person or team who fixes failures of this flow.")
    fallback: str | None = Field(None, description="The manual fallback, in words.")


class Flow(Strict):
    """One declared sync of an Entity from one System to another."""

    entity: str
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    direction: Direction = Direction.ONE_WAY
    trigger: Trigger
    timing: Timing = Timing.NEAR_REAL_TIME
    acceptable_lag: Duration | None = None
    sla: str | None = Field(None, description="Name of an SLA in slas:, or the promise in words with 'within ...'.")
    description: str = ""
    map: FieldMapSpec | None = None
    status: StatusTable | None = Field(None, description="Status value table for this flow.")
    when: dict[str, list[str]] = Field(
        default_factory=dict, description="Only records whose field holds one of these values go through.")
    conflict: Conflict | None = None
    coalesce: Literal["latest", "none"] = "none"
    on_failure: FailurePolicy | None = None
    use_case: str | None = Field(None, description="The business use case this flow serves, in words.")
    _name: str = PrivateAttr("")

    @property
    def name(self) -> str:
        """The flow's key in ``flows:`` (set when the plan is validated; empty for a lone Flow)."""
        return self._name

    @field_validator("entity")
    @classmethod
    def _known_entity(cls, value: str) -> str:
        if value not in ENTITY_NAMES:
            close = difflib.get_close_matches(value, ENTITY_NAMES, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(f"unknown entity {value!r} ({hint}known: {', '.join(ENTITY_NAMES)})")
        return value

    @field_validator("map", mode="before")
    @classmethod
    def _map_file(cls, value: Any) -> Any:
        # A string is a file reference; load.py replaces it with the file's rows before validation.
        if isinstance(value, list):
            return {"rows": value}
        return value

    @field_validator("when", mode="before")
    @classmethod
    def _values_one_or_many(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("conflict", mode="before")
    @classmethod
    def _conflict_shorthand(cls, value: Any) -> Any:
        return {"rule": value} if isinstance(value, str) else value


class MatchRule(Strict):
    """One customer matching rule: an exact key, or fuzzy on name+address with a threshold."""

    key: Literal["email", "phone", "account_id", "fuzzy"]
    fields: list[str] = Field(default_factory=list, description="For fuzzy: the fields compared (name, address).")
    threshold: float = Field(1.0, ge=0, le=1)
    region: str | None = Field(None, description="For phone: default region for numbers without +country.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """Accept ``email`` / ``phone`` / ``{fuzzy: name+address, threshold: 0.92}``."""
        if isinstance(data, str):
            return {"key": data}
        if isinstance(data, dict) and "fuzzy" in data:
            rest = {k: v for k, v in data.items() if k != "fuzzy"}
            return {"key": "fuzzy", "fields": str(data["fuzzy"]).split("+"), "threshold": 0.9, **rest}
        return data


class Repair(StrEnum):
    """What reconciliation does about drift."""

    REPORT = "report"
    PUSH_OWNER = "push-owner"


class Reconciliation(Strict):
    """A scheduled comparison of one entity across two systems."""

    entity: str | None = Field(None, description="Entity compared; defaults to the key's singular (orders -> order).")
    between: list[str] = Field(min_length=2, max_length=2, description="The two systems, owner first.")
    every: Duration | None = None
    owner: str | None = None
    alert: str | None = None
    tolerance: float | dict[str, float] = 0
    repair: Repair = Repair.REPORT
    fields: list[str] = Field(default_factory=list, description="Fields compared (all mapped fields if empty).")
    grace: Duration | None = Field(None, description="Records younger than this are not yet 'missing'.")


class Sla(Strict):
    """A business promise with its measurable form."""

    use_case: str = Field(description="The promise in business words.")
    flow: str | None = Field(None, description="Flow whose lag is measured (plan check reports a promise no flow "
                                                "feeds).")
    within: Duration = Field(description="Maximum time from change in the source to written in the target.")
    target: float = Field(1.0, gt=0, le=1, description="Share of records that must meet it (0.99 = 99%).")
    owner: str | None = None
    alert: str | None = None


class AlertChannel(Strict):
    """Where alerts go: email addresses and/or a webhook (Slack-compatible JSON)."""

    email: list[str] = Field(default_factory=list)
    webhook: str | None = None
    webhook_secret: SecretRef | None = None
    owner: str | None = None
    throttle: Duration = Field(timedelta(minutes=15), description="At most one alert per problem this often.")

    @field_validator("email", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _somewhere(self) -> AlertChannel:
        if not self.email and not self.webhook:
            raise ValueError("an alert channel needs email or webhook")
        return self


class TestCase(Strict):
    """A named test case, tied to a business use case; its scenario defaults to its name."""

    __test__ = False  # not a pytest class

    name: str
    use_case: str | None = None
    scenario: str | None = None
    flow: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    faults: list[dict[str, Any]] = Field(default_factory=list)
    expect: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data


class DeployWindow(Strict):
    """When changes may go live: off-peak days and hours in a time zone."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(default_factory=list)
    start: str = Field(alias="from", pattern=r"^\d{2}:\d{2}$")
    end: str = Field(alias="to", pattern=r"^\d{2}:\d{2}$")
    timezone: str = "UTC"


class Runtime(Strict):
    """How `doohickey run` runs this plan: the store and the HTTP surface."""

    store: str | None = Field(None, description="sqlite:///path (default .doohickey/state.sqlite) or postgresql://...")
    workers: int = Field(1, ge=1, le=64)
    listen: str = Field("127.0.0.1:8765", description="Address of the webhook endpoints and dashboard.")


class Plan(Strict):
    """The parsed ``integration.yaml``."""

    name: str
    description: str = ""
    version: int = 1
    systems: dict[str, System]
    ownership: dict[str, str | list[str]] = Field(
        default_factory=dict, description="entity or entity.field -> owning system (a list means disputed).")
    flows: dict[str, Flow] = Field(default_factory=dict)
    matching: dict[str, list[MatchRule]] = Field(default_factory=dict)
    reconcile: dict[str, Reconciliation] = Field(default_factory=dict)
    slas: dict[str, Sla] = Field(default_factory=dict)
    alerts: dict[str, AlertChannel] = Field(default_factory=dict)
    tests: list[TestCase] = Field(default_factory=list)
    deploy_window: DeployWindow | None = None
    runtime: Runtime = Field(default_factory=Runtime)
    path: Path | None = Field(None, exclude=True, description="File the plan was read from.")

    @model_validator(mode="after")
    def _name_flows(self) -> Plan:
        for name, flow in self.flows.items():
            flow._name = name
        return self

    def owner_of(self, entity: str, field: str | None = None) -> list[str]:
        """The owning system(s) of ``entity.field``, falling back to the entity's default owner."""
        for key in ((f"{entity}.{field}",) if field else ()) + (entity,):
            if key in self.ownership:
                value = self.ownership[key]
                return [value] if isinstance(value, str) else list(value)
        return []

    def reconcile_entity(self, key: str) -> str:
        """The entity a reconcile entry compares (``orders`` -> ``order``)."""
        rec = self.reconcile[key]
        return rec.entity or (key[:-1] if key.endswith("s") and key[:-1] in ENTITY_NAMES else key)
