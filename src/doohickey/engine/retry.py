"""RetryPolicy: when to try a failed Event again, from the flow's ``on_failure`` in the plan.

Exponential (or linear, or fixed) backoff from ``initial_delay`` capped at ``max_delay``, with
"equal jitter" (half the wait fixed, half random) so a burst of failures does not come back as a
burst; never sooner than the API's own Retry-After. The wait is stored as the Event's
``next_attempt_at``, so it survives restarts.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from doohickey.plan.model import Backoff, FailurePolicy


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts, backoff and caps for one flow."""

    retries: int = 5
    backoff: Backoff = Backoff.EXPONENTIAL
    initial: float = 2.0
    cap: float = 1800.0
    jitter: bool = True
    dead_letter: bool = True

    @classmethod
    def from_plan(cls, policy: FailurePolicy | None, *, scale: float = 1.0) -> RetryPolicy:
        """The policy a flow declares (the plan's defaults when it declares none).

        ``scale`` shrinks every wait (the demo and tests use it to compress minutes into seconds).
        """
        policy = policy or FailurePolicy()
        return cls(policy.retries, policy.backoff, policy.initial_delay.total_seconds() * scale,
                   policy.max_delay.total_seconds() * scale, policy.jitter, policy.dead_letter)

    def exhausted(self, attempts: int) -> bool:
        """True when ``attempts`` tries (the first plus retries) have all been used."""
        return attempts > self.retries

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        if self.backoff == Backoff.EXPONENTIAL:
            wait = self.initial * 2 ** (attempt - 1)
        elif self.backoff == Backoff.LINEAR:
            wait = self.initial * attempt
        else:
            wait = self.initial
        wait = min(wait, self.cap)
        if self.jitter:
            wait = wait / 2 + rng.random() * wait / 2
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait

    def next_at(self, now: dt.datetime, attempt: int, rng: random.Random,
                retry_after: float | None = None) -> dt.datetime:
        """When try number ``attempt + 1`` is due."""
        return now + dt.timedelta(seconds=self.delay(attempt, rng, retry_after))
