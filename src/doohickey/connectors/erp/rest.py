"""A small JSON-over-HTTP session for the ERP and WMS connectors: pacing and the status -> error table.

Every call goes ``pacer.acquire()`` -> request -> ``pacer.observe(...)`` ->
``pacer.release()``, and every failure becomes one of :mod:`doohickey.errors`:

=====================================  =========================================
what happened                          error raised
=====================================  =========================================
400, 409, 422 (other 4xx)              RejectedError with the API's own message
401, 403                               AuthError
404                                    NotFoundError (or ``None`` when allowed)
429                                    RateLimited (``retry_after`` from the header)
503                                    Unavailable (``retry_after`` from the header)
other 5xx, timeout, connection lost    TransientError
2xx with a body that is not JSON       TransientError (the write may have happened:
                                       retry with the same Idempotency-Key)
=====================================  =========================================

Kept small on purpose until the shared ``connectors/http.py`` lands.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from collections.abc import Callable
from typing import Any

import httpx

from doohickey.connectors.spec import ConnectOptions
from doohickey.errors import (
    AuthError,
    NotFoundError,
    RateLimited,
    RejectedError,
    TransientError,
    Unavailable,
)

MessageOf = Callable[[Any], str]


def retry_after(response: httpx.Response, clock_now: dt.datetime | None = None) -> float | None:
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
    now = clock_now or dt.datetime.now(dt.UTC)
    return max((when - now).total_seconds(), 0.0)


class RestSession:
    """One Connection's HTTP session: base URL, auth headers, pacer, and errors mapped for the engine."""

    def __init__(self, system: str, base_url: str, headers: dict[str, str], options: ConnectOptions,
                 message_of: MessageOf) -> None:
        self.system = system
        self.options = options
        self.message_of = message_of
        self.client = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=options.timeout,
                                        transport=options.transport)

    async def call(self, method: str, path: str, *, params: dict[str, Any] | None = None, json_body: Any = None,
                   headers: dict[str, str] | None = None, missing_ok: bool = False) -> Any:
        """Send one request and return its JSON body (None for 204, or 404 when ``missing_ok``)."""
        pacer = self.options.pacer
        if pacer is not None:
            await pacer.acquire()
        try:
            response = await self._send(method, path, params, json_body, headers)
        finally:
            if pacer is not None:
                pacer.release()
        wait = retry_after(response, self.options.clock.now())
        if pacer is not None:
            pacer.observe(retry_after=wait if response.status_code in (429, 503) else None)
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            raise self._error(method, path, response, wait)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise TransientError(f"{self.system} answered {method} {path} with a body that is not valid JSON",
                                 system=self.system, status=response.status_code,
                                 detail=response.text[:300]) from None

    async def _send(self, method: str, path: str, params: dict[str, Any] | None, json_body: Any,
                    headers: dict[str, str] | None) -> httpx.Response:
        try:
            return await self.client.request(method, path, params=_clean(params), json=json_body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{self.system} did not answer {method} {path} in time", system=self.system,
                                 detail=type(exc).__name__) from None
        except httpx.TransportError as exc:
            raise TransientError(f"could not reach {self.system} for {method} {path}: {type(exc).__name__}",
                                 system=self.system, detail=str(exc)) from None

    def _error(self, method: str, path: str, response: httpx.Response, wait: float | None) -> Exception:
        status = response.status_code
        try:
            said = self.message_of(response.json())
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, IndexError, TypeError, AttributeError):
            said = ""
        said = said or response.reason_phrase or f"HTTP {status}"
        detail = f"{method} {path} -> {status}: {response.text[:500]}"
        kw: dict[str, Any] = {"system": self.system, "status": status, "detail": detail}
        if status in (401, 403):
            return AuthError(f"{self.system} refused the credentials: {said}", **kw)
        if status == 404:
            return NotFoundError(f"{self.system}: {said}", **kw)
        if status == 429:
            return RateLimited(f"{self.system} is rate limiting: {said}", retry_after=wait, **kw)
        if status == 503:
            return Unavailable(f"{self.system} is unavailable: {said}", retry_after=wait, **kw)
        if status >= 500:
            return TransientError(f"{self.system} failed ({status}): {said}", **kw)
        return RejectedError(f"{self.system} rejected {method} {path}: {said}", **kw)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None}
