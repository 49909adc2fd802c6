"""The shared connector conformance suite, run for the Tryton connector against a real Tryton.

Tryton cannot misbehave on demand, so the faults (429, 5xx, outage) are injected by the fault
proxy (``twins.proxy``) between the connector and the real server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from doohickey.connectors.spec import ConnectionSettings, Connector, Secret, WriteRequest
from doohickey.connectors.tryton.server import TrytonServer
from doohickey.testing.conformance import CHECKS, ConformanceCase, Harness, assert_check, start
from doohickey.twins import Twin

pytestmark = pytest.mark.tryton


def proxied_settings(connector: Connector, twin: Twin, url: str) -> ConnectionSettings:
    """The proxy's address plus the database path of the real Tryton behind it."""
    return ConnectionSettings("tryton", url + twin.info["database_path"], {"password": Secret(twin.info["password"])})


@pytest.fixture(scope="module")
def harness(tryton: TrytonServer) -> Iterator[Harness]:
    case = ConformanceCase(
        "tryton", twin="tryton", twin_options={"upstream": tryton.url}, settings=proxied_settings,
        rejected=WriteRequest("order", "create", {"number": "#CONF-REJECT", "email": "nobody@example.com",
                                                  "customer_ref": "1", "lines": [{"sku": "NO-SUCH-SKU",
                                                                                  "quantity": 1}]}),
        rejected_says="NO-SUCH-SKU", timeout=30.0)
    with start(case) as started:
        yield started


@pytest.mark.parametrize("check", list(CHECKS))
def test_tryton_conformance(harness: Harness, check: str) -> None:
    result = assert_check(harness, check)
    assert result.detail
