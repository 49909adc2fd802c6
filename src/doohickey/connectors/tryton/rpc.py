"""Tryton's JSON-RPC over HTTP: session login, typed values, and Tryton's errors as doohickey errors.

Tryton tags non-JSON values (``{"__class__": "Decimal", "decimal": "19.99"}``,
datetimes, dates); :func:`encode` and :func:`decode` convert them. Every call
carries a context with the user's company. A session is opened with
``common.db.login`` and sent as ``Authorization: Session base64(login:uid:token)``;
an expired session is renewed once, transparently.

Errors: HTTP statuses and network failures go through the shared error table
(``connectors.http``). Tryton answers business errors inside a 200 as
``{"error": ["UserError", [message, description, domain]]}``: UserError and
UserWarning become :class:`RejectedError` quoting Tryton's own message;
AccessError and login failures :class:`AuthError`; ConcurrencyException
:class:`TransientError`.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
from decimal import Decimal
from typing import Any

from doohickey.connectors.http import HttpSession
from doohickey.connectors.spec import ConnectionSettings, ConnectOptions
from doohickey.errors import AuthError, RejectedError, TransientError


def encode(value: Any) -> Any:
    """Python values to Tryton's tagged JSON."""
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
        return {"__class__": "datetime", "year": value.year, "month": value.month, "day": value.day,
                "hour": value.hour, "minute": value.minute, "second": value.second,
                "microsecond": value.microsecond}
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """Tryton's tagged JSON to Python values; datetimes come back timezone-aware UTC."""
    if isinstance(value, dict):
        kind = value.get("__class__")
        if kind == "Decimal":
            return Decimal(value["decimal"])
        if kind == "datetime":
            return dt.datetime(value["year"], value["month"], value["day"], value.get("hour", 0),
                               value.get("minute", 0), value.get("second", 0), value.get("microsecond", 0),
                               tzinfo=dt.UTC)
        if kind == "date":
            return dt.date(value["year"], value["month"], value["day"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


READ_ONLY = ("common.db.login", ".read", ".search", ".search_read", ".search_count", ".get_preferences",
             ".fields_get")


class TrytonRpc:
    """One authenticated JSON-RPC session to one Tryton database, over the shared HTTP session.

    The HTTP layer (``connectors.http.HttpSession``) brings pacing, the status -> error table
    and short in-call retries; read-only methods are retried after any transient failure,
    writes only when Tryton surely did not act (429, 503, refused connection).
    """

    def __init__(self, settings: ConnectionSettings, options: ConnectOptions) -> None:
        self.system = settings.system
        self.login_name = str(settings.options.get("login", "admin"))
        password = settings.secrets.get("password")
        self._password = password.reveal() if password else ""
        self.http = HttpSession(settings, options)
        self._ids = itertools.count(1)
        self._auth: str | None = None
        self.context: dict[str, Any] = {}

    async def login(self) -> None:
        """Open a session and read the user's company into the call context."""
        try:
            result = await self._post("common.db.login", [self.login_name, {"password": self._password}, "en"],
                                      authenticated=False)
        except AuthError:
            result = None
        if not result:
            raise AuthError(f"{self.system}: Tryton refused the login of user {self.login_name!r}: "
                            "wrong login or password", system=self.system)
        user_id, token = result[0], result[1]
        raw = f"{self.login_name}:{user_id}:{token}".encode()
        self._auth = "Session " + base64.b64encode(raw).decode()
        preferences = await self._post("model.res.user.get_preferences", [True, {}])
        self.context = {"company": preferences.get("company"), "language": preferences.get("language", "en")}
        if not self.context["company"]:
            raise RejectedError("the Tryton user has no company; set one in the user's preferences",
                                system=self.system)

    async def call(self, method: str, *params: Any, context: dict[str, Any] | None = None) -> Any:
        """Call ``method`` with ``params`` and the session context (plus ``context`` overrides)."""
        if self._auth is None:
            await self.login()
        args = [encode(p) for p in params] + [{**self.context, **(context or {})}]
        try:
            return await self._post(method, args)
        except AuthError:
            await self.login()  # the session may have expired: renew once
            return await self._post(method, args)

    async def _post(self, method: str, params: list[Any], *, authenticated: bool = True) -> Any:
        headers = {"Authorization": self._auth} if authenticated and self._auth else None
        body = {"id": next(self._ids), "method": method, "params": params}
        payload = await self.http.call("POST", "/rpc/", json_body=body, headers=headers, what=method,
                                       safe=method.endswith(READ_ONLY), inspect=self._inspect)
        return decode((payload or {}).get("result"))

    def _inspect(self, body: Any, response: Any) -> None:
        if isinstance(body, dict) and body.get("error"):
            method = (json.loads(response.request.content) or {}).get("method", "call")
            raise tryton_error(method, body["error"], self.system)

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self.http.aclose()


def tryton_error(method: str, error: Any, system: str) -> Exception:
    """Classify one Tryton error answer, keeping Tryton's own message for a person."""
    kind, args = (error[0], error[1]) if isinstance(error, list) and len(error) > 1 else (str(error), None)
    message = args[0] if isinstance(args, list) and args else str(args or kind)
    if kind in ("UserError", "UserWarning"):
        return RejectedError(f"Tryton rejected {method}: {message}", system=system)
    if kind in ("AccessError", "LoginException", "NotLogged") or "403" in str(kind):
        return AuthError(f"Tryton denied {method}: {message}", system=system)
    if kind in ("ConcurrencyException", "DatabaseOperationalError", "RateLimitException"):
        return TransientError(f"Tryton was busy on {method}: {message}", system=system)
    return RejectedError(f"Tryton failed on {method}: {kind}: {message}", system=system)
