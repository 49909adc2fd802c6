"""The connector conformance suite: the same checks for every connector, run against its twin over loopback HTTP.

A :class:`ConformanceCase` says which connector to test (a registry name or a
:class:`~doohickey.connectors.spec.Connector` value) and, where the defaults do
not fit, how to reach its twin and what to write. :func:`start` builds the twin
(``doohickey.twins.create_twin``), serves it on 127.0.0.1 with
:class:`~doohickey.twins.server.TwinServer` and yields a :class:`Harness`. Each
check is an async function of the harness returning a :class:`CheckResult`:

=======================  ===================================================================
check                    what it proves
=======================  ===================================================================
connection               ``check()`` passes with the twin's credentials
bad_credentials          with wrong secrets ``check()`` raises AuthError naming the System,
                         and the wrong secret is not in the message
pagination               more records than one page are seeded; reading page by page
                         reaches the end, sees every one of them once, pages stay in size
sync_twice               a sync (find by natural key, create when missing) run twice creates
                         nothing the second time, and each key exists exactly once
rate_limit               an injected 429 / THROTTLED is waited out inside the call
server_error             an injected 500 on a read is retried inside the call
malformed                a read answered with a cut, invalid JSON body is retried
long_outage              a 503 with a long Retry-After goes to the engine at once, as
                         Unavailable with the wait, instead of blocking the call
rejected_write           a write the API refuses raises RejectedError with the API's words,
                         classified as a dead letter
=======================  ===================================================================

Faults are injected through the twin's admin endpoint (``POST /_twin/faults``) and
checked in its log (``GET /_twin/log``). Use :func:`run_case` for plain results, or
the pytest helpers :func:`harness_fixture` and :func:`assert_check` (see
``tests/testing/test_conformance.py``: a new connector joins by adding one line).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from doohickey import connectors
from doohickey.connectors.spec import (
    Client,
    ConnectionSettings,
    ConnectOptions,
    Connector,
    Secret,
    WriteRequest,
)
from doohickey.errors import AuthError, RejectedError, Unavailable, Verdict, classify
from doohickey.twins import Twin, create_twin
from doohickey.twins.server import TwinServer

SettingsOf = Callable[[Connector, Twin, str], ConnectionSettings]


def twin_settings(connector: Connector, twin: Twin, url: str) -> ConnectionSettings:
    """Settings from the twin's ``info``: each secret setting the twin publishes under the same name."""
    secrets = {s.name: Secret(str(twin.info[s.name])) for s in connector.settings if s.secret and s.name in twin.info}
    return ConnectionSettings(system=f"{connector.name}-twin", url=url, secrets=secrets)


def sample_customers(tag: str, count: int) -> list[dict[str, Any]]:
    """Canonical customers with unique e-mail addresses (``tag`` keeps runs apart)."""
    return [{"email": f"conformance-{tag}-{i}@example.com", "first_name": "Conformance", "last_name": f"{tag} {i}",
             "phone": "", "addresses": [], "tags": []} for i in range(count)]


@dataclass
class ConformanceCase:
    """What the suite needs to know about one connector; everything but the name has a default.

    ``seed`` builds the ``POST /_twin/seed`` body holding ``count`` records of
    ``page_entity``; ``samples`` builds canonical records of ``sync_entity`` whose
    ``key`` field is unique, after ``sync_seed`` (same tag) has seeded what they
    refer to (the SKUs of an order, say); ``rejected`` is a write the API must refuse, and
    ``rejected_says`` words its answer must contain.
    """

    connector: str | Connector
    twin: str | None = None
    twin_options: dict[str, Any] = field(default_factory=dict)
    settings: SettingsOf = twin_settings
    page_entity: str = "customer"
    page_size: int = 3
    seed: Callable[[str, int], dict[str, Any]] = lambda tag, count: {"customers": sample_customers(tag, count)}
    sync_entity: str = "customer"
    sync_action: str = "create"
    samples: Callable[[str], list[dict[str, Any]]] = lambda tag: sample_customers(tag, 3)
    sync_seed: Callable[[str], dict[str, Any]] | None = None
    rejected: WriteRequest = field(default_factory=lambda: WriteRequest(
        "customer", "create", {"email": "not-an-email", "first_name": "", "last_name": ""}))
    rejected_says: str = ""
    timeout: float = 10.0

    @property
    def name(self) -> str:
        """The case's id in test reports."""
        return self.connector if isinstance(self.connector, str) else self.connector.name


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: passed or not, and what was seen, in words."""

    check: str
    passed: bool
    detail: str
    seconds: float = 0.0


class Harness:
    """A started twin, the connector under test and its settings; helpers to set faults and read the log."""

    def __init__(self, case: ConformanceCase, connector: Connector, twin: Twin, url: str) -> None:
        self.case = case
        self.connector = connector
        self.twin = twin
        self.url = url
        self.settings = case.settings(connector, twin, url)
        self.admin = httpx.Client(base_url=url, timeout=10.0)

    def client(self, settings: ConnectionSettings | None = None) -> Client:
        """A fresh Client on the twin (real loopback HTTP, real clock)."""
        return self.connector.connect(settings or self.settings, ConnectOptions(timeout=self.case.timeout))

    def add_fault(self, **fault: Any) -> None:
        """Inject one fault through the twin's admin endpoint."""
        response = self.admin.post("/_twin/faults", json=fault)
        response.raise_for_status()

    def clear_faults(self) -> None:
        """Remove every fault (the log stays)."""
        self.admin.delete("/_twin/faults").raise_for_status()

    def fault_log(self) -> list[dict[str, Any]]:
        """Every fault the twin applied so far."""
        return self.admin.get("/_twin/log").json()["log"]

    def seed(self, body: dict[str, Any]) -> Any:
        """Seed canonical entities through the twin's ``/_twin/seed``."""
        response = self.admin.post("/_twin/seed", json=body)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        """Close the admin connection."""
        self.admin.close()


