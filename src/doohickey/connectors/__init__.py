"""Connectors: one package per product, each exporting one ``CONNECTOR`` declaration.

Adding a connector is one folder plus one line in ``REGISTRY``. Modules are
imported only when a plan names them, so an optional connector's dependencies
(Tryton's, say) are needed only by plans that use it.
"""

from __future__ import annotations

import importlib

from doohickey.connectors.spec import Connector

REGISTRY: dict[str, str] = {
    "shopify": "doohickey.connectors.shopify",
    "tryton": "doohickey.connectors.tryton",
    "openapi": "doohickey.connectors.openapi",
    "erp": "doohickey.connectors.erp",
    "wms": "doohickey.connectors.wms",
}


def names() -> list[str]:
    """The connector names a plan may use."""
    return sorted(REGISTRY)


def load(name: str) -> Connector:
    """Import and return the connector declaration called ``name``."""
    if name not in REGISTRY:
        raise KeyError(f"unknown connector {name!r}; known: {', '.join(names())}")
    return importlib.import_module(REGISTRY[name]).CONNECTOR
