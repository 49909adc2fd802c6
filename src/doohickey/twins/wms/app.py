"""The WMS twin's HTTP API (FastAPI): fulfilment requests, shipments, stock, goods-in and webhook subscriptions.

Under ``/api/v1``, authenticated with ``Authorization: Bearer <token>`` (declared
in the OpenAPI document at ``/openapi.json``). Lists page with ``page``/``limit``
and filter with ``updated_since``. Errors answer
``{"error": {"code", "message", "field"}}``. ``/_twin/`` holds the simulation
helpers: ``POST /_twin/tick`` (advance the warehouse to the clock's now and send
due webhooks), ``POST /_twin/seed``, ``GET /_twin/state``, ``GET /_twin/deliveries``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from doohickey import model
from doohickey.twins.wms.state import WmsError, WmsState

API_PREFIX = "/api/v1"
_PAGINATION = {"x-pagination": {"style": "page", "page_param": "page", "limit_param": "limit", "items": "items",
                                "has_more": "has_more", "next_page": "next_page", "first_page": 1}}

Page_ = Annotated[int, Query(ge=1, description="Page number, from 1.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Records per page (at most 500).")]
Since = Annotated[dt.datetime | None, Query(description="Only records changed at or after this ISO-8601 time; "
                                                        "results are oldest change first.")]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", description="A repeat with the same key returns "
                                                                             "the first result.")]


class Strict(BaseModel):
    """Requests refuse unknown fields."""

    model_config = ConfigDict(extra="forbid")


class ShipTo(BaseModel):
    """Where the parcel goes; ``country`` is ISO 3166-1 alpha-2."""

    name: str = ""
    company: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    phone: str = ""
    email: str = ""


class Line(Strict):
    """Quantity of one SKU."""

    sku: str = Field(..., min_length=1)
    quantity: int = Field(..., ge=1)


class RequestLine(Line):
    """A requested line and how much of it has shipped."""

    model_config = ConfigDict(extra="ignore")
    shipped: int = 0


class FulfilmentRequestIn(Strict):
    """Ask the warehouse to pick and ship an order."""

    order_ref: str = Field(..., min_length=1, description="Your order reference; unique: a repeat returns the first.")
    lines: list[Line] = Field(..., min_length=1)
    ship_to: ShipTo | None = None
    service_level: Literal["standard", "express"] = "standard"
    carrier: str | None = Field(None, description="Preferred carrier; the warehouse chooses when absent.")


class FulfilmentRequest(BaseModel):
    """A fulfilment request: received -> picking -> (backordered) -> partially_shipped -> shipped, or cancelled."""

    id: str
    order_ref: str
    status: Literal["received", "picking", "backordered", "partially_shipped", "shipped", "cancelled"]
    lines: list[RequestLine]
    ship_to: ShipTo | None = None
    service_level: str
    carrier: str
    parcels_planned: int
    parcels_shipped: int = 0
    created_at: str
    updated_at: str


class Shipment(BaseModel):
    """One parcel that left the warehouse, with carrier and tracking; ``final`` when the request is complete."""

    id: str
    request_id: str
    order_ref: str
    parcel: int
    final: bool
    lines: list[Line]
    carrier: str
    tracking_number: str
    tracking_url: str
    shipped_at: str
    created_at: str
    updated_at: str


class Stock(BaseModel):
    """Stock of one SKU: ``available = on_hand - reserved`` (reserved for open requests)."""

    sku: str
    on_hand: int
    reserved: int
    available: int
    updated_at: str


class GoodsInIn(Strict):
    """A goods-in receipt: stock that arrived at the warehouse."""

    reference: str = ""
    supplier: str = ""
    lines: list[Line] = Field(..., min_length=1)


class GoodsIn(GoodsInIn):
    """A recorded goods-in receipt."""

    model_config = ConfigDict(extra="ignore")
    id: str
    created_at: str
    updated_at: str


class SubscriptionIn(Strict):
    """Where to POST events, and which topics (``shipment.created``, ``stock.updated``,
    ``fulfilment_request.received``, ``fulfilment_request.cancelled``, or ``*``)."""

    url: str
    topics: list[str] = Field(default_factory=lambda: ["*"])


class Subscription(SubscriptionIn):
    """A webhook subscription."""

    model_config = ConfigDict(extra="ignore")
    id: str
    created_at: str


class Page(BaseModel):
    """A page envelope; ``items`` hold the resource."""

    page: int
    limit: int
    total: int
    has_more: bool
    next_page: int | None = None


class RequestPage(Page):
    """A page of fulfilment requests."""

    items: list[FulfilmentRequest]


class ShipmentPage(Page):
    """A page of shipments."""

    items: list[Shipment]


class StockPage(Page):
    """A page of stock records."""

    items: list[Stock]


class GoodsInPage(Page):
    """A page of goods-in receipts."""

    items: list[GoodsIn]


class Problem(BaseModel):
    """What went wrong."""

    code: str
    message: str
    field: str = ""


class ErrorBody(BaseModel):
    """Every error answer."""

    error: Problem


def _error(status: int, message: str, code: str, field: str = "") -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "field": field}}, status_code=status)


def _paged(state: WmsState, table: str, page: int, limit: int, since: dt.datetime | None,
           where: list[tuple[str, Any]]) -> dict[str, Any]:
    items, total = state.page(table, since=since, page=page, limit=limit, where=where)
    more = page * limit < total
    return {"items": items, "page": page, "limit": limit, "total": total, "has_more": more,
            "next_page": page + 1 if more else None}


def build_app(state: WmsState, *, tokens: tuple[str, ...], lifespan: Any = None) -> FastAPI:
    """The WMS FastAPI app over ``state``; requests need ``Authorization: Bearer`` with one of ``tokens``."""
    app = FastAPI(title="doohickey WMS twin", version="1.0.0", lifespan=lifespan,
                  description="A warehouse system (sandbox twin): send fulfilment requests, poll shipments with "
                              "`updated_since` or subscribe to signed webhooks (`X-WMS-Signature`), record goods-in, "
                              "read stock. Authenticate with `Authorization: Bearer <token>`. Lists page with "
                              "`page` (from 1) and `limit`, oldest change first.")
    bearer = HTTPBearer(scheme_name="BearerToken", auto_error=False, description="The warehouse API token.")

    async def authenticated(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if credentials is None or credentials.credentials not in tokens:
            raise WmsError("missing or unknown bearer token", status=401, code="unauthorized")

    @app.exception_handler(WmsError)
    async def business(_request: Request, exc: WmsError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.code, exc.field)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            locs = err["loc"][1:] if err["loc"] and err["loc"][0] in ("body", "query", "path") else err["loc"]
            where = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in locs).lstrip(".")
            problems.append(f"{where}: {err['msg']}" if where else err["msg"])
        return _error(422, "; ".join(problems), "invalid")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), "not_found" if exc.status_code == 404 else "http_error")

    errors: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody, "description": "Bad or missing token."},
                                               422: {"model": ErrorBody, "description": "Invalid request."}}
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(authenticated)], responses=errors)
    _request_routes(api, state)
    _stock_routes(api, state)
    app.include_router(api)
    return app


def _request_routes(api: APIRouter, state: WmsState) -> None:
    @api.post("/fulfilment-requests", operation_id="createFulfilmentRequest", response_model=FulfilmentRequest,
              status_code=201, tags=["fulfilment"], summary="Ask the warehouse to ship an order")
    async def create_request(body: FulfilmentRequestIn, idempotency_key: IdemKey = None) -> Any:
        """Accepted requests are picked and shipped over time; a repeat (same key or order_ref) returns the first
        (HTTP 200)."""
        doc, created = state.request(body.model_dump(mode="json"), key=idempotency_key)
        return JSONResponse(FulfilmentRequest.model_validate(doc).model_dump(mode="json"),
                            status_code=201 if created else 200)

    @api.get("/fulfilment-requests", operation_id="listFulfilmentRequests", response_model=RequestPage,
             tags=["fulfilment"], summary="List fulfilment requests", openapi_extra=_PAGINATION)
    async def list_requests(page: Page_ = 1, limit: Limit = 50, updated_since: Since = None,
                            order_ref: Annotated[str | None, Query()] = None,
                            status: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        """Fulfilment requests, oldest change first."""
        where = [("k1 = ?", order_ref)] if order_ref else []
        where += [("k2 = ?", status)] if status else []
        return _paged(state, "requests", page, limit, updated_since, where)

    @api.get("/fulfilment-requests/{request_id}", operation_id="getFulfilmentRequest",
             response_model=FulfilmentRequest, tags=["fulfilment"], summary="Get a fulfilment request")
    async def get_request(request_id: str) -> dict[str, Any]:
        """One fulfilment request by id."""
        doc = state.get("requests", request_id)
        if doc is None:
            raise WmsError(f"fulfilment request {request_id} does not exist", status=404, code="not_found")
        return doc

    @api.post("/fulfilment-requests/{request_id}/cancel", operation_id="cancelFulfilmentRequest",
              response_model=FulfilmentRequest, tags=["fulfilment"], summary="Cancel a request not yet shipped")
    async def cancel_request(request_id: str) -> dict[str, Any]:
        """Cancel; refused once a parcel has shipped."""
        return state.cancel(request_id)

    @api.get("/shipments", operation_id="listShipments", response_model=ShipmentPage, tags=["fulfilment"],
             summary="List shipments (parcels)", openapi_extra=_PAGINATION)
    async def list_shipments(page: Page_ = 1, limit: Limit = 50, updated_since: Since = None,
                             order_ref: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        """Shipments with carrier and tracking, oldest first: poll with `updated_since`."""
        return _paged(state, "shipments", page, limit, updated_since, [("k1 = ?", order_ref)] if order_ref else [])

    @api.get("/shipments/{shipment_id}", operation_id="getShipment", response_model=Shipment, tags=["fulfilment"],
             summary="Get a shipment")
    async def get_shipment(shipment_id: str) -> dict[str, Any]:
        """One shipment by id."""
        doc = state.get("shipments", shipment_id)
        if doc is None:
            raise WmsError(f"shipment {shipment_id} does not exist", status=404, code="not_found")
        return doc


def _stock_routes(api: APIRouter, state: WmsState) -> None:
    @api.get("/stock", operation_id="listStock", response_model=StockPage, tags=["stock"], summary="List stock",
             openapi_extra=_PAGINATION)
    async def list_stock(page: Page_ = 1, limit: Limit = 50, updated_since: Since = None,
                         sku: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        """Stock per SKU, oldest change first."""
        return _paged(state, "stock", page, limit, updated_since, [("k1 = ?", sku)] if sku else [])

    @api.get("/stock/{sku}", operation_id="getStock", response_model=Stock, tags=["stock"], summary="Stock of a SKU")
    async def get_stock(sku: str) -> dict[str, Any]:
        """Stock of one SKU."""
        doc = state.stock(sku)
        if doc is None:
            raise WmsError(f"sku {sku} is not stocked in this warehouse", status=404, code="not_found")
        return doc

    @api.post("/goods-in", operation_id="createGoodsIn", response_model=GoodsIn, status_code=201, tags=["stock"],
              summary="Record a goods-in receipt")
    async def goods_in(body: GoodsInIn, idempotency_key: IdemKey = None) -> dict[str, Any]:
        """Stock of each line goes up; backordered requests ship on the next tick."""
        return state.receive(body.model_dump(mode="json"), key=idempotency_key)

    @api.get("/goods-in", operation_id="listGoodsIn", response_model=GoodsInPage, tags=["stock"],
             summary="List goods-in receipts", openapi_extra=_PAGINATION)
    async def list_goods_in(page: Page_ = 1, limit: Limit = 50, updated_since: Since = None) -> dict[str, Any]:
        """Goods-in receipts, oldest first."""
        return _paged(state, "receipts", page, limit, updated_since, [])

    @api.post("/webhooks", operation_id="createWebhook", response_model=Subscription, status_code=201,
              tags=["webhooks"], summary="Subscribe to events")
    async def subscribe(body: SubscriptionIn) -> dict[str, Any]:
        """Events are POSTed to `url`, signed with `X-WMS-Signature` (HMAC-SHA256 of timestamp "." body)."""
        return state.subscribe(body.url, body.topics)

    @api.get("/webhooks", operation_id="listWebhooks", response_model=list[Subscription], tags=["webhooks"],
             summary="List subscriptions")
    async def subscriptions() -> list[dict[str, Any]]:
        """Every webhook subscription."""
        return state.all("subscriptions")

    @api.delete("/webhooks/{subscription_id}", operation_id="deleteWebhook", status_code=204, tags=["webhooks"],
                summary="Unsubscribe")
    async def unsubscribe(subscription_id: str) -> None:
        """Remove a subscription."""
        if not state.unsubscribe(subscription_id):
            raise WmsError(f"webhook subscription {subscription_id} does not exist", status=404, code="not_found")


def twin_routes(app: FastAPI, state: WmsState) -> None:
    """``/_twin/`` helpers: tick the simulation, seed, and inspect state and deliveries."""

    @app.get("/", include_in_schema=False)
    async def index() -> JSONResponse:
        return JSONResponse({"twin": "wms", "api": API_PREFIX, "openapi": "/openapi.json", "docs": "/docs",
                             "auth": "Authorization: Bearer", "admin": "/_twin/"})

    @app.get("/_twin/", include_in_schema=False)
    async def admin_index() -> JSONResponse:
        return JSONResponse({"helpers": {
            "POST /_twin/tick": "ship what is due at the clock's now and send due webhooks",
            "POST /_twin/seed": "canonical stock/products, or {\"generate\": {\"seed\": 1}}",
            "GET /_twin/state": "record counts and simulation settings",
            "GET /_twin/deliveries": "every webhook delivery with its status and attempts",
            "GET|POST|DELETE /_twin/faults": "faults set now", "GET /_twin/log": "faults applied so far"}})

    @app.post("/_twin/tick", include_in_schema=False)
    async def tick() -> JSONResponse:
        shipments = state.tick()
        posts = await state.deliverer.run_once() if state.deliverer else 0
        return JSONResponse({"shipments": shipments, "webhook_posts": posts})

    @app.post("/_twin/seed", include_in_schema=False)
    async def seed(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            if "generate" in body:
                from doohickey.twins.datagen import generate

                data = generate(int((body["generate"] or {}).get("seed", 0)))
                counts = state.seed(stock=data.stock, products=data.products)
            else:
                counts = state.seed(stock=[model.from_dict(model.StockLevel, x) for x in body.get("stock", [])],
                                    products=[model.from_dict(model.Product, p) for p in body.get("products", [])])
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return _error(400, f"cannot seed: {exc}", "invalid")
        return JSONResponse({"seeded": counts})

    @app.get("/_twin/state", include_in_schema=False)
    async def inspect() -> JSONResponse:
        counts = {t: state.page(t, limit=1)[1] for t in ("stock", "requests", "shipments", "receipts", "events")}
        return JSONResponse({"counts": counts, "pick_seconds": state.pick_seconds,
                             "partial_share": state.partial_share, "last_loop_error": state.last_loop_error})

    @app.get("/_twin/deliveries", include_in_schema=False)
    async def deliveries() -> JSONResponse:
        return JSONResponse({"deliveries": state.deliveries()})
