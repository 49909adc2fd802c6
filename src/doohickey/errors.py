"""Errors are data: one exception tree, and one place that decides what each error means.

::

    DoohickeyError                       message for a person, detail for logs (both redacted)
     ├── PlanError                       the plan cannot be loaded or is invalid (file, line, field)
     ├── SecretError                     a secret reference cannot be resolved
     ├── ConnectorError                  anything a System's API did to us
     │    ├── TransientError             worth retrying: 5xx, timeouts, connection refused
     │    │    ├── RateLimited           429 / THROTTLED; carries ``retry_after`` seconds
     │    │    └── Unavailable           503 / maintenance window
     │    ├── AuthError                  401/403: bad or expired credentials, missing scope
     │    ├── RejectedError              4xx / userErrors: the API said no; the record must change
     │    ├── NotFoundError              the record does not exist there
     │    └── DependencyMissing          a record this one needs is not bound yet (customer, product)
     └── MappingError                    the FieldMap or a Transform cannot produce the target record

``classify(error)`` turns any exception into an :class:`Outcome`: ``retry``,
``dead-letter`` or ``fail-run``, with a message for a person. The engine never
inspects exception types itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_SECRET_PATTERNS = (
    re.compile(r"(?i)(authorization|x-shopify-access-token|api[_-]?key|token|password|secret)"
               r"(\"?\s*[:=]\s*\"?)([^\s\",}]{12,})"),
    re.compile(r"(?i)(bearer|basic|session)\s+[A-Za-z0-9._~+/=-]{8,}"),
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove known secret values and anything that looks like a credential from ``text``."""
    for value in secrets:
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    text = _SECRET_PATTERNS[0].sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    return _SECRET_PATTERNS[1].sub(lambda m: m.group(0).split()[0] + " ***", text)


class DoohickeyError(Exception):
    """Base of every error doohickey raises on purpose.

    ``message`` is for a person (what happened, in business words when possible);
    ``detail`` is for logs (status codes, bodies), redacted like the message.
    """

    def __init__(self, message: str, *, detail: str = "") -> None:
        self.message = redact(message)
        self.detail = redact(detail)
        super().__init__(self.message)


class PlanError(DoohickeyError):
    """The plan cannot be loaded or is invalid."""


class SecretError(DoohickeyError):
    """A secret reference (environment variable, file) cannot be resolved."""


class ConnectorError(DoohickeyError):
    """A System's API failed or refused; ``system`` names it, ``status`` is the HTTP status if any."""

    def __init__(self, message: str, *, system: str = "", status: int | None = None, detail: str = "") -> None:
        super().__init__(message, detail=detail)
        self.system = system
        self.status = status


class TransientError(ConnectorError):
    """A failure worth retrying: 5xx, timeouts, refused connections."""


class RateLimited(TransientError):
    """The API asked us to slow down; ``retry_after`` is how long it asked for, in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class Unavailable(TransientError):
    """The System is down or in maintenance; ``retry_after`` when it said when to come back."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class AuthError(ConnectorError):
    """Credentials are wrong, expired or lack a scope."""


class RejectedError(ConnectorError):
    """The API rejected the write; retrying the same payload will not help."""


class NotFoundError(ConnectorError):
    """The record does not exist in that System."""


class DependencyMissing(ConnectorError):
    """A record this one needs (its customer, its products) is not bound in the target yet."""


class MappingError(DoohickeyError):
    """The FieldMap or a Transform cannot produce the target record from this source record."""


class Verdict(StrEnum):
    """What the engine does with a failed Attempt."""

    RETRY = "retry"
    DEAD_LETTER = "dead-letter"
    FAIL_RUN = "fail-run"


@dataclass(frozen=True)
class Outcome:
    """The classification of one error: what to do, why in words, and how long to wait at least."""

    verdict: Verdict
    kind: str
    message: str
    detail: str = ""
    retry_after: float | None = None


def classify(error: BaseException) -> Outcome:
    """Decide what an error means for the Event that raised it.

    Transient errors and missing dependencies are retried; rejections and mapping
    errors go to a dead letter at once (the record must change first); auth errors
    fail the run, since every further call would fail the same way.
    """
    kind = type(error).__name__
    message = getattr(error, "message", None) or redact(str(error)) or kind
    detail = getattr(error, "detail", "")
    if isinstance(error, RateLimited | Unavailable):
        return Outcome(Verdict.RETRY, kind, message, detail, error.retry_after)
    if isinstance(error, TransientError | DependencyMissing):
        return Outcome(Verdict.RETRY, kind, message, detail)
    if isinstance(error, AuthError | SecretError | PlanError):
        return Outcome(Verdict.FAIL_RUN, kind, message, detail)
    if isinstance(error, RejectedError | NotFoundError | MappingError):
        return Outcome(Verdict.DEAD_LETTER, kind, message, detail)
    if isinstance(error, TimeoutError | ConnectionError | OSError):
        return Outcome(Verdict.RETRY, kind, f"network error: {message}", detail)
    return Outcome(Verdict.DEAD_LETTER, kind, f"unexpected error: {message}", detail)
