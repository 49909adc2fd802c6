"""The shared HTTP helper every connector uses: one session per Connection, pacing, the error table, short retries.

:class:`HttpSession` wraps an ``httpx.AsyncClient`` built from a
:class:`~doohickey.connectors.spec.ConnectionSettings` and the injected
:class:`~doohickey.connectors.spec.ConnectOptions` (transport, timeout, clock,
pacer). Every request goes ``pacer.acquire(cost)`` -> send -> ``pacer.observe(...)``
-> ``pacer.release()``, and every failure becomes one of :mod:`doohickey.errors`:

=====================================  ==================================================
what happened                          error raised
=====================================  ==================================================
400, 422                               RejectedError with the API's own message
401, 403                               AuthError
404                                    NotFoundError (or ``None`` when ``missing_ok``)
409 and other 4xx                      RejectedError
429                                    RateLimited, ``retry_after`` from Retry-After
503                                    Unavailable, ``retry_after`` from Retry-After
other 5xx, timeout, connection error   TransientError
a body that is not valid JSON          TransientError (the write may have happened)
=====================================  ==================================================

Messages name the System and say what it said; known secret values are redacted
from every message and detail.

Transient errors are retried **inside the call** only briefly (a few attempts
within a small time budget, honouring Retry-After): the engine does the long,
durable retries. A request marked ``safe=False`` (a write that is not
idempotent) is retried only when the System surely did not act on it: 429, 503,
and a refused connection. After a 500, a timeout or a cut body the write may have
happened, so the error goes up to the engine, which looks the record up by its
natural key before trying again.

:class:`TokenBucketPacer` is a small local :class:`~doohickey.connectors.spec.Pacer`
(rate, burst, concurrency cap) that follows what the API reports through ``observe``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.connectors.spec import ConnectionSettings, ConnectOptions, Pacer, PacingSpec
from doohickey.errors import (
    AuthError,
    ConnectorError,
    NotFoundError,
    RateLimited,
    RejectedError,
    TransientError,
    Unavailable,
    redact,
)

MessageOf = Callable[[Any], str]
"""Pulls the API's own words out of a parsed error body (may raise on unexpected shapes)."""

Inspect = Callable[[Any, httpx.Response], None]
"""Looks at a 2xx JSON body; raises a ConnectorError when the body itself reports a failure (GraphQL errors)."""


@dataclass(frozen=True)
class RetryBudget:
    """How hard one call tries before handing a transient error to the engine.

    ``attempts`` counts the first try; ``seconds`` caps the total waiting; a wait the
    API asks for (Retry-After) longer than what is left ends the call at once.
    """

    attempts: int = 3
    seconds: float = 10.0
    backoff: float = 0.25


NO_RETRY = RetryBudget(attempts=1, seconds=0.0)


