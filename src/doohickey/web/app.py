"""The engine's HTTP surface (Starlette, bound to 127.0.0.1 by default).

* ``POST /webhooks/{system}``: webhook intake. The delivery is verified, checked and stored
  before the answer, so a 2xx means "durably recorded" (see :mod:`doohickey.engine.intake`).
* ``GET /api/status``: backlog, retries, dead letters and lag per flow, as JSON.
* ``GET /api/deadletters`` and ``GET /api/deadletters/{id}``: open dead letters.
* ``GET /api/trace/{system}/{entity}/{id}``: the life of one record.
* ``GET /healthz``: liveness.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from doohickey.engine import audit, deadletter
from doohickey.engine.intake import Intake
from doohickey.engine.store import Store

MAX_BODY = 5_000_000


def create_app(intake: Intake, store: Store, status: Callable[[], dict[str, Any]] | None = None,
               *, threaded: bool = False) -> Starlette:
    """The Starlette app serving webhooks and the JSON API for one engine.

    ``threaded`` runs the store write of each webhook in a worker thread (keeps the event loop free
    under load at the price of a thread hop); by default it runs inline, which is faster on SQLite.
    """

    async def webhook(request: Request) -> JSONResponse:
        system = request.path_params["system"]
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": f"body larger than {MAX_BODY} bytes"}, status_code=413)
        headers = dict(request.headers)
        if intake.commits is not None and intake.commits.enabled:
            answer = await intake.receive_async(system, headers, body, intake.commits)
        elif threaded:
            answer = await run_in_threadpool(intake.receive, system, headers, body)
        else:
            answer = intake.receive(system, headers, body)
        return JSONResponse(answer.body, status_code=answer.status)

    async def api_status(_: Request) -> JSONResponse:
        return JSONResponse(status() if status else {}, status_code=200)

    async def api_deadletters(_: Request) -> JSONResponse:
        return JSONResponse([_letter(d) for d in deadletter.list_open(store)])

    async def api_deadletter(request: Request) -> JSONResponse:
        found = deadletter.get(store, int(request.path_params["id"]))
        if found is None:
            return JSONResponse({"error": "no such dead letter"}, status_code=404)
        return JSONResponse({**_letter(found), "record": found.record,
                             "attempts": [{k: str(v) for k, v in a.items()}
                                          for a in deadletter.attempts_of(store, found.event_id)]})

    async def api_trace(request: Request) -> JSONResponse:
        p = request.path_params
        return JSONResponse([{"at": e.at.isoformat(), "flow": e.flow, "system": e.system, "entity": e.entity,
                              "id": e.external_id, "action": e.action, "detail": e.detail}
                             for e in audit.trace(store, p["system"], p["entity"], p["id"])])

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(routes=[
        Route("/webhooks/{system}", webhook, methods=["POST"]),
        Route("/api/status", api_status),
        Route("/api/deadletters", api_deadletters),
        Route("/api/deadletters/{id:int}", api_deadletter),
        Route("/api/trace/{system}/{entity}/{id:path}", api_trace),
        Route("/healthz", healthz),
    ])


def _letter(d: deadletter.DeadLetter) -> dict[str, Any]:
    return {"id": d.id, "flow": d.flow, "system": d.system, "entity": d.entity, "external_id": d.external_id,
            "reason": d.reason, "attempts": d.attempts, "owner": d.owner, "created_at": d.created_at.isoformat(),
            "status": d.status}
