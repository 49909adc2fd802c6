"""Real systems in a test run: a local Tryton started from the template database, seeded like the twins.

A plan's sandbox Connection for a ``tryton`` System that points at this machine
(``http://127.0.0.1:8000/...``) means "a throwaway Tryton here": ``doohickey test`` starts one per
test case from the prepared template (:func:`~doohickey.connectors.tryton.server.build_template`,
about 25 s once, then about a second per start), so test cases never see each other's sales, and
seeds it with the sandbox catalogue and stock through the connector itself. A Connection that
points elsewhere is a real test instance and is used as the plan says (its secrets by reference).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from doohickey.connectors.spec import ConnectionSettings, Secret, WriteRequest
from doohickey.errors import DoohickeyError
from doohickey.plan.model import Plan

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
SEED_STOCK = 50


def local_trytons(plan: Plan) -> list[str]:
    """Systems whose sandbox is a Tryton on this machine (started by the test run)."""
    out = []
    for name, system in plan.systems.items():
        connection = system.sandbox
        if system.connector == "tryton" and connection is not None and not connection.twin and connection.url \
                and urlparse(connection.url).hostname in LOCAL_HOSTS:
            out.append(name)
    return out


async def start_trytons(plan: Plan, folder: Path) -> tuple[dict[str, ConnectionSettings], list[Any]]:
    """Start a fresh Tryton for each local Tryton System; returns their ConnectionSettings and the servers."""
    names = local_trytons(plan)
    if not names:
        return {}, []
    from doohickey.connectors.tryton.server import ADMIN_PASSWORD, TrytonServer, build_template, tryton_available

    if not tryton_available():
        raise DoohickeyError(f"system {names[0]} is a local Tryton in the sandbox, and Tryton is not installed: "
                             "pip install -e '.[tryton]'")
    template = await asyncio.to_thread(build_template)
    settings, servers = {}, []
    try:
        for name in names:
            server = TrytonServer(folder / f"tryton-{name}", template=template)
            await asyncio.to_thread(server.start)
            servers.append(server)
            options = dict(plan.systems[name].sandbox.settings())
            options.pop("login", None)
            settings[name] = ConnectionSettings(system=name, url=server.url,
                                                secrets={"password": Secret(ADMIN_PASSWORD)},
                                                options={"login": "admin", **options})
    except BaseException:
        stop_all(servers)
        raise
    return settings, servers


async def seed(client: Any, variants: list[Any], *, stock: int = SEED_STOCK) -> set[str]:
    """Create the catalogue's variants in a real system and give each ``stock`` units on hand.

    Returns the names of the locations the stock is held at (the storefront twins get the same ones,
    as a real shop has a location for each warehouse it sells from)."""
    locations = set()
    for variant in variants:
        await client.write(WriteRequest("variant", "create", {"sku": variant.sku, "title": variant.title,
                                                              "price": str(variant.price)}))
        result = await client.write(WriteRequest("stock", "set", {"sku": variant.sku, "available": stock}))
        if (result.data or {}).get("location"):
            locations.add(str(result.data["location"]))
    return locations


def stop_all(servers: list[Any]) -> None:
    """Stop the servers a test run started."""
    for server in servers:
        server.stop()
