"""The connector conformance suite for the generic openapi connector against the ERP twin.

The connector knows nothing about the ERP: the profile is discovered from the twin's
published ``GET /openapi.json`` over loopback HTTP, and the declaration under test is
``for_profile(profile)``. Records are the API's native payloads, so the samples are
native ERP customers and the refused write is a native typo the ERP rejects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from doohickey.connectors.openapi import for_profile
from doohickey.connectors.spec import WriteRequest
from doohickey.discover import discover_document
from doohickey.testing.conformance import CHECKS, ConformanceCase, Harness, assert_check, sample_customers
from doohickey.twins import create_twin
from doohickey.twins.server import TwinServer


def native_customers(tag: str, count: int = 3) -> list[dict[str, Any]]:
    """ERP-shaped customers (its create body refuses unknown fields such as ``tags``)."""
    return [{k: v for k, v in c.items() if k in ("email", "first_name", "last_name", "phone")}
            for c in sample_customers(tag, count)]


CASE = ConformanceCase(
    "openapi", twin="erp", samples=native_customers,
    rejected=WriteRequest("customer", "create", {"email": "x@example.com", "emial": "typo@example.com"}),
    rejected_says="emial",
)


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    twin = create_twin("erp")
    with TwinServer(twin.app) as server:
        document = httpx.get(f"{server.url}/openapi.json", timeout=10).json()
        connector = for_profile(discover_document(document, f"{server.url}/openapi.json"), twin="erp")
        started = Harness(CASE, connector, twin, server.url)
        try:
            yield started
        finally:
            started.close()


@pytest.mark.parametrize("check", list(CHECKS))
def test_openapi_connector_conformance_on_the_erp_twin(harness: Harness, check: str) -> None:
    result = assert_check(harness, check)
    print(f"\n{check}: {result.detail} ({result.seconds:.2f} s)")