def retry_after_seconds(response: httpx.Response, now: dt.datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max((when - (now or dt.datetime.now(dt.UTC))).total_seconds(), 0.0)


def default_message(body: Any) -> str:
    """The API's words from common error body shapes: ``errors`` (string, list or dict), ``message``, ``detail``."""
    if isinstance(body, str):
        return body
    if not isinstance(body, dict):
        return ""
    for key in ("errors", "error", "message", "detail", "title"):
        if body.get(key):
            return _words(body[key])
    return ""


def _words(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(filter(None, (_words(v) for v in value)))
    if isinstance(value, dict):
        if "message" in value:
            return _words(value["message"])
        return "; ".join(f"{k}: {_words(v)}" for k, v in value.items())
    return str(value)


def error_for(system: str, status: int, said: str, *, what: str = "", retry_after: float | None = None,
              detail: str = "") -> ConnectorError:
    """The error for an HTTP ``status`` from ``system``, whose own words were ``said`` (the error table)."""
    said = said or f"HTTP {status}"
    where = f" to {what}" if what else ""
    kw: dict[str, Any] = {"system": system, "status": status, "detail": detail}
    if status in (401, 403):
        return AuthError(f"{system} refused the credentials{where} (HTTP {status}): {said}", **kw)
    if status == 404:
        return NotFoundError(f"{system} has no such record{where}: {said}", **kw)
    if status == 429:
        return RateLimited(f"{system} is rate limiting us{where}: {said}", retry_after=retry_after, **kw)
    if status == 503:
        return Unavailable(f"{system} is unavailable{where}: {said}", retry_after=retry_after, **kw)
    if status >= 500:
        return TransientError(f"{system} failed{where} (HTTP {status}): {said}", **kw)
    return RejectedError(f"{system} rejected the request{where} (HTTP {status}): {said}", **kw)


class HttpSession:
    """One Connection's HTTP session: base URL, auth headers, pacer, error table and short retries."""

    def __init__(self, settings: ConnectionSettings, options: ConnectOptions, *, base_url: str | None = None,
                 headers: Mapping[str, str] | None = None, message_of: MessageOf = default_message,
                 retry: RetryBudget = RetryBudget()) -> None:
        self.system = settings.system
        self.options = options
        self.clock: Clock = options.clock
        self.pacer: Pacer | None = options.pacer
        self.message_of = message_of
        self.retry = retry
        self.secrets = tuple(s.reveal() for s in settings.secrets.values())
        self.client = httpx.AsyncClient(base_url=(base_url or settings.url).rstrip("/"), headers=dict(headers or {}),
                                        timeout=options.timeout, transport=options.transport)

    async def call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json_body: Any = None,
                   headers: Mapping[str, str] | None = None, cost: float | Callable[[], float] = 1.0,
                   safe: bool | None = None, missing_ok: bool = False, inspect: Inspect | None = None,
                   inspect_status: tuple[int, ...] = (), what: str = "") -> Any:
        """Send one request and return its parsed JSON body (None for an empty body, or a 404 when ``missing_ok``).

        ``cost`` is what the pacer is asked for (a callable is asked again before each retry,
        as the API may have told us more). ``safe`` says whether repeating the request is
        harmless (default: GET/HEAD/PUT/DELETE are, POST/PATCH are not). ``inspect`` may raise
        on a 2xx body that reports a failure, and sees the JSON body of the error statuses in
        ``inspect_status`` first (a GraphQL API's THROTTLED under HTTP 429, say). ``what``
        names the business action for messages ("read orders").
        """
        safe = method.upper() in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS") if safe is None else safe
        started = self.clock.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._once(method, path, params, json_body, headers, cost, missing_ok,
                                        inspect, inspect_status, what)
            except TransientError as exc:
                wait = self._retry_wait(exc, attempt, safe, self.clock.monotonic() - started)
                if wait is None:
                    raise
                await self.clock.sleep(wait)

    def _retry_wait(self, exc: TransientError, attempt: int, safe: bool, spent: float) -> float | None:
        """Seconds to wait before trying again, or None to hand the error to the caller."""
        if attempt >= self.retry.attempts:
            return None
        asked = getattr(exc, "retry_after", None)
        acted_on = not isinstance(exc, RateLimited | Unavailable) and not getattr(exc, "not_sent", False)
        if not safe and acted_on:
            return None
        wait = asked if asked is not None else self.retry.backoff * 2 ** (attempt - 1)
        if spent + wait > self.retry.seconds:
            return None
        return wait

    async def _once(self, method: str, path: str, params: Mapping[str, Any] | None, json_body: Any,
                    headers: Mapping[str, str] | None, cost: float | Callable[[], float], missing_ok: bool,
                    inspect: Inspect | None, inspect_status: tuple[int, ...], what: str) -> Any:
        if self.pacer is not None:
            await self.pacer.acquire(cost() if callable(cost) else cost)
        try:
            response = await self._send(method, path, params, json_body, headers, what)
        finally:
            if self.pacer is not None:
                self.pacer.release()
        status = response.status_code
        wait = retry_after_seconds(response, self.clock.now())
        if self.pacer is not None and status in (429, 503) and wait is not None:
            self.pacer.observe(retry_after=wait)
        if status == 404 and missing_ok:
            return None
        if status in inspect_status and inspect is not None:
            self._inspect_error(response, inspect)
        if status >= 400:
            raise self._error(response, wait, what)
        if status == 204 or not response.content:
            return None
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise TransientError(
                self._redact(f"{self.system} answered{_to(what)} with a body that is not valid JSON "
                             f"(HTTP {status}, {len(response.content)} bytes)"),
                system=self.system, status=status, detail=self._redact(response.text[:300])) from None
        if inspect is not None:
            inspect(body, response)
        return body

    async def _send(self, method: str, path: str, params: Mapping[str, Any] | None, json_body: Any,
                    headers: Mapping[str, str] | None, what: str) -> httpx.Response:
        try:
            return await self.client.request(method, path, params=_clean(params), json=json_body,
                                             headers=dict(headers) if headers else None)
        except httpx.TimeoutException as exc:
            error = TransientError(f"{self.system} did not answer{_to(what)} within {self.options.timeout:g} s",
                                   system=self.system, detail=f"{method} {path}: {type(exc).__name__}")
            error.not_sent = isinstance(exc, httpx.ConnectTimeout)  # type: ignore[attr-defined]
            raise error from None
        except httpx.TransportError as exc:
            error = TransientError(
                self._redact(f"could not reach {self.system}{_to(what)}: {type(exc).__name__} {exc}".rstrip()),
                system=self.system, detail=self._redact(f"{method} {path}: {exc!r}"))
            error.not_sent = isinstance(exc, httpx.ConnectError)  # type: ignore[attr-defined]
            raise error from None

    @staticmethod
    def _inspect_error(response: httpx.Response, inspect: Inspect) -> None:
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return
        inspect(body, response)

    def _error(self, response: httpx.Response, wait: float | None, what: str) -> ConnectorError:
        try:
            said = self.message_of(response.json())
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, IndexError, TypeError, AttributeError):
            said = response.text[:200].strip() if response.text and "<" not in response.text[:1] else ""
        said = self._redact(said or response.reason_phrase or "")
        request = response.request
        detail = self._redact(f"{request.method} {request.url.path} -> {response.status_code}: {response.text[:500]}")
        return error_for(self.system, response.status_code, said, what=what, retry_after=wait, detail=detail)

    def _redact(self, text: str) -> str:
        return redact(text, self.secrets)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()


