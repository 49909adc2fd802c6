"""The Connector declaration: what every product connector exports, as plain values.

A connector is one folder (``connectors/<name>/``) whose ``__init__`` exports one
:class:`Connector` value named ``CONNECTOR``, plus one line in
``connectors/__init__.py``'s registry. It declares its entities (what can be read,
which write actions exist, the natural key, the cursor field, what each depends
on), its webhook verification and parsing, its pacing, and the name of its twin.
The shared conformance suite (``doohickey.testing.conformance``) tests any
connector from this declaration alone.

Records carry canonical data (``doohickey.model`` dicts) for dedicated connectors;
the generic ``openapi`` connector carries the native payload. I/O is async
(httpx), so one engine process keeps many writes in flight.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import httpx

from doohickey.clock import SYSTEM_CLOCK, Clock


def fingerprint(data: Mapping[str, Any]) -> str:
    """A stable content hash of a payload (key order and whitespace do not matter)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Record:
    """One payload read from or written to a System.

    ``version`` orders the states of one record (an ``updated_at`` ISO time or a
    version counter, compared as text after zero-padding by the connector);
    ``data`` is the canonical dict (or the native one for generic connectors).
    """

    system: str
    entity: str
    external_id: str
    data: dict[str, Any]
    version: str = ""
    updated_at: datetime | None = None

    @property
    def fingerprint(self) -> str:
        """Content hash of ``data``: used for echo suppression and reconciliation."""
        return fingerprint(self.data)


@dataclass(frozen=True)
class Page:
    """One page of a read; ``next_cursor`` is opaque and ``None`` on the last page."""

    records: list[Record]
    next_cursor: str | None = None


@dataclass(frozen=True)
class WriteRequest:
    """One write to a System: an ``action`` the entity declares, on canonical ``data``.

    ``external_id`` is set for updates and actions on an existing record;
    ``idempotency_key`` is sent where the API supports one, so a retried create
    cannot make a second record.
    """

    entity: str
    action: str
    data: dict[str, Any]
    external_id: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class WriteResult:
    """What the System answered to a write: its id for the record and what it now holds."""

    external_id: str
    version: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class Client(Protocol):
    """A live connection to one System (one Connection). Every method may raise a ConnectorError."""

    async def check(self) -> None:
        """Make one cheap authenticated call; raise AuthError or TransientError with a clear message."""
        ...

    async def read(
        self, entity: str, *, since: datetime | None = None, cursor: str | None = None, limit: int = 100
    ) -> Page:
        """Read one page of records changed at or after ``since`` (all when ``None``), oldest first."""
        ...

    async def get(self, entity: str, external_id: str) -> Record | None:
        """Read one record by its external id, or ``None`` if it does not exist."""
        ...

    async def find(self, entity: str, key: Mapping[str, str]) -> list[Record]:
        """Find records by natural key fields (``{"sku": "A-1"}``, ``{"email": "x@y"}``)."""
        ...

    async def write(self, request: WriteRequest) -> WriteResult:
        """Perform one write action; raise RejectedError with the API's own message when refused."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class Pacer(Protocol):
    """A per-Connection budget. Clients call ``acquire`` before each request and ``observe`` after.

    Implementations follow the API's own signals (throttle status, call-limit
    headers, Retry-After, concurrency caps); the engine may share one budget
    across workers.
    """

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until ``cost`` units may be spent."""
        ...

    def observe(self, *, available: float | None = None, limit: float | None = None,
                restore_rate: float | None = None, retry_after: float | None = None) -> None:
        """Adjust the budget from what the API reported with its last answer."""
        ...

    def release(self) -> None:
        """Give back a concurrency slot taken by ``acquire`` (no-op for rate budgets)."""
        ...


@dataclass(frozen=True)
class Secret:
    """A resolved secret value that never prints itself."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        """The value, for the one place that must send it."""
        return self._value

    def __str__(self) -> str:
        return "***"


@dataclass(frozen=True)
class ConnectionSettings:
    """A System's settings for one environment, with secrets resolved (but never printable)."""

    system: str
    url: str
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ConnectOptions:
    """What the caller injects into a Client: transport (tests, in-process twins), clock, pacer."""

    transport: httpx.AsyncBaseTransport | None = None
    clock: Clock = SYSTEM_CLOCK
    pacer: Pacer | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class EntitySpec:
    """What a connector can do with one Entity.

    ``key`` is the natural key used to find an existing record before creating one
    (``sku``, ``email``, ``number``); ``cursor`` the field polled on;
    ``depends_on`` the entities that must be bound first (an order needs its
    customer and its variants).
    """

    name: str
    read: bool = True
    actions: tuple[str, ...] = ()
    key: str = "id"
    cursor: str = "updated_at"
    depends_on: tuple[str, ...] = ()
    webhook_topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebhookDelivery:
    """One verified webhook delivery, parsed: its ids (for dedupe) and the records it announces."""

    topic: str
    delivery_id: str
    event_id: str
    triggered_at: datetime | None
    records: list[Record]


@dataclass(frozen=True)
class WebhookSpec:
    """How a System signs and shapes its webhooks.

    ``verify(headers, body, secret)`` must compare in constant time;
    ``parse(headers, body)`` raises ValueError with a clear message on a malformed body.
    """

    verify: Callable[[Mapping[str, str], bytes, str], bool]
    parse: Callable[[Mapping[str, str], bytes], WebhookDelivery]
    signature_header: str
    secret_name: str = "webhook_secret"


@dataclass(frozen=True)
class PacingSpec:
    """The API's published limits: a request or cost budget, and/or a concurrency cap."""

    kind: Literal["requests", "cost", "concurrency", "none"] = "requests"
    rate: float = 10.0
    burst: float = 40.0
    max_concurrency: int | None = None


@dataclass(frozen=True)
class SettingSpec:
    """One setting a Connection needs, explained for `doohickey auth setup`."""

    name: str
    description: str
    secret: bool = False
    required: bool = True


@dataclass(frozen=True)
class Connector:
    """The one value a connector package exports."""

    name: str
    kind: str
    description: str
    entities: Mapping[str, EntitySpec]
    connect: Callable[[ConnectionSettings, ConnectOptions], Client]
    pacing: PacingSpec = PacingSpec()
    webhooks: WebhookSpec | None = None
    twin: str | None = None
    settings: tuple[SettingSpec, ...] = ()
