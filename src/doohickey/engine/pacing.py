"""Pacing: one budget per Connection, following the API's own signals.

Each System of the plan gets one Pacer (the connector's published limits: a request or cost
bucket and/or a concurrency cap, :class:`doohickey.connectors.http.TokenBucketPacer`). Clients
call ``acquire`` before each request and ``observe`` after (Shopify's throttle status, call-limit
headers, Retry-After). The engine adds one rule of its own: when an Event fails with RateLimited
or Unavailable, the whole Connection is held for the time the API asked for, so the other
in-flight Events wait instead of hitting the API and turning one 429 into a storm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.connectors.http import TokenBucketPacer
from doohickey.connectors.spec import Connector, Pacer, PacingSpec


@dataclass
class PaceStats:
    """What pacing did on one Connection: throttles seen and seconds held."""

    throttled: int = 0
    held_seconds: float = 0.0


@dataclass
class Pacers:
    """The per-Connection budgets of one engine."""

    clock: Clock = SYSTEM_CLOCK
    scale: float = 1.0
    """Multiply the published rate (>1 lets a sandbox run faster than production limits)."""
    budgets: dict[str, Pacer | None] = field(default_factory=dict)
    stats: dict[str, PaceStats] = field(default_factory=dict)

    def for_system(self, system: str, connector: Connector) -> Pacer | None:
        """The Pacer of ``system`` (created on first use from the connector's PacingSpec)."""
        if system not in self.budgets:
            spec = connector.pacing
            if spec.kind == "concurrency":
                # A concurrency-capped API (NetSuite style) limits calls in flight, not calls per second.
                self.budgets[system] = TokenBucketPacer(1e6, 1e6, max_concurrency=spec.max_concurrency or 1,
                                                        clock=self.clock)
            else:
                if self.scale != 1.0 and spec.kind != "none":
                    spec = PacingSpec(spec.kind, spec.rate * self.scale, spec.burst * self.scale,
                                      spec.max_concurrency)
                self.budgets[system] = TokenBucketPacer.from_spec(spec, self.clock)
            self.stats[system] = PaceStats()
        return self.budgets[system]

    def hold(self, system: str, seconds: float | None) -> None:
        """Hold every request to ``system`` for ``seconds`` (the API said so with Retry-After or a 503)."""
        stats = self.stats.setdefault(system, PaceStats())
        stats.throttled += 1
        pacer = self.budgets.get(system)
        if pacer is not None and seconds:
            stats.held_seconds += seconds
            pacer.observe(retry_after=seconds)
