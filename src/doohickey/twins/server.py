"""Running twins: a loopback uvicorn server in a thread, and the admin routes every twin mounts.

:class:`TwinServer` runs any ASGI app on ``127.0.0.1`` on a free port in a
background thread, so tests, scenarios and benchmarks talk to twins over real
HTTP. :func:`admin_routes` gives the ``/_twin/faults`` and ``/_twin/log``
endpoints through which faults are set and inspected at run time, and
:func:`twin_app` assembles a twin's routes, the admin routes and the
:class:`~doohickey.twins.faults.FaultMiddleware` into one app.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from doohickey.twins.faults import ASGIApp, FaultFileError, FaultMiddleware, FaultSet, parse_faults


def listening_socket() -> socket.socket:
    """A TCP socket for a twin: address reuse, and TCP_NODELAY (accepted sockets inherit it on Linux).

    Without TCP_NODELAY every small response waits for Nagle/delayed-ACK, about 40 ms per request.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class TwinServer:
    """Serve an ASGI app with uvicorn on ``host:port`` (0: a free port) in a background thread.

    ``start()`` returns once the server accepts connections; ``url`` is its base
    URL; ``stop()`` shuts it down. Also a context manager.
    """

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning") -> None:
        self.app = app
        self.host = host
        self.port = port
        self.log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:53123``."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> TwinServer:
        """Bind, start serving in a thread, and wait until the server accepts connections."""
        sock = listening_socket()
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(self.app, log_level=self.log_level, lifespan="auto", access_log=False,
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"twin-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"twin server on {self.url} stopped while starting")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"twin server on {self.url} did not start within {timeout} s")
            time.sleep(0.01)
        return self

    def _run(self) -> None:
        assert self._server is not None and self._socket is not None
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the server to exit and wait for its thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._thread = None

    def __enter__(self) -> TwinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def admin_routes(faultset: FaultSet) -> list[BaseRoute]:
    """``GET/POST/DELETE /_twin/faults`` and ``GET /_twin/log``: set, list, clear and audit faults at run time.

    ``POST`` takes one fault object, a list, or ``{"faults": [...]}`` and adds them;
    a bad fault gets a 400 naming the entry and field.
    """

    async def faults(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            faultset.clear()
        elif request.method == "POST":
            try:
                data = json.loads(await request.body() or b"null")
                added = parse_faults(data)
            except json.JSONDecodeError as exc:
                return JSONResponse({"error": f"request body is not JSON: {exc}"}, status_code=400)
            except FaultFileError as exc:
                return JSONResponse({"error": exc.message}, status_code=400)
            for fault in added:
                faultset.add(fault)
        return JSONResponse(faultset.snapshot())

    async def log(request: Request) -> JSONResponse:
        return JSONResponse({"log": list(faultset.log)})

    return [
        Route("/_twin/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_twin/log", log, methods=["GET"]),
    ]


def twin_app(
    routes: Sequence[BaseRoute],
    faultset: FaultSet,
    *,
    graphql_paths: tuple[str, ...] = (),
    lifespan: Callable[[Any], Any] | None = None,
) -> ASGIApp:
    """A twin's ASGI app: its ``routes`` plus the admin routes, wrapped in the fault middleware."""
    app = Starlette(routes=[*admin_routes(faultset), *routes], lifespan=lifespan)
    return FaultMiddleware(app, faultset, graphql_paths=graphql_paths)