@contextmanager
def start(case: ConformanceCase) -> Iterator[Harness]:
    """Build the case's twin, serve it on 127.0.0.1, and yield a Harness; stops the server afterwards."""
    connector = connectors.load(case.connector) if isinstance(case.connector, str) else case.connector
    twin_name = case.twin or connector.twin
    if not twin_name:
        raise ValueError(f"connector {case.name!r} declares no twin; give the case a twin name")
    twin = create_twin(twin_name, **case.twin_options)
    with TwinServer(twin.app) as server:
        harness = Harness(case, connector, twin, server.url)
        try:
            yield harness
        finally:
            harness.close()


# --- the checks ------------------------------------------------------------------------------------

async def check_connection(h: Harness) -> CheckResult:
    """``check()`` passes with the twin's own credentials."""
    client = h.client()
    try:
        await client.check()
    finally:
        await client.aclose()
    return CheckResult("connection", True, f"{h.settings.system} answered the connection check")


async def check_bad_credentials(h: Harness) -> CheckResult:
    """Wrong secrets give an AuthError that names the System and does not print the secret."""
    wrong = {name: Secret(f"wrong-{name}-{uuid.uuid4().hex}") for name in h.settings.secrets}
    if not wrong:
        return CheckResult("bad_credentials", True, "the connection has no secrets to get wrong")
    settings = ConnectionSettings(h.settings.system, h.settings.url, wrong, h.settings.options)
    client = h.client(settings)
    try:
        await client.check()
    except AuthError as exc:
        leaked = [name for name, secret in wrong.items() if secret.reveal() in exc.message + exc.detail]
        ok = not leaked and h.settings.system in exc.message
        verdict = classify(exc).verdict
        return CheckResult("bad_credentials", ok and verdict is Verdict.FAIL_RUN,
                           f"AuthError: {exc.message!r}; classified {verdict}" + (f"; LEAKED {leaked}" if leaked
                                                                                   else ""))
    except Exception as exc:  # any other outcome is the finding
        return CheckResult("bad_credentials", False, f"expected AuthError, got {type(exc).__name__}: {exc}")
    finally:
        await client.aclose()
    return CheckResult("bad_credentials", False, "the check passed with wrong credentials")


async def check_pagination(h: Harness) -> CheckResult:
    """Seed more than two pages, then read page by page to the end."""
    case, tag = h.case, uuid.uuid4().hex[:8]
    count = case.page_size * 2 + 1
    h.seed(case.seed(tag, count))
    key = h.connector.entities[case.page_entity].key
    client = h.client()
    seen: list[str] = []
    keys: set[str] = set()
    pages, cursor, oversize = 0, None, 0
    try:
        while True:
            page = await client.read(case.page_entity, cursor=cursor, limit=case.page_size)
            pages += 1
            oversize += len(page.records) > case.page_size
            seen += [r.external_id for r in page.records]
            keys |= {str(r.data.get(key, "")).lower() for r in page.records}
            cursor = page.next_cursor
            if cursor is None or pages > 10_000:
                break
    finally:
        await client.aclose()
    wanted = {str(r[key]).lower() for r in next(iter(case.seed(tag, count).values())) if key in r}
    missing = wanted - keys
    duplicates = len(seen) - len(set(seen))
    ok = not missing and not duplicates and not oversize and pages >= math.ceil(count / case.page_size)
    return CheckResult("pagination", ok, f"{pages} pages of at most {case.page_size}, {len(seen)} records; "
                                         f"{len(wanted) - len(missing)}/{len(wanted)} seeded seen, "
                                         f"{duplicates} duplicates, {oversize} oversized pages")


