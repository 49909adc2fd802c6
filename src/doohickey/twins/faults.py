"""Faults: what can go wrong with a System's API, injected into twins deterministically.

A :class:`Fault` describes one kind of trouble (an outage window, a 429 storm, a
lost webhook, ...) and where and when it applies. A :class:`FaultSet` holds the
faults of one twin, decides under its seed (``random.Random(seed)``) and its
injected clock whether a request or webhook delivery is hit, and keeps a ``log``
of every fault actually applied so a test can assert what was injected.

:class:`FaultMiddleware` is a pure ASGI middleware that applies request faults to
any twin app (never to the twin's own ``/_twin/*`` admin paths).

Faults file (YAML)::

    seed: 7
    faults:
      - {kind: outage, start: 10, end: 40, paths: ["/admin/*"]}
      - {kind: rate_limit, rate: 0.2, seconds: 2}
      - {kind: webhook_duplicate, topics: ["orders/create"], count: 3}
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fnmatch
import json
import math
import random
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.errors import DoohickeyError

REQUEST_KINDS = ("outage", "maintenance", "error_rate", "rate_limit", "latency", "timeout", "malformed")
WEBHOOK_KINDS = ("webhook_duplicate", "webhook_delay", "webhook_reorder", "webhook_loss")

FaultKind = Literal[
    "outage", "maintenance", "error_rate", "rate_limit", "latency", "timeout", "malformed",
    "webhook_duplicate", "webhook_delay", "webhook_reorder", "webhook_loss",
]

# Default seconds per kind where ``seconds`` is not given: Retry-After, added delay, hang time.
_DEFAULT_SECONDS = {
    "outage": 5.0, "maintenance": 60.0, "rate_limit": 2.0, "latency": 0.5, "timeout": 30.0,
    "webhook_delay": 5.0,
}


class FaultFileError(DoohickeyError):
    """A faults file or a fault given at run time is invalid."""


class Fault(BaseModel):
    """One injectable fault.

    ``start``/``end`` are seconds after the twin started, or ISO-8601 times; an
    absent bound is open. ``rate`` is the chance (0..1) that a matching request or
    delivery is hit; ``count`` limits the fault to the next N hits. ``paths`` are
    globs of request paths; ``topics`` globs of webhook topics. ``seconds`` is the
    Retry-After, added latency, hang time or webhook delay, by kind.
    """

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    start: float | dt.datetime | None = None
    end: float | dt.datetime | None = None
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    paths: list[str] = Field(default_factory=lambda: ["*"])
    methods: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=lambda: ["*"])
    count: int | None = Field(default=None, ge=1)
    seconds: float | None = Field(default=None, ge=0.0)
    status: int | None = Field(default=None, ge=100, le=599)
    message: str = ""

    @field_validator("paths", "topics", "methods", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value

    def wait(self) -> float:
        """The seconds this fault uses (Retry-After, latency, hang, delay), with the kind's default."""
        return self.seconds if self.seconds is not None else _DEFAULT_SECONDS.get(self.kind, 1.0)


class FaultFile(BaseModel):
    """The content of a faults file: the faults and an optional seed."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = None
    faults: list[Fault] = Field(default_factory=list)


def load_fault_file(path: str | Path) -> FaultFile:
    """Read a YAML faults file (``faults: [...]`` plus optional ``seed:``); errors name the file and entry."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FaultFileError(f"{path}: cannot read the faults file ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise FaultFileError(f"{path}: not valid YAML: {exc}") from None
    if raw is None:
        return FaultFile()
    if isinstance(raw, list):
        raw = {"faults": raw}
    if not isinstance(raw, dict):
        raise FaultFileError(f"{path}: expected a mapping with a 'faults:' list, found {type(raw).__name__}")
    try:
        return FaultFile.model_validate(raw)
    except ValidationError as exc:
        raise FaultFileError(f"{path}: {describe_validation(exc)}") from None


def load_faults(path: str | Path) -> list[Fault]:
    """The faults of a YAML faults file (see :func:`load_fault_file`)."""
    return load_fault_file(path).faults


def parse_faults(data: Any) -> list[Fault]:
    """Faults from JSON-like data: one fault object, a list, or ``{"faults": [...]}``."""
    if isinstance(data, dict) and "faults" in data:
        data = data["faults"]
    items = data if isinstance(data, list) else [data]
    faults = []
    for index, item in enumerate(items):
        try:
            faults.append(Fault.model_validate(item))
        except ValidationError as exc:
            raise FaultFileError(f"faults[{index}]: {describe_validation(exc)}") from None
    return faults