def _to(what: str) -> str:
    return f" to {what}" if what else ""


def _clean(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None}


class TokenBucketPacer:
    """A local Pacer: a token bucket of ``burst`` units refilled at ``rate`` per second, plus a concurrency cap.

    ``observe`` follows the API: a reported ``available`` replaces the local count,
    ``limit`` and ``restore_rate`` resize the bucket, ``retry_after`` holds every
    caller until that time has passed. Time comes from the injected clock.
    """

    def __init__(self, rate: float = 10.0, burst: float = 40.0, *, max_concurrency: int | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError(f"a pacer needs a positive rate and burst (got rate={rate}, burst={burst})")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = burst
        self.blocked_until = 0.0
        self._stamp = clock.monotonic()
        self._slots = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        self._lock = asyncio.Lock()
        self.waited = 0.0
        """Total seconds callers were held: a measure of how close to the limit we run."""

    @classmethod
    def from_spec(cls, spec: PacingSpec, clock: Clock = SYSTEM_CLOCK) -> TokenBucketPacer | None:
        """The pacer a connector's published limits call for (None for ``kind="none"``)."""
        if spec.kind == "none":
            return None
        return cls(spec.rate, spec.burst, max_concurrency=spec.max_concurrency, clock=clock)

    def _refill(self) -> None:
        now = self.clock.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait for a concurrency slot, then until ``cost`` units (at most the bucket size) are there."""
        if self._slots is not None:
            await self._slots.acquire()
        try:
            async with self._lock:
                await self._wait_for(min(max(cost, 0.0), self.burst))
        except BaseException:
            self.release()
            raise

    async def _wait_for(self, cost: float) -> None:
        while True:
            self._refill()
            hold = self.blocked_until - self.clock.monotonic()
            if hold <= 0 and self.tokens >= cost:
                self.tokens -= cost
                return
            wait = max(hold, (cost - self.tokens) / self.rate, 0.001)
            self.waited += wait
            await self.clock.sleep(wait)

    def observe(self, *, available: float | None = None, limit: float | None = None,
                restore_rate: float | None = None, retry_after: float | None = None) -> None:
        """Adjust the bucket to what the API reported with its last answer."""
        self._refill()
        if limit is not None and limit > 0:
            self.burst = float(limit)
        if restore_rate is not None and restore_rate > 0:
            self.rate = float(restore_rate)
        if available is not None:
            self.tokens = min(float(available), self.burst)
        if retry_after is not None and retry_after > 0:
            self.blocked_until = max(self.blocked_until, self.clock.monotonic() + retry_after)

    def release(self) -> None:
        """Give back the concurrency slot taken by ``acquire``."""
        if self._slots is not None:
            self._slots.release()
