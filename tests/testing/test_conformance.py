"""The connector conformance suite, run for every connector against its twin over loopback HTTP.

A connector joins by adding its case to ``CASES`` (``ConformanceCase("erp")`` when
the defaults fit); the checks themselves live in ``doohickey.testing.conformance``.
"""

from __future__ import annotations

import pytest

from doohickey.testing.conformance import CHECKS, assert_check, erp_case, harness_fixture, shopify_case, wms_case

CASES = [
    shopify_case(),
    erp_case(),
    wms_case(),
]

conformance_harness = harness_fixture(CASES)


@pytest.mark.parametrize("check", list(CHECKS))
def test_conformance(conformance_harness, check):
    result = assert_check(conformance_harness, check)
    assert result.detail
