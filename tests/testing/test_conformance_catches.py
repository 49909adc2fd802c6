"""The conformance suite fails connectors that break its promises, with words that say what broke."""

from __future__ import annotations

import dataclasses

import pytest

from doohickey.connectors.shopify import CONNECTOR as SHOPIFY
from doohickey.connectors.spec import Page
from doohickey.errors import TransientError
from doohickey.testing.conformance import ConformanceCase, run_check, start


class Broken:
    """Wraps a real Client and breaks one behaviour."""

    def __init__(self, inner, flaw: str) -> None:
        self.inner = inner
        self.flaw = flaw

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def check(self) -> None:
        try:
            await self.inner.check()
        except Exception:
            if self.flaw != "swallow_auth":
                raise

    async def read(self, entity, **kw):
        page = await self.inner.read(entity, **kw)
        return Page(page.records, None) if self.flaw == "first_page_only" else page

    async def find(self, entity, key):
        return [] if self.flaw == "never_finds" else await self.inner.find(entity, key)

    async def write(self, request):
        try:
            return await self.inner.write(request)
        except Exception as exc:
            if self.flaw == "hide_rejection":
                raise TransientError("something went wrong", system="shop") from exc
            raise


def broken(flaw: str):
    return dataclasses.replace(SHOPIFY, name=f"shopify-{flaw}",
                               connect=lambda settings, options: Broken(SHOPIFY.connect(settings, options), flaw))


@pytest.fixture(scope="module")
def harness():
    with start(ConformanceCase(SHOPIFY)) as started:
        yield started


@pytest.mark.parametrize(("flaw", "check", "words"), [
    ("swallow_auth", "bad_credentials", "the check passed with wrong credentials"),
    ("first_page_only", "pagination", "1 pages of at most 3"),
    ("never_finds", "sync_twice", "Email has already been taken"),  # the second create is refused by Shopify
    ("hide_rejection", "rejected_write", "expected RejectedError, got TransientError"),
])
def test_a_broken_connector_fails_the_check_that_covers_its_flaw(harness, flaw, check, words):
    assert run_check(harness, check).passed  # the real connector passes
    harness.connector = broken(flaw)
    try:
        result = run_check(harness, check)
    finally:
        harness.connector = SHOPIFY
    assert not result.passed
    assert words in result.detail
