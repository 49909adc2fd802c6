"""The fault framework over real loopback HTTP: every request fault kind, the admin routes, the log."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from doohickey.clock import ManualClock
from doohickey.twins.faults import Fault, FaultFileError, FaultSet, load_fault_file, load_faults
from doohickey.twins.server import TwinServer, twin_app

CALLS: list[str] = []


async def _echo(request: Request) -> JSONResponse:
    CALLS.append(request.url.path)
    return JSONResponse({"data": {"echo": request.url.path, "items": list(range(20))}})


def _serve(faults: list[Fault], *, seed: int = 0, clock=None) -> tuple[TwinServer, FaultSet]:
    faultset = FaultSet(faults, seed=seed, clock=clock)
    app = twin_app([Route("/api/{rest:path}", _echo, methods=["GET", "POST"])], faultset,
                   graphql_paths=("/api/graphql.json",))
    return TwinServer(app).start(), faultset


@pytest.fixture
def served():
    servers = []

    def start(faults, **kw):
        server, faultset = _serve(faults, **kw)
        servers.append(server)
        return httpx.Client(base_url=server.url, timeout=5), faultset

    yield start
    for server in servers:
        server.stop()


def test_no_fault_passes_through(served):
    client, faultset = served([])
    response = client.get("/api/orders")
    assert response.status_code == 200
    assert response.json()["data"]["echo"] == "/api/orders"
    assert faultset.log == []


def test_outage_window_answers_503_with_retry_after_then_recovers(served):
    clock = ManualClock()
    client, faultset = served([Fault(kind="outage", start=10, end=40, seconds=7)], clock=clock)
    assert client.get("/api/x").status_code == 200
    clock.advance(15)
    response = client.get("/api/x")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    clock.advance(30)
    assert client.get("/api/x").status_code == 200
    assert [entry["kind"] for entry in faultset.log] == ["outage"]
    assert faultset.log[0]["path_or_topic"] == "GET /api/x"


def test_maintenance_retry_after_counts_down_to_window_end(served):
    clock = ManualClock()
    client, _ = served([Fault(kind="maintenance", start=0, end=120, message="Upgrading")], clock=clock)
    clock.advance(20)
    response = client.get("/api/x")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "100"
    assert response.json() == {"errors": "Upgrading"}


def test_maintenance_by_iso_times(served):
    clock = ManualClock(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC))
    client, _ = served([Fault(kind="maintenance", start="2026-03-01T12:05:00Z", end="2026-03-01T12:10:00Z")],
                       clock=clock)
    assert client.get("/api/x").status_code == 200
    clock.advance(6 * 60)
    response = client.get("/api/x")
    assert response.status_code == 503 and response.headers["retry-after"] == "240"


def test_error_rate_is_deterministic_under_seed(served):
    def pattern(seed: int) -> list[int]:
        client, _ = served([Fault(kind="error_rate", rate=0.3)], seed=seed)
        return [client.get("/api/x").status_code for _ in range(30)]

    first, again, other = pattern(5), pattern(5), pattern(6)
    assert first == again
    assert first != other
    assert set(first) == {200, 500}
    assert 3 <= first.count(500) <= 18


def test_rate_limit_429_with_retry_after_for_count_requests(served):
    client, faultset = served([Fault(kind="rate_limit", count=2, seconds=2.0, paths=["/api/rest/*"])])
    statuses = [client.get("/api/rest/orders.json") for _ in range(3)]
    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].headers["retry-after"] == "2"
    assert len(faultset.log) == 2


def test_rate_limit_on_graphql_path_is_throttled_error(served):
    client, _ = served([Fault(kind="rate_limit", count=1)])
    response = client.post("/api/graphql.json", json={"query": "{ shop { name } }"})
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert client.post("/api/graphql.json", json={}).json()["data"]["echo"] == "/api/graphql.json"


def test_latency_adds_delay(served):
    client, faultset = served([Fault(kind="latency", seconds=0.3, count=1)])
    started = time.monotonic()
    assert client.get("/api/x").status_code == 200
    assert time.monotonic() - started >= 0.29
    assert faultset.log[0]["kind"] == "latency"


def test_timeout_hangs_past_the_client_timeout(served):
    client, faultset = served([Fault(kind="timeout", seconds=5, count=1)])
    with pytest.raises(httpx.TimeoutException):
        client.get("/api/x", timeout=0.3)
    assert client.get("/api/x").status_code == 200
    assert faultset.log[0]["kind"] == "timeout"


def test_timeout_drops_the_connection_when_the_client_waits_longer(served):
    client, _ = served([Fault(kind="timeout", seconds=0.2, count=1)])
    with pytest.raises(httpx.TransportError):
        client.get("/api/x", timeout=3).read()


def test_malformed_body_is_not_json_but_the_request_ran(served):
    CALLS.clear()
    client, faultset = served([Fault(kind="malformed", count=1, paths=["/api/write"])])
    response = client.post("/api/write")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert CALLS == ["/api/write"]
    assert faultset.log[0]["kind"] == "malformed"


def test_admin_paths_are_never_faulted_and_set_faults_at_run_time(served):
    client, _ = served([Fault(kind="outage")])
    assert client.get("/api/x").status_code == 503
    assert client.get("/_twin/log").status_code == 200
    assert client.delete("/_twin/faults").json()["faults"] == []
    assert client.get("/api/x").status_code == 200
    added = client.post("/_twin/faults", json={"faults": [{"kind": "error_rate", "status": 502, "count": 1}]})
    assert added.json()["faults"][0]["kind"] == "error_rate"
    assert client.get("/api/x").status_code == 502
    assert client.get("/api/x").status_code == 200
    log = client.get("/_twin/log").json()["log"]
    assert [e["kind"] for e in log] == ["outage", "error_rate"]
    bad = client.post("/_twin/faults", json=[{"kind": "outage"}, {"kind": "meteor"}])
    assert bad.status_code == 400
    assert "faults[1]" in bad.json()["error"] and "kind" in bad.json()["error"]


def test_webhook_decisions_are_logged_and_counted():
    faultset = FaultSet([
        Fault(kind="webhook_duplicate", topics=["orders/*"], count=1),
        Fault(kind="webhook_delay", topics=["refunds/create"], seconds=3),
        Fault(kind="webhook_loss", topics=["customers/create"]),
        Fault(kind="webhook_reorder", topics=["inventory_levels/update"], count=1),
    ])
    assert [a.kind for a in faultset.decide_webhook("orders/create")] == ["duplicate"]
    assert faultset.decide_webhook("orders/create") == []
    delay = faultset.decide_webhook("refunds/create")
    assert delay[0].kind == "delay" and delay[0].seconds == 3
    assert faultset.decide_webhook("customers/create")[0].kind == "loss"
    assert faultset.decide_webhook("inventory_levels/update")[0].kind == "reorder"
    assert faultset.decide_request("GET", "/x") is None
    assert [e["path_or_topic"] for e in faultset.log] == [
        "orders/create", "refunds/create", "customers/create", "inventory_levels/update"]


def test_load_faults_file(tmp_path: Path):
    path = tmp_path / "faults.yaml"
    path.write_text("seed: 9\nfaults:\n  - {kind: outage, start: 5, end: 10}\n  - kind: webhook_loss\n"
                    "    topics: orders/create\n")
    loaded = load_fault_file(path)
    assert loaded.seed == 9
    assert [f.kind for f in loaded.faults] == ["outage", "webhook_loss"]
    assert loaded.faults[1].topics == ["orders/create"]
    assert len(load_faults(path)) == 2


def test_load_faults_file_errors_name_file_and_entry(tmp_path: Path):
    path = tmp_path / "faults.yaml"
    path.write_text("faults:\n  - {kind: outage}\n  - {kind: error_rate, rate: 3}\n")
    with pytest.raises(FaultFileError) as caught:
        load_faults(path)
    assert str(path) in caught.value.message
    assert "faults[1].rate" in caught.value.message
    with pytest.raises(FaultFileError, match="cannot read"):
        load_faults(tmp_path / "missing.yaml")