def describe_validation(exc: ValidationError) -> str:
    """One line per problem: ``faults[2].kind: Input should be 'outage', ...``."""
    parts = []
    for err in exc.errors():
        where = ""
        for loc in err["loc"]:
            where += f"[{loc}]" if isinstance(loc, int) else (f".{loc}" if where else str(loc))
        parts.append(f"{where or 'value'}: {err['msg']}")
    return "; ".join(parts)


@dataclass(frozen=True)
class WebhookAction:
    """What to do to one webhook delivery: ``duplicate`` (send ``copies`` times), ``delay`` (``seconds``),
    ``reorder`` (hold it until the next delivery has gone), ``loss`` (never send it)."""

    kind: Literal["duplicate", "delay", "reorder", "loss"]
    seconds: float = 0.0
    copies: int = 2


class FaultSet:
    """The faults of one twin, decided deterministically under ``seed`` and ``clock``; thread-safe."""

    def __init__(self, faults: list[Fault] | tuple[Fault, ...] = (), seed: int = 0, clock: Clock | None = None) -> None:
        self.clock = clock or SYSTEM_CLOCK
        self.seed = seed
        self.started_at = self.clock.now()
        self.log: list[dict[str, Any]] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._left: list[int | None] = []
        for fault in faults:
            self.add(fault)

    @property
    def faults(self) -> list[Fault]:
        """The faults currently set (a copy)."""
        with self._lock:
            return list(self._faults)

    def add(self, fault: Fault) -> None:
        """Add a fault; it applies from now on, within its own window."""
        with self._lock:
            self._faults.append(fault)
            self._left.append(fault.count)

    def clear(self) -> None:
        """Remove every fault (the log stays)."""
        with self._lock:
            self._faults.clear()
            self._left.clear()

    def elapsed(self) -> float:
        """Seconds since the twin started, on the injected clock."""
        return (self.clock.now() - self.started_at).total_seconds()

    def active(self, fault: Fault) -> bool:
        """Whether ``fault``'s time window contains now."""
        now = self.clock.now()
        elapsed = (now - self.started_at).total_seconds()
        started = fault.start is None or _reached(fault.start, now, elapsed)
        ended = fault.end is not None and _reached(fault.end, now, elapsed)
        return started and not ended

    def seconds_left(self, fault: Fault) -> float | None:
        """Seconds until ``fault``'s window ends, or None when it has no end."""
        if fault.end is None:
            return None
        if isinstance(fault.end, dt.datetime):
            return max((fault.end - self.clock.now()).total_seconds(), 0.0)
        return max(fault.end - self.elapsed(), 0.0)

    def decide_request(self, method: str, path: str) -> Fault | None:
        """The request fault to apply to ``method path``, or None; an applied fault is logged."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.kind not in REQUEST_KINDS or not self._matches_request(index, fault, method, path):
                    continue
                if fault.rate < 1.0 and self._random.random() >= fault.rate:
                    continue
                self._spend(index)
                self._record(fault.kind, f"{method} {path}", _detail(fault))
                return fault
        return None

    def decide_webhook(self, topic: str) -> list[WebhookAction]:
        """The actions to apply to one delivery of ``topic`` (empty: deliver normally); each is logged."""
        actions: list[WebhookAction] = []
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.kind not in WEBHOOK_KINDS or self._left[index] == 0 or not self.active(fault):
                    continue
                if not any(fnmatch.fnmatchcase(topic, pattern) for pattern in fault.topics):
                    continue
                if fault.rate < 1.0 and self._random.random() >= fault.rate:
                    continue
                self._spend(index)
                action = _webhook_action(fault)
                actions.append(action)
                self._record(fault.kind, topic, _detail(fault))
        return actions

    def note(self, kind: str, path_or_topic: str, detail: str = "") -> None:
        """Add a log entry for something a twin did because of a fault (e.g. a held delivery released)."""
        with self._lock:
            self._record(kind, path_or_topic, detail)

    def snapshot(self) -> dict[str, Any]:
        """The faults and seed as JSON-ready data (what ``GET /_twin/faults`` returns)."""
        with self._lock:
            faults = [
                {**fault.model_dump(mode="json", exclude_none=True), "left": left}
                for fault, left in zip(self._faults, self._left, strict=True)
            ]
        return {"seed": self.seed, "elapsed": round(self.elapsed(), 3), "faults": faults}

    def _matches_request(self, index: int, fault: Fault, method: str, path: str) -> bool:
        if self._left[index] == 0 or not self.active(fault):
            return False
        if fault.methods and method.upper() not in {m.upper() for m in fault.methods}:
            return False
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in fault.paths)

    def _spend(self, index: int) -> None:
        left = self._left[index]
        if left is not None:
            self._left[index] = left - 1

    def _record(self, kind: str, path_or_topic: str, detail: str) -> None:
        at = self.clock.now().astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        self.log.append({"at": at, "kind": kind, "path_or_topic": path_or_topic, "detail": detail})


def _reached(bound: float | dt.datetime, now: dt.datetime, elapsed: float) -> bool:
    """Whether now is at or after ``bound`` (a time, or seconds after the twin started)."""
    if isinstance(bound, dt.datetime):
        return now >= bound
    return elapsed >= bound


def _detail(fault: Fault) -> str:
    bits = [f"{key}={value}" for key, value in (("seconds", fault.seconds), ("status", fault.status)) if value]
    if fault.message:
        bits.append(fault.message)
    return " ".join(bits)


def _webhook_action(fault: Fault) -> WebhookAction:
    if fault.kind == "webhook_duplicate":
        return WebhookAction("duplicate")
    if fault.kind == "webhook_delay":
        return WebhookAction("delay", seconds=fault.wait())
    if fault.kind == "webhook_reorder":
        return WebhookAction("reorder")
    return WebhookAction("loss")


# ---------------------------------------------------------------- ASGI middleware

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

THROTTLED_BODY = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}


class FaultMiddleware:
    """Applies a :class:`FaultSet`'s request faults to an ASGI app.

    ``graphql_paths`` are globs of paths where a rate-limit fault answers as a
    GraphQL API does (a ``THROTTLED`` error, HTTP 200 unless the fault sets
    ``status``) instead of HTTP 429. Paths under ``/_twin/`` are never faulted.
    """

    def __init__(self, app: ASGIApp, faultset: FaultSet, *, graphql_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.faultset = faultset
        self.graphql_paths = graphql_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == "/_twin" or path.startswith("/_twin/"):
            await self.app(scope, receive, send)
            return
        fault = self.faultset.decide_request(scope.get("method", "GET"), path)
        if fault is None:
            await self.app(scope, receive, send)
            return
        await self._apply(fault, scope, receive, send)

    async def _apply(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        kind = fault.kind
        if kind == "latency":
            await self.faultset.clock.sleep(fault.wait())
            await self.app(scope, receive, send)
        elif kind == "outage":
            await _send_json(send, fault.status or 503, {"errors": fault.message or "Service Unavailable"},
                             retry_after=fault.wait(), kind=kind)
        elif kind == "maintenance":
            left = self.faultset.seconds_left(fault)
            message = fault.message or "This API is down for scheduled maintenance. Please try again later."
            await _send_json(send, fault.status or 503, {"errors": message},
                             retry_after=left if left is not None else fault.wait(), kind=kind)
        elif kind == "error_rate":
            await _send_json(send, fault.status or 500,
                             {"errors": fault.message or "Internal Server Error"}, kind=kind)
        elif kind == "rate_limit":
            await self._rate_limited(fault, scope, send)
        elif kind == "timeout":
            await _hang_then_drop(fault.wait(), receive, send)
        else:  # malformed
            await _truncated(self.app, scope, receive, send)

    async def _rate_limited(self, fault: Fault, scope: Scope, send: Send) -> None:
        path = scope.get("path", "")
        if any(fnmatch.fnmatchcase(path, pattern) for pattern in self.graphql_paths):
            await _send_json(send, fault.status or 200, THROTTLED_BODY, kind="rate_limit")
            return
        message = fault.message or "Exceeded 2 calls per second for api client. Reduce request rates to resume."
        await _send_json(send, fault.status or 429, {"errors": message}, retry_after=fault.wait(), kind="rate_limit")


async def _send_json(send: Send, status: int, body: Any, *, retry_after: float | None = None, kind: str) -> None:
    raw = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(raw)).encode()),
               (b"x-twin-fault", kind.encode())]
    if retry_after is not None:
        # Retry-After is whole seconds on the wire (RFC 9110); round up so clients never come back early.
        headers.append((b"retry-after", str(max(1, math.ceil(retry_after))).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


async def _hang_then_drop(seconds: float, receive: Receive, send: Send) -> None:
    """Hang until the client gives up (disconnects) or ``seconds`` pass, then drop the connection mid-response."""

    async def wait_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(wait_disconnect(), timeout=seconds)
        return
    except TimeoutError:
        pass
    # A declared length longer than the body sent makes the server close the connection: the client sees it cut.
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
    await send({"type": "http.response.body", "body": b'{"data": {', "more_body": True})


async def _truncated(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run the app (its side effects happen), then send only the first half of its body: not valid JSON."""
    start: Message = {}
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    body = b"".join(chunks)
    cut = body[: max(1, len(body) // 2)] if body else b'{"data": '
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    headers += [(b"content-length", str(len(cut)).encode()), (b"x-twin-fault", b"malformed")]
    await send({"type": "http.response.start", "status": start.get("status", 200), "headers": headers})
    await send({"type": "http.response.body", "body": cut})
