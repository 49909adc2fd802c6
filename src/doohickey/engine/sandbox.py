"""Sandbox Connections: start a plan's twins in-process on free loopback ports and connect to them.

For every System whose sandbox Connection names a ``twin``, the twin is built
(:func:`doohickey.twins.create_twin`, with the Connection's seed and faults file), served by a
:class:`~doohickey.twins.server.TwinServer` on 127.0.0.1, and described as ConnectionSettings
with the twin's own credentials. :meth:`SandboxTwins.subscribe` points each twin's webhooks at the
engine's endpoint (each twin has its own subscription call, as the real products do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.connectors.spec import ConnectionSettings, Secret
from doohickey.plan.model import Plan
from doohickey.twins import Twin, create_twin
from doohickey.twins.faults import Fault
from doohickey.twins.server import TwinServer

# What each twin needs to be reached: (secret setting name, twin info key) pairs.
TWIN_SECRETS: dict[str, tuple[tuple[str, str], ...]] = {
    "shopify": (("token", "token"), ("webhook_secret", "secret")),
    "erp": (("api_key", "api_key"),),
    "wms": (("token", "token"),),
}
DEFAULT_WEBHOOK_SECRETS = {"wms": "wms-webhook-secret"}


@dataclass
class SandboxTwins:
    """The running twins of one plan, by System name."""

    twins: dict[str, Twin] = field(default_factory=dict)
    servers: dict[str, TwinServer] = field(default_factory=dict)
    settings: dict[str, ConnectionSettings] = field(default_factory=dict)

    def webhook_secrets(self) -> dict[str, str]:
        """The secret each twin signs its webhooks with, by System name."""
        return {name: s.secrets["webhook_secret"].reveal() for name, s in self.settings.items()
                if "webhook_secret" in s.secrets}

    def subscribe(self, system: str, url: str, topics: list[str]) -> None:
        """Send ``system``'s webhooks for ``topics`` to ``url``."""
        twin = self.twins[system]
        if twin.name == "shopify":
            from doohickey.twins.shopify.webhooks import subscribe

            for topic in sorted(set(topics)):
                subscribe(twin.state, topic, {"uri": url})
        elif twin.name == "wms":
            twin.state.subscribe(url, ["*"])

    def stop(self) -> None:
        """Stop every twin server and its webhook sender."""
        for name, server in self.servers.items():
            deliverer = getattr(self.twins[name].state, "webhooks", None)
            if deliverer is not None and hasattr(deliverer, "stop"):
                deliverer.stop()
            server.stop()


def start_twins(plan: Plan, *, clock: Clock = SYSTEM_CLOCK, faults: dict[str, list[Fault]] | None = None,
                options: dict[str, dict[str, Any]] | None = None) -> SandboxTwins:
    """Build and serve every twin the plan's sandbox Connections name; returns them running."""
    from doohickey.twins.faults import load_faults

    running = SandboxTwins()
    base = plan.path.parent if plan.path else None
    try:
        for name, system in plan.systems.items():
            connection = system.sandbox
            if connection is None or not connection.twin:
                continue
            twin_faults = list((faults or {}).get(name, []))
            if connection.faults:
                path = base / connection.faults if base else connection.faults
                twin_faults += load_faults(path)
            twin = create_twin(connection.twin, seed=connection.seed or 0, faults=twin_faults, clock=clock,
                               **(options or {}).get(name, {}))
            server = TwinServer(twin.app).start()
            running.twins[name], running.servers[name] = twin, server
            secrets = {setting: Secret(str(twin.info[key])) for setting, key in TWIN_SECRETS.get(twin.name, ())
                       if twin.info.get(key)}
            if twin.name in DEFAULT_WEBHOOK_SECRETS and "webhook_secret" not in secrets:
                secret = (options or {}).get(name, {}).get("webhook_secret") or DEFAULT_WEBHOOK_SECRETS[twin.name]
                secrets["webhook_secret"] = Secret(secret)
            running.settings[name] = ConnectionSettings(system=name, url=server.url, secrets=secrets,
                                                        options=connection.settings())
    except Exception:
        running.stop()
        raise
    return running