async def sync_once(client: Client, entity: str, key: str, action: str, records: list[dict[str, Any]]) -> int:
    """A minimal sync: find each record by its natural key and create it only when missing; returns creates."""
    created = 0
    for data in records:
        if await client.find(entity, {key: str(data[key])}):
            continue
        await client.write(WriteRequest(entity, action, data, idempotency_key=f"conformance:{data[key]}"))
        created += 1
    return created


async def check_sync_twice(h: Harness) -> CheckResult:
    """Running the same sync twice creates nothing the second time; every key exists once."""
    case = h.case
    key = h.connector.entities[case.sync_entity].key
    tag = uuid.uuid4().hex[:8]
    if case.sync_seed is not None:
        h.seed(case.sync_seed(tag))
    records = case.samples(tag)
    client = h.client()
    try:
        first = await sync_once(client, case.sync_entity, key, case.sync_action, records)
        second = await sync_once(client, case.sync_entity, key, case.sync_action, records)
        counts = [len(await client.find(case.sync_entity, {key: str(r[key])})) for r in records]
    finally:
        await client.aclose()
    ok = first == len(records) and second == 0 and counts == [1] * len(records)
    return CheckResult("sync_twice", ok, f"first run created {first}, second run {second}; "
                                         f"records per key afterwards: {counts}")


async def _read_under_fault(h: Harness, name: str, fault: dict[str, Any]) -> CheckResult:
    h.seed(h.case.seed(uuid.uuid4().hex[:8], 1))
    before = len(h.fault_log())
    h.add_fault(**fault)
    client = h.client()
    started = time.monotonic()
    try:
        page = await client.read(h.case.page_entity, limit=h.case.page_size)
    except Exception as exc:  # the failure is the finding
        return CheckResult(name, False, f"the read failed instead of riding out the fault: "
                                        f"{type(exc).__name__}: {exc}")
    finally:
        await client.aclose()
        h.clear_faults()
    applied = [e for e in h.fault_log()[before:] if e["kind"] == fault["kind"]]
    took = time.monotonic() - started
    ok = len(applied) == fault.get("count", 1) and bool(page.records)
    return CheckResult(name, ok, f"{len(applied)} {fault['kind']} fault(s) applied, the read returned "
                                 f"{len(page.records)} records after {took:.2f} s", took)


async def check_rate_limit(h: Harness) -> CheckResult:
    """A 429 (REST) or THROTTLED (GraphQL) answer is waited out inside the call."""
    return await _read_under_fault(h, "rate_limit", {"kind": "rate_limit", "count": 1, "seconds": 1})


async def check_server_error(h: Harness) -> CheckResult:
    """A 500 on a read is retried inside the call."""
    return await _read_under_fault(h, "server_error", {"kind": "error_rate", "count": 1, "status": 500})


async def check_malformed(h: Harness) -> CheckResult:
    """A read answered with a cut, invalid JSON body is retried inside the call."""
    return await _read_under_fault(h, "malformed", {"kind": "malformed", "count": 1})


async def check_long_outage(h: Harness) -> CheckResult:
    """A 503 asking for a long wait goes to the engine at once as Unavailable with that wait."""
    h.add_fault(kind="outage", count=3, seconds=300)
    client = h.client()
    started = time.monotonic()
    try:
        await client.read(h.case.page_entity, limit=h.case.page_size)
    except Unavailable as exc:
        took = time.monotonic() - started
        ok = (exc.retry_after or 0) >= 300 and took < 5 and classify(exc).verdict is Verdict.RETRY
        return CheckResult("long_outage", ok, f"Unavailable after {took:.2f} s, retry_after={exc.retry_after}: "
                                              f"{exc.message!r}", took)
    except Exception as exc:
        return CheckResult("long_outage", False, f"expected Unavailable, got {type(exc).__name__}: {exc}")
    finally:
        await client.aclose()
        h.clear_faults()
    return CheckResult("long_outage", False, "the read succeeded during an outage")


