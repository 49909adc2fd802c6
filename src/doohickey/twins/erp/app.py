"""The ERP twin's HTTP API (FastAPI): routes, API-key auth, NetSuite-style errors and the concurrency limit.

The API lives under ``/api/v1`` and is described by its own OpenAPI document at
``/openapi.json`` (browsable at ``/docs``): operation ids, a declared ``X-Api-Key``
security scheme, page/limit pagination (``x-pagination`` on each list operation)
and ``updated_since`` filters, so OpenAPI discovery can drive it from the document
alone. Errors always have NetSuite's REST shape (``o:errorDetails``), and a request
beyond the concurrency limit answers exactly as NetSuite does: HTTP 429,
``CONCURRENCY_LIMIT_EXCEEDED``, "Concurrent request limit exceeded. Request blocked.".
``/_twin/`` holds the seeding and inspection helpers (not in the OpenAPI document).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException as StarletteHTTPException

from doohickey import model
from doohickey.clock import Clock
from doohickey.twins.erp import schemas as s
from doohickey.twins.erp.state import ErpError, ErpState

API_PREFIX = "/api/v1"
CONCURRENCY_MESSAGE = "Concurrent request limit exceeded. Request blocked."
_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error"}
_PAGINATION = {"x-pagination": {"style": "page", "page_param": "page", "limit_param": "limit", "items": "items",
                                "has_more": "has_more", "next_page": "next_page", "first_page": 1}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": s.ErrorBody, "description": text}
    for code, text in ((400, "The request is invalid; the detail says what, in business words."),
                       (401, "Missing or wrong X-Api-Key."),
                       (429, "Concurrent request limit exceeded (CONCURRENCY_LIMIT_EXCEEDED)."))
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": s.ErrorBody, "description": "No such record."}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    422: {"model": s.ErrorBody, "description": "The record's state does not allow this (e.g. cancel a fulfilled "
                                               "order) or the Idempotency-Key was reused for another request."}}

Page = Annotated[int, Query(ge=1, description="Page number, from 1.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Records per page (at most 500).")]
Since = Annotated[dt.datetime | None, Query(description="Only records changed at or after this ISO-8601 time; "
                                                        "results are oldest change first.")]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key",
                                       description="Repeat a create with the same key to get the first result "
                                                   "instead of a duplicate.")]


def error_body(status: int, message: str, code: str, path: str = "") -> dict[str, Any]:
    """An error answer in NetSuite's REST shape, with a top-level ``detail`` for generic clients."""
    detail: dict[str, Any] = {"detail": message, "o:errorCode": code}
    if path:
        detail["o:errorPath"] = path
    return {"type": f"https://www.rfc-editor.org/rfc/rfc9110.html#status.{status}",
            "title": _TITLES.get(status, "Error"), "status": status, "detail": message, "o:errorDetails": [detail]}


def _fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _page(state: ErpState, table: str, page: int, limit: int, since: dt.datetime | None,
          where: list[tuple[str, Any]]) -> dict[str, Any]:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    items, total = state.page(table, updated_since=since, page=page, limit=limit, where=where)
    more = page * limit < total
    return {"items": items, "page": page, "limit": limit, "total": total, "has_more": more,
            "next_page": page + 1 if more else None}


