"""An in-memory fake System (Client + Connector) and a small plan, for the engine's fast unit tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from doohickey.connectors.spec import (
    Connector,
    EntitySpec,
    PacingSpec,
    Page,
    Record,
    WebhookDelivery,
    WebhookSpec,
    WriteRequest,
    WriteResult,
)
from doohickey.errors import RateLimited, RejectedError, TransientError
from doohickey.plan.model import Plan

SECRET = "fake-secret"


def sign(body: bytes, secret: str = SECRET) -> str:
    """The fake's webhook signature."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _verify(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    given = {k.lower(): v for k, v in headers.items()}.get("x-fake-signature", "")
    return hmac.compare_digest(given.encode(), sign(body, secret).encode())


def _parse(headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
    try:
        doc = json.loads(body)
        records = [Record("fake", doc["entity"], doc["id"], doc["data"], doc["version"]) for _ in [0]]
        return WebhookDelivery(doc["topic"], doc["delivery_id"], doc["delivery_id"],
                               dt.datetime.fromisoformat(doc["at"]) if doc.get("at") else None, records)
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"fake webhook body is not valid: {exc}") from None


class FakeSystem:
    """An in-memory System: records by entity, writes logged, faults queued."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        self.versions: dict[tuple[str, str], str] = {}
        self.writes: list[WriteRequest] = []
        self.faults: list[Exception] = []
        self.reject_skus: set[str] = set()
        self.seq = 0

    def put(self, entity: str, external_id: str, data: dict[str, Any], version: str) -> None:
        """Seed or change a record as the System's users would."""
        self.records.setdefault(entity, {})[external_id] = {**data, "id": external_id}
        self.versions[(entity, external_id)] = version

    # --- the Client protocol -----------------------------------------------------------------------

    async def check(self) -> None:
        return None

    async def read(self, entity: str, *, since: dt.datetime | None = None, cursor: str | None = None,
                   limit: int = 100) -> Page:
        items = sorted(self.records.get(entity, {}).items(), key=lambda kv: self.versions[(entity, kv[0])])
        if since is not None:
            items = [kv for kv in items if self.versions[(entity, kv[0])] >= since.isoformat()]
        start = int(cursor or 0)
        chunk = items[start:start + limit]
        records = [Record(self.name, entity, k, dict(v), self.versions[(entity, k)],
                          dt.datetime.fromisoformat(self.versions[(entity, k)])) for k, v in chunk]
        return Page(records, str(start + limit) if start + limit < len(items) else None)

    async def get(self, entity: str, external_id: str) -> Record | None:
        data = self.records.get(entity, {}).get(external_id)
        return Record(self.name, entity, external_id, dict(data)) if data else None

    async def find(self, entity: str, key: Mapping[str, str]) -> list[Record]:
        out = []
        for k, data in self.records.get(entity, {}).items():
            if all(str(data.get(f)) == v for f, v in key.items()):
                out.append(Record(self.name, entity, k, dict(data)))
        return out

    async def write(self, request: WriteRequest) -> WriteResult:
        if self.faults:
            raise self.faults.pop(0)
        for line in request.data.get("lines") or []:
            if line.get("sku") in self.reject_skus:
                raise RejectedError(f"product code {line['sku']} does not exist", system=self.name, status=400)
        needs_customer = request.entity == "order" and request.action == "create" and request.data.get("email")
        if needs_customer and not await self.find("customer", {"email": request.data["email"]}):
            raise RejectedError(f"no customer {request.data['email']}", system=self.name, status=400)
        self.writes.append(request)
        self.seq += 1
        external_id = request.external_id or f"{self.name.upper()}-{self.seq}"
        current = self.records.get(request.entity, {}).get(external_id, {})
        data = {**current, **request.data, "id": external_id}
        if request.action == "cancel":
            data["status"] = "cancelled"
        self.records.setdefault(request.entity, {})[external_id] = data
        version = f"2026-01-01T00:00:{self.seq:02d}+00:00"
        self.versions[(request.entity, external_id)] = version
        return WriteResult(external_id, version, dict(data))

    async def aclose(self) -> None:
        return None


def connector(name: str, *, webhooks: bool = True) -> Connector:
    """A Connector declaration for a FakeSystem."""
    return Connector(
        name=name, kind="fake", description="in-memory fake",
        entities={
            "order": EntitySpec("order", actions=("create", "cancel"), key="number", depends_on=("customer",)),
            "customer": EntitySpec("customer", actions=("create", "update"), key="email"),
            "stock": EntitySpec("stock", actions=("set",), key="sku"),
        },
        connect=lambda settings, options: FakeSystem(name),
        pacing=PacingSpec(kind="none"),
        webhooks=WebhookSpec(verify=_verify, parse=_parse, signature_header="X-Fake-Signature") if webhooks else None,
    )


def plan(**overrides: Any) -> Plan:
    """A small two-system plan: shop -> erp for orders, customers and (coalesced) stock back."""
    doc: dict[str, Any] = {
        "name": "fake-plan",
        "systems": {"shop": {"kind": "storefront", "connector": "fake"},
                    "erp": {"kind": "erp", "connector": "fake"}},
        "ownership": {"order": "shop", "order.status": "erp", "customer": "shop", "stock": "erp"},
        "flows": {
            "orders": {"entity": "order", "from": "shop", "to": "erp",
                       "trigger": {"webhook": ["orders/create", "orders/updated"], "poll": "1m"},
                       "on_failure": {"retries": 3, "initial_delay": "1s", "max_delay": "4s", "owner": "Sam"}},
            "customers": {"entity": "customer", "from": "shop", "to": "erp",
                          "trigger": {"webhook": ["customers/create"], "poll": "1m"},
                          "on_failure": {"retries": 3, "initial_delay": "1s"}},
            "stock": {"entity": "stock", "from": "erp", "to": "shop", "trigger": {"poll": "1m"},
                      "coalesce": "latest"},
        },
    }
    doc.update(overrides)
    return Plan.model_validate(doc)


def rate_limited(seconds: float = 1.0) -> Exception:
    """A 429 with Retry-After."""
    return RateLimited("too many requests", retry_after=seconds, system="erp", status=429)


def outage() -> Exception:
    """A 503-ish transient failure."""
    return TransientError("erp is down (HTTP 503)", system="erp", status=503)