async def check_rejected_write(h: Harness) -> CheckResult:
    """A write the API refuses raises RejectedError with the API's own words; it is a dead letter."""
    client = h.client()
    try:
        await client.write(h.case.rejected)
    except RejectedError as exc:
        says = h.case.rejected_says
        verdict = classify(exc).verdict
        ok = verdict is Verdict.DEAD_LETTER and (not says or says in exc.message)
        return CheckResult("rejected_write", ok, f"RejectedError: {exc.message!r}; classified {verdict}")
    except Exception as exc:
        return CheckResult("rejected_write", False, f"expected RejectedError, got {type(exc).__name__}: {exc}")
    finally:
        await client.aclose()
    return CheckResult("rejected_write", False, "the API accepted a write it should refuse")


CHECKS: dict[str, Callable[[Harness], Awaitable[CheckResult]]] = {
    "connection": check_connection,
    "bad_credentials": check_bad_credentials,
    "pagination": check_pagination,
    "sync_twice": check_sync_twice,
    "rate_limit": check_rate_limit,
    "server_error": check_server_error,
    "malformed": check_malformed,
    "long_outage": check_long_outage,
    "rejected_write": check_rejected_write,
}


def run_check(harness: Harness, name: str) -> CheckResult:
    """Run one check to completion (its own event loop) and time it; an unexpected error is a failed result."""
    started = time.monotonic()
    try:
        result = asyncio.run(CHECKS[name](harness))
    except Exception as exc:  # report, do not crash the suite
        result = CheckResult(name, False, f"{type(exc).__name__}: {exc}")
    finally:
        harness.clear_faults()
    return CheckResult(result.check, result.passed, result.detail, round(time.monotonic() - started, 3))


def run_case(case: ConformanceCase, checks: list[str] | None = None) -> list[CheckResult]:
    """Start the case's twin and run the checks (all by default); plain results, no pytest needed."""
    with start(case) as harness:
        return [run_check(harness, name) for name in checks or list(CHECKS)]


# --- pytest helpers --------------------------------------------------------------------------------

def harness_fixture(cases: list[ConformanceCase]) -> Any:
    """A module-scoped pytest fixture, parametrised over ``cases``, that yields a started Harness."""
    import pytest

    @pytest.fixture(scope="module", params=cases, ids=[c.name for c in cases])
    def conformance_harness(request: Any) -> Iterator[Harness]:
        with start(request.param) as harness:
            yield harness

    return conformance_harness


def assert_check(harness: Harness, name: str) -> CheckResult:
    """Run check ``name`` and fail the test with the check's own words when it does not pass."""
    result = run_check(harness, name)
    assert result.passed, f"{harness.case.name}: {name} failed: {result.detail}"
    return result


def shopify_case() -> ConformanceCase:
    """The Shopify connector against the Shopify twin (customers; the twin refuses an invalid e-mail)."""
    return ConformanceCase("shopify", rejected_says="Email is invalid")


def erp_case() -> ConformanceCase:
    """The ERP connector against the ERP twin (customers; a country that is not ISO alpha-2 is refused)."""
    bad = {"email": "bad-country@example.com", "addresses": [{"line1": "1 Main St", "country": "Germany"}]}
    return ConformanceCase("erp", rejected=WriteRequest("customer", "create", bad), rejected_says="country")


def _wms_stock(tag: str, count: int) -> dict[str, Any]:
    return {"stock": [{"sku": f"CONF-{tag}-{i}", "location": "", "available": 5, "on_hand": 5}
                      for i in range(count)]}


def _wms_orders(tag: str) -> list[dict[str, Any]]:
    address = {"first_name": "Conformance", "last_name": tag, "line1": "1 Main St", "city": "Springfield",
               "postal_code": "12345", "country": "US"}
    return [{"number": f"#CONF-{tag}-{i}", "email": "conformance@example.com", "currency": "USD",
             "shipping_address": address,
             "lines": [{"sku": f"CONF-{tag}-0", "title": "Conformance item", "quantity": 1, "unit_price": "1.00"}]}
            for i in range(3)]


def wms_case() -> ConformanceCase:
    """The WMS connector against the WMS twin (stock pages; fulfilment requests; an unknown SKU is refused)."""
    return ConformanceCase(
        "wms", page_entity="stock", seed=_wms_stock, sync_entity="order", samples=_wms_orders,
        sync_seed=lambda tag: _wms_stock(tag, 1), rejected_says="not stocked",
        rejected=WriteRequest("order", "create", {"number": "#CONF-BAD", "lines": [{"sku": "NO-SUCH-SKU",
                                                                                    "quantity": 1}]}))