def build_app(state: ErpState, *, api_keys: tuple[str, ...]) -> FastAPI:
    """The ERP FastAPI app over ``state``; requests need one of ``api_keys`` in ``X-Api-Key``."""
    app = FastAPI(
        title="doohickey ERP twin", version="1.0.0",
        description="A generic mid-market ERP REST API (sandbox twin). Authenticate with the `X-Api-Key` header. "
                    "Lists are paged with `page` (from 1) and `limit`, oldest change first, and filtered with "
                    "`updated_since`: poll them; there are no webhooks. Creates honour the `Idempotency-Key` "
                    "header and a unique `external_ref`. Money amounts are decimal strings.",
    )
    key_header = APIKeyHeader(name="X-Api-Key", scheme_name="ApiKey", auto_error=False,
                              description="The API key of an integration user.")

    async def authenticated(key: str | None = Depends(key_header)) -> None:
        if not key or key not in api_keys:
            raise ErpError("Invalid login attempt: missing or unknown X-Api-Key header.", status=401,
                           code="INVALID_LOGIN")

    _install_error_handlers(app)
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(authenticated)], responses=_ERRORS)
    _customer_routes(api, state)
    _item_routes(api, state)
    _order_routes(api, state)
    _stock_routes(api, state)
    _refund_routes(api, state)
    app.include_router(api)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ErpError)
    async def business(_request: Request, exc: ErpError) -> JSONResponse:
        return JSONResponse(error_body(exc.status, exc.message, exc.code, exc.path), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ""
            for loc in err["loc"][1:] if err["loc"] and err["loc"][0] in ("body", "query", "path") else err["loc"]:
                where += f"[{loc}]" if isinstance(loc, int) else (f".{loc}" if where else str(loc))
            problems.append((where, err["msg"]))
        message = "; ".join(f"{where}: {msg}" if where else msg for where, msg in problems)
        body = error_body(400, message, "INVALID_CONTENT", problems[0][0] if problems else "")
        body["o:errorDetails"] = [{"detail": f"{w}: {m}" if w else m, "o:errorCode": "INVALID_CONTENT",
                                   "o:errorPath": w} for w, m in problems]
        return JSONResponse(body, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "NONEXISTENT_ID" if exc.status_code == 404 else "INVALID_REQUEST"
        return JSONResponse(error_body(exc.status_code, str(exc.detail), code), status_code=exc.status_code)


def _customer_routes(api: APIRouter, state: ErpState) -> None:
    @api.get("/customers", operation_id="listCustomers", response_model=s.Page[s.Customer], tags=["customers"],
             summary="List customers", openapi_extra=_PAGINATION)
    async def list_customers(page: Page = 1, limit: Limit = 50, updated_since: Since = None,
                             email: Annotated[str | None, Query(description="Exact email, any letter case.")] = None,
                             phone: Annotated[str | None, Query(description="Phone number in any format.")] = None,
                             ) -> dict[str, Any]:
        """Customers, oldest change first; find one by `email` (case-insensitive) or `phone` (any format)."""
        if email or phone:
            found = state.find_customers(email=email, phone=phone)
            if updated_since is not None:
                found = [c for c in found if c["updated_at"] >= model.stamp(updated_since)]
            chunk = found[(page - 1) * limit: page * limit]
            more = page * limit < len(found)
            return {"items": chunk, "page": page, "limit": limit, "total": len(found), "has_more": more,
                    "next_page": page + 1 if more else None}
        return _page(state, "customers", page, limit, updated_since, [])

    @api.post("/customers", operation_id="createCustomer", response_model=s.Customer, status_code=201,
              tags=["customers"], summary="Create a customer", responses=_CONFLICT)
    async def create_customer(body: s.CustomerIn, idempotency_key: IdemKey = None) -> dict[str, Any]:
        """Create a customer. Email need not be unique; `external_ref` is (a repeat returns the first)."""
        data = body.model_dump(mode="json")
        fp = _fingerprint(data)
        return state.replay(idempotency_key, fp, "customers") or state.create_customer(
            data, key=idempotency_key, fingerprint=fp)

    @api.get("/customers/{customer_id}", operation_id="getCustomer", response_model=s.Customer,
             tags=["customers"], summary="Get a customer", responses=_NOT_FOUND)
    async def get_customer(customer_id: str) -> dict[str, Any]:
        """One customer by id."""
        return _must(state.get("customers", customer_id), f"customer {customer_id} does not exist")

    @api.patch("/customers/{customer_id}", operation_id="updateCustomer", response_model=s.Customer,
               tags=["customers"], summary="Update a customer", responses=_NOT_FOUND)
    async def update_customer(customer_id: str, body: s.CustomerPatch) -> dict[str, Any]:
        """Change the fields given; the others stay."""
        return state.update_customer(customer_id, body.model_dump(mode="json", exclude_none=True))


def _item_routes(api: APIRouter, state: ErpState) -> None:
    @api.get("/items", operation_id="listItems", response_model=s.Page[s.Item], tags=["items"],
             summary="List items", openapi_extra=_PAGINATION)
    async def list_items(page: Page = 1, limit: Limit = 50, updated_since: Since = None,
                         code: Annotated[str | None, Query(description="Exact product code (SKU).")] = None,
                         ) -> dict[str, Any]:
        """Items (stock-keeping units), oldest change first; `code` finds one by product code."""
        return _page(state, "items", page, limit, updated_since, [("id = ?", code)] if code else [])

    @api.get("/items/{code}", operation_id="getItem", response_model=s.Item, tags=["items"],
             summary="Get an item by product code", responses=_NOT_FOUND)
    async def get_item(code: Annotated[str, Path(description="Product code (SKU).")]) -> dict[str, Any]:
        """One item by its product code."""
        return _must(state.get("items", code), f"product code {code} does not exist")

    @api.put("/items/{code}", operation_id="upsertItem", response_model=s.Item, tags=["items"],
             summary="Create or replace an item")
    async def put_item(code: str, body: s.ItemIn) -> dict[str, Any]:
        """Create the item with this product code, or replace its fields."""
        if body.code != code:
            raise ErpError(f"product code in the path ({code}) and body ({body.code}) differ", path="code")
        return state.upsert_item(body.model_dump(mode="json"))


def _order_routes(api: APIRouter, state: ErpState) -> None:
    @api.get("/sales-orders", operation_id="listSalesOrders", response_model=s.Page[s.SalesOrder],
             tags=["sales orders"], summary="List sales orders", openapi_extra=_PAGINATION)
    async def list_orders(page: Page = 1, limit: Limit = 50, updated_since: Since = None,
                          status: Annotated[s.OrderStatus | None, Query()] = None,
                          external_ref: Annotated[str | None, Query(description="Your order number.")] = None,
                          ) -> dict[str, Any]:
        """Sales orders, oldest change first; filter by `status` or find one by `external_ref`."""
        where = [("k1 = ?", status)] if status else []
        where += [("k2 = ?", external_ref)] if external_ref else []
        return _page(state, "sales_orders", page, limit, updated_since, where)

    @api.post("/sales-orders", operation_id="createSalesOrder", response_model=s.SalesOrder, status_code=201,
              tags=["sales orders"], summary="Create a sales order", responses=_CONFLICT)
    async def create_order(body: s.SalesOrderIn, request: Request, idempotency_key: IdemKey = None) -> Any:
        """Create a sales order from lines of existing items. A repeat with the same `Idempotency-Key` or
        `external_ref` returns the first order (HTTP 200) instead of creating a second."""
        data = body.model_dump(mode="json")
        fp = _fingerprint(data)
        first = state.replay(idempotency_key, fp, "sales_orders")
        if first is not None:
            return JSONResponse(s.SalesOrder.model_validate(first).model_dump(mode="json"), status_code=200)
        doc, created = state.create_order(data, key=idempotency_key, fingerprint=fp)
        answer = s.SalesOrder.model_validate(doc).model_dump(mode="json")
        return JSONResponse(answer, status_code=201 if created else 200)

    @api.get("/sales-orders/{order_id}", operation_id="getSalesOrder", response_model=s.SalesOrder,
             tags=["sales orders"], summary="Get a sales order", responses=_NOT_FOUND)
    async def get_order(order_id: str) -> dict[str, Any]:
        """One sales order by id."""
        return state.order(order_id)

    @api.post("/sales-orders/{order_id}/confirm", operation_id="confirmSalesOrder", response_model=s.SalesOrder,
              tags=["sales orders"], summary="Confirm a draft order", responses={**_NOT_FOUND, **_CONFLICT})
    async def confirm(order_id: str) -> dict[str, Any]:
        """draft -> confirmed (a confirmed order stays confirmed)."""
        return state.set_status(order_id, "confirmed")

    @api.post("/sales-orders/{order_id}/cancel", operation_id="cancelSalesOrder", response_model=s.SalesOrder,
              tags=["sales orders"], summary="Cancel an order", responses={**_NOT_FOUND, **_CONFLICT})
    async def cancel(order_id: str) -> dict[str, Any]:
        """draft or confirmed -> cancelled; an order with fulfilments cannot be cancelled (credit it instead)."""
        return state.set_status(order_id, "cancelled")

    @api.post("/sales-orders/{order_id}/fulfilments", operation_id="createItemFulfilment",
              response_model=s.Fulfilment, status_code=201, tags=["fulfilments"],
              summary="Fulfil an order (all or part)", responses={**_NOT_FOUND, **_CONFLICT})
    async def fulfil(order_id: str, body: s.FulfilmentIn, idempotency_key: IdemKey = None) -> dict[str, Any]:
        """Ship some or all open quantities; the order becomes partially_fulfilled or fulfilled and stock at
        `location` goes down."""
        data = body.model_dump(mode="json")
        fp = _fingerprint({"order": order_id, **data})
        return state.replay(idempotency_key, fp, "fulfilments") or state.fulfil(
            order_id, data, key=idempotency_key, fingerprint=fp)

    @api.get("/item-fulfilments", operation_id="listItemFulfilments", response_model=s.Page[s.Fulfilment],
             tags=["fulfilments"], summary="List item fulfilments", openapi_extra=_PAGINATION)
    async def list_fulfilments(page: Page = 1, limit: Limit = 50, updated_since: Since = None,
                               order_id: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        """Item fulfilments (shipments), oldest change first."""
        return _page(state, "fulfilments", page, limit, updated_since, [("k1 = ?", order_id)] if order_id else [])

    @api.get("/item-fulfilments/{fulfilment_id}", operation_id="getItemFulfilment", response_model=s.Fulfilment,
             tags=["fulfilments"], summary="Get an item fulfilment", responses=_NOT_FOUND)
    async def get_fulfilment(fulfilment_id: str) -> dict[str, Any]:
        """One item fulfilment by id."""
        return _must(state.get("fulfilments", fulfilment_id), f"item fulfilment {fulfilment_id} does not exist")


def _stock_routes(api: APIRouter, state: ErpState) -> None:
    @api.get("/stock", operation_id="listStockLevels", response_model=s.Page[s.StockLevel], tags=["stock"],
             summary="List stock per item and location", openapi_extra=_PAGINATION)
    async def list_stock(page: Page = 1, limit: Limit = 50, updated_since: Since = None,
                         item_code: Annotated[str | None, Query()] = None,
                         location: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        """Stock levels, oldest change first; filter by `item_code` and/or `location`."""
        where = [("k1 = ?", item_code)] if item_code else []
        where += [("k2 = ?", location)] if location else []
        return _page(state, "stock", page, limit, updated_since, where)

    @api.post("/stock/adjustments", operation_id="adjustStock", response_model=s.StockLevel, tags=["stock"],
              summary="Adjust stock of one item at one location")
    async def adjust(body: s.StockAdjustmentIn, idempotency_key: IdemKey = None) -> dict[str, Any]:
        """Add `delta` (negative to remove) or set `on_hand` to a counted quantity. A repeat with the same
        `Idempotency-Key` is not applied twice."""
        if (body.delta is None) == (body.on_hand is None):
            raise ErpError("give exactly one of delta or on_hand", path="delta")
        fp = _fingerprint(body.model_dump(mode="json"))
        first = state.replay(idempotency_key, fp, "stock")
        if first is not None:
            return first
        return state.adjust_stock(body.item_code, body.location, delta=body.delta, on_hand=body.on_hand,
                                  reason=body.reason, key=idempotency_key, fingerprint=fp)


def _refund_routes(api: APIRouter, state: ErpState) -> None:
    @api.get("/credit-memos", operation_id="listCreditMemos", response_model=s.Page[s.CreditMemo],
             tags=["credit memos"], summary="List credit memos", openapi_extra=_PAGINATION)
    async def list_memos(page: Page = 1, limit: Limit = 50, updated_since: Since = None,
                         order_id: Annotated[str | None, Query()] = None,
                         external_ref: Annotated[str | None, Query(description="Your refund's id.")] = None,
                         ) -> dict[str, Any]:
        """Credit memos (refunds), oldest change first; filter by order, or find one by `external_ref`."""
        where = [("k1 = ?", order_id)] if order_id else []
        where += [("k2 = ?", external_ref)] if external_ref else []
        return _page(state, "credit_memos", page, limit, updated_since, where)

    @api.post("/credit-memos", operation_id="createCreditMemo", response_model=s.CreditMemo, status_code=201,
              tags=["credit memos"], summary="Refund (part of) an order", responses={**_NOT_FOUND, **_CONFLICT})
    async def create_memo(body: s.CreditMemoIn, idempotency_key: IdemKey = None) -> dict[str, Any]:
        """Credit an order: never more than its total minus earlier credits; `restock` lines return stock."""
        data = body.model_dump(mode="json")
        fp = _fingerprint(data)
        return state.replay(idempotency_key, fp, "credit_memos") or state.credit(
            data, key=idempotency_key, fingerprint=fp)

    @api.get("/credit-memos/{memo_id}", operation_id="getCreditMemo", response_model=s.CreditMemo,
             tags=["credit memos"], summary="Get a credit memo", responses=_NOT_FOUND)
    async def get_memo(memo_id: str) -> dict[str, Any]:
        """One credit memo by id."""
        return _must(state.get("credit_memos", memo_id), f"credit memo {memo_id} does not exist")


def twin_routes(app: FastAPI, state: ErpState, limiter: ConcurrencyLimit) -> None:
    """``/_twin/`` helpers: seed canonical entities (or generated data), and inspect state and counters."""

    @app.get("/", include_in_schema=False)
    async def index() -> JSONResponse:
        return JSONResponse({"twin": "erp", "api": API_PREFIX, "openapi": "/openapi.json", "docs": "/docs",
                             "auth": "X-Api-Key header", "admin": "/_twin/"})

    @app.get("/_twin/", include_in_schema=False)
    async def admin_index() -> JSONResponse:
        return JSONResponse({"helpers": {
            "POST /_twin/seed": "canonical products/customers/stock/orders, or {\"generate\": {\"seed\": 1}}",
            "GET /_twin/state": "record counts and the concurrency limiter's counters",
            "GET /_twin/records/{table}": "every record of customers, items, sales_orders, stock, fulfilments, "
                                          "credit_memos",
            "GET|POST|DELETE /_twin/faults": "faults set now", "GET /_twin/log": "faults applied so far"}})

    @app.post("/_twin/seed", include_in_schema=False)
    async def seed(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body() or b"{}")
            counts = seed_from_json(state, body)
        except (ValueError, TypeError, KeyError) as exc:
            return JSONResponse({"error": f"cannot seed: {exc}"}, status_code=400)
        return JSONResponse({"seeded": counts})

    @app.get("/_twin/state", include_in_schema=False)
    async def inspect() -> JSONResponse:
        tables = ("customers", "items", "sales_orders", "stock", "fulfilments", "credit_memos")
        return JSONResponse({"counts": {t: state.count(t) for t in tables},
                             "concurrency": {"limit": limiter.limit, "in_flight": limiter.in_flight,
                                             "rejected": limiter.rejected}})

    @app.get("/_twin/records/{table}", include_in_schema=False)
    async def records(table: str) -> JSONResponse:
        if table not in ("customers", "items", "sales_orders", "stock", "fulfilments", "credit_memos"):
            return JSONResponse({"error": f"unknown table {table}"}, status_code=404)
        return JSONResponse({"items": state.all(table)})


def seed_from_json(state: ErpState, body: dict[str, Any]) -> dict[str, int]:
    """Seed from canonical entity dicts (``products``, ``customers``, ``stock``, ``orders``) or
    ``{"generate": {"seed": 1, "products": 12, "customers": 30, "orders": 0}}`` (the data generator)."""
    if "generate" in body:
        from doohickey.twins.datagen import generate

        options = dict(body["generate"] or {})
        data = generate(int(options.pop("seed", 0)), **{k: int(v) for k, v in options.items()})
        return state.seed(products=data.products, customers=data.customers, stock=data.stock, orders=data.orders)
    return state.seed(
        products=[model.from_dict(model.Product, p) for p in body.get("products", [])],
        customers=[model.from_dict(model.Customer, c) for c in body.get("customers", [])],
        stock=[model.from_dict(model.StockLevel, x) for x in body.get("stock", [])],
        orders=[model.from_dict(model.Order, o) for o in body.get("orders", [])],
    )




def _must(doc: dict[str, Any] | None, message: str) -> dict[str, Any]:
    if doc is None:
        raise ErpError(message, status=404, code="NONEXISTENT_ID")
    return doc


ASGI = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class ConcurrencyLimit:
    """Refuses API requests beyond ``limit`` in flight, as NetSuite does (429 ``CONCURRENCY_LIMIT_EXCEEDED``).

    ``service_seconds`` is how long each API request takes (on the injected clock),
    so concurrent callers really overlap. ``limit`` 0 or None means unlimited.
    Only ``/api/`` paths count; the admin and documentation paths never do.
    """

    def __init__(self, app: ASGI, *, limit: int | None, clock: Clock, service_seconds: float = 0.0) -> None:
        self.app = app
        self.limit = limit
        self.clock = clock
        self.service_seconds = service_seconds
        self.in_flight = 0
        self.rejected = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith("/api/"):
            await self.app(scope, receive, send)
            return
        if self.limit and self.in_flight >= self.limit:
            self.rejected += 1
            raw = json.dumps(error_body(429, CONCURRENCY_MESSAGE, "CONCURRENCY_LIMIT_EXCEEDED")).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
            await send({"type": "http.response.start", "status": 429, "headers": headers})
            await send({"type": "http.response.body", "body": raw})
            return
        # One event loop serves the twin, so this counter needs no lock.
        self.in_flight += 1
        try:
            if self.service_seconds:
                await self.clock.sleep(self.service_seconds)
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
