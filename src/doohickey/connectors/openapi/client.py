"""The generic OpenAPI client: reads and writes any System from its discovery profile.

Reading follows the profile's list operation to the end of the data (page numbers,
offsets, opaque cursors or ``Link: rel=next`` headers) and polls with the profile's
updated-since filter. Writing uses the create/update/delete operations as declared,
filling path placeholders from the record (``/orders/{order_id}/shipments`` takes
``order_id`` from the payload) and wrapping the body in a list for batch endpoints.
Records carry the API's own (native) payload. HTTP failures become the errors of
``doohickey.errors`` (see :func:`raise_for`), with the API's own message.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from doohickey.auth.credentials import build_auth
from doohickey.auth.guide import choose_scheme
from doohickey.connectors.http import RetryBudget, retry_after_seconds
from doohickey.connectors.spec import ConnectionSettings, ConnectOptions, Page, Record, WriteRequest, WriteResult
from doohickey.discover.build import discover_document
from doohickey.discover.profile import EntityProfile, Operation, SystemProfile, load_profile
from doohickey.errors import (
    AuthError,
    ConnectorError,
    DoohickeyError,
    NotFoundError,
    RateLimited,
    RejectedError,
    TransientError,
    Unavailable,
)

_LINK_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*rel="?next"?', re.I)
_ID_FILTERS = ("id", "id:in", "ids", "include", "id[in]", "filter[id]")
MAX_SCAN_PAGES = 50


@dataclass(frozen=True)
class Answer:
    """A successful HTTP answer and its parsed JSON body (``None`` when empty)."""

    response: httpx.Response
    body: Any


def dig(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` in ``data`` (``meta.pagination.total_pages``); ``data`` for ``""``."""
    if not path:
        return data
    for part in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def api_message(response: httpx.Response) -> str:
    """The API's own words for a refusal (``detail``, ``message``, ``errors``, NetSuite ``o:errorDetails``)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip() or response.reason_phrase
    if isinstance(body, dict):
        for key in ("detail", "message", "error_description", "title"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key]
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(error, str):
            return error
        errors = body.get("errors")
        if isinstance(errors, str) and errors:
            return errors
        if isinstance(errors, list) and errors:
            return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors[:5])
        if isinstance(errors, dict):
            return "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:5])
    return json.dumps(body)[:300]


def raise_for(response: httpx.Response, system: str, what: str) -> None:
    """Raise the error-tree exception for a non-2xx answer; ``what`` says what we were doing."""
    status = response.status_code
    if status < 400:
        return
    text = api_message(response)
    detail = f"{response.request.method} {response.request.url.copy_with(query=None)} -> {status}: {text}"
    if status == 429:
        raise RateLimited(f"{system} is rate limiting us while {what}: {text}", system=system, status=status,
                          retry_after=_retry_after(response), detail=detail)
    if status == 503:
        raise Unavailable(f"{system} is unavailable while {what}: {text}", system=system, status=status,
                          retry_after=_retry_after(response), detail=detail)
    if status >= 500 or status == 408:
        raise TransientError(f"{system} failed while {what} (HTTP {status}): {text}", system=system, status=status,
                             detail=detail)
    if status in (401, 403):
        from doohickey.auth.probe import explain_response

        explained = explain_response(response, str(response.request.url.copy_with(query=None)))
        raise AuthError(f"{system}: {explained.message} while {what}", system=system, status=status, detail=detail)
    if status == 404:
        raise NotFoundError(f"{system}: not found while {what}: {text}", system=system, status=status, detail=detail)
    raise RejectedError(f"{system} refused {what}: {text}", system=system, status=status, detail=detail)


def _retry_after(response: httpx.Response) -> float | None:
    return retry_after_seconds(response)


def _iso(moment: dt.datetime, fmt: str) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    moment = moment.astimezone(dt.UTC)
    return moment.date().isoformat() if fmt == "date" else moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO-8601 (or RFC 2822) time from a record, as an aware datetime; ``None`` when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class OpenAPIClient:
    """A live Connection to one System, driven by a :class:`SystemProfile`.

    The profile comes from ``options["profile"]`` (a path, a dict or a profile) or is
    discovered at first use from ``options["spec"]`` (a URL path such as
    ``/openapi.json``, fetched from the System itself, or a full URL).
    """

    def __init__(self, settings: ConnectionSettings, options: ConnectOptions,
                 profile: SystemProfile | None = None) -> None:
        self.settings = settings
        self.options = options
        self.system = settings.system or "openapi"
        self.profile = profile
        self._http = httpx.AsyncClient(transport=options.transport, timeout=options.timeout,
                                       headers={"Accept": "application/json"})
        self._auth: httpx.Auth | None = None
        self._ready = False
        opts = settings.options
        self.retry = RetryBudget(attempts=int(opts.get("retry_attempts", 3)),
                                 seconds=float(opts.get("retry_seconds", 10.0)), backoff=0.25)

    # -- setup ---------------------------------------------------------------------------------

    async def _prepare(self) -> SystemProfile:
        if self._ready and self.profile is not None:
            return self.profile
        if self.profile is None:
            self.profile = await self._load_profile()
        secrets = dict(self.settings.secrets)
        if secrets:
            scheme = choose_scheme(self.profile, self.settings.options.get("auth_scheme"))
            if scheme is not None:
                self._auth = build_auth(scheme, secrets, self.settings.options, clock=self.options.clock,
                                        base_url=self.settings.url)
        self._ready = True
        return self.profile

    async def _load_profile(self) -> SystemProfile:
        source = self.settings.options.get("profile")
        if isinstance(source, SystemProfile):
            return source
        if source is not None:
            return load_profile(source)
        spec = self.settings.options.get("spec", "/openapi.json")
        url = spec if str(spec).startswith(("http://", "https://")) else self.settings.url.rstrip("/") + "/" + \
            str(spec).lstrip("/")
        try:
            response = await self._http.get(url)
        except httpx.HTTPError as exc:
            raise TransientError(f"{self.system}: cannot fetch the API document {url}: {exc}",
                                 system=self.system) from None
        raise_for(response, self.system, f"fetching the API document {url}")
        try:
            return discover_document(response.json(), url)
        except ValueError:
            raise RejectedError(f"{self.system}: {url} is not JSON; give the profile instead",
                                system=self.system) from None

    def _entity(self, name: str) -> EntityProfile:
        assert self.profile is not None
        try:
            return self.profile.entity(name)
        except KeyError as exc:
            raise RejectedError(f"{self.system}: {exc.args[0]}", system=self.system) from None

    def _base(self, entity: EntityProfile) -> str:
        """The entity's server URL with its variables from the settings (``store_hash``), else ``url``.

        A merged profile can hold several servers (BigCommerce's /v2 and /v3): an entity whose
        server template can be filled from the settings uses it; otherwise ``url`` is the base.
        """
        server = entity.server or (self.profile.servers[0].url if self.profile and self.profile.servers else "")
        given = {k: str(v) for k, v in self.settings.options.items() if isinstance(v, str | int)}
        names = re.findall(r"\{(\w+)\}", server)
        if server.startswith(("http://", "https://")) and names and all(n in given for n in names):
            return re.sub(r"\{(\w+)\}", lambda m: given[m.group(1)], server).rstrip("/")
        if self.settings.url:
            return self.settings.url.rstrip("/")
        defaults = self.profile.servers[0].variables if self.profile and self.profile.servers else {}
        return re.sub(r"\{(\w+)\}", lambda m: {**defaults, **given}.get(m.group(1), m.group(0)), server).rstrip("/")

    def _url(self, entity: EntityProfile, op: Operation, values: Mapping[str, Any], external_id: str | None) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == op.id_param and external_id is not None:
                return str(external_id)
            for source in (values, self.settings.options):
                if source.get(name) not in (None, ""):
                    return str(source[name])
            if name == op.id_param and values.get(entity.id_field) not in (None, ""):
                return str(values[entity.id_field])
            raise RejectedError(f"{self.system}: {op.method} {op.path} needs {{{name}}} but the {entity.name} "
                                f"record has no {name!r} field", system=self.system)

        return self._base(entity) + re.sub(r"\{([^}/]+)\}", fill, op.path)

    # -- HTTP ----------------------------------------------------------------------------------

    async def _send(self, method: str, url: str, what: str, *, safe: bool | None = None,
                    **kwargs: Any) -> Answer:
        """One request with short retries inside the call (the engine does the long, durable ones).

        Transient failures are tried again within a small budget, honouring Retry-After; a
        request that is not safe to repeat (a POST without an idempotency key) is retried only
        when the System surely did not act on it (429, 503, a refused connection).
        """
        safe = method.upper() in ("GET", "HEAD", "PUT", "DELETE") if safe is None else safe
        clock = self.options.clock
        started = clock.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._send_once(method, url, what, **kwargs)
            except TransientError as exc:
                wait = self._retry_wait(exc, attempt, safe, clock.monotonic() - started)
                if wait is None:
                    raise
                await clock.sleep(wait)

    def _retry_wait(self, exc: TransientError, attempt: int, safe: bool, spent: float) -> float | None:
        budget = self.retry
        if attempt >= budget.attempts:
            return None
        acted_on = not isinstance(exc, RateLimited | Unavailable) and not getattr(exc, "not_sent", False)
        if not safe and acted_on:
            return None
        asked = getattr(exc, "retry_after", None)
        wait = asked if asked is not None else budget.backoff * 2 ** (attempt - 1)
        return None if spent + wait > budget.seconds else wait

    async def _send_once(self, method: str, url: str, what: str, **kwargs: Any) -> Answer:
        pacer = self.options.pacer
        if pacer is not None:
            await pacer.acquire()
        try:
            response = await self._http.request(method, url, auth=self._auth or httpx.USE_CLIENT_DEFAULT, **kwargs)
        except DoohickeyError:
            raise
        except httpx.TimeoutException as exc:
            error = TransientError(f"{self.system} did not answer in time while {what}", system=self.system,
                                   detail=str(exc))
            error.not_sent = isinstance(exc, httpx.ConnectTimeout)  # type: ignore[attr-defined]
            raise error from None
        except httpx.HTTPError as exc:
            error = TransientError(f"{self.system}: cannot connect while {what}: {exc}", system=self.system)
            error.not_sent = isinstance(exc, httpx.ConnectError)  # type: ignore[attr-defined]
            raise error from None
        finally:
            if pacer is not None:
                pacer.release()
        if pacer is not None:
            pacer.observe(retry_after=_retry_after(response) if response.status_code == 429 else None)
        raise_for(response, self.system, what)
        body: Any = None
        if response.content and response.status_code != 204:
            try:
                body = response.json()
            except ValueError:
                # a cut or garbled body: for a read, asking again is harmless; a write may have happened
                raise TransientError(f"{self.system} answered {what} with a body that is not valid JSON "
                                     f"(HTTP {response.status_code}, {len(response.content)} bytes)",
                                     system=self.system, status=response.status_code,
                                     detail=response.text[:300]) from None
        return Answer(response, body)

    def _record(self, entity: EntityProfile, data: Any) -> Record:
        if not isinstance(data, dict):
            raise RejectedError(f"{self.system}: a {entity.name} record is not an object: {str(data)[:80]}",
                                system=self.system)
        external_id = dig(data, entity.id_field)
        stamp = dig(data, entity.poll.field) if entity.poll and entity.poll.field else None
        return Record(system=self.system, entity=entity.name, external_id=str(external_id) if external_id is not
                      None else "", data=data, version=str(stamp or ""), updated_at=parse_time(stamp))

    # -- Client protocol -----------------------------------------------------------------------

    async def check(self) -> None:
        """One cheap authenticated call: the first entity's list, one record."""
        profile = await self._prepare()
        for entity in profile.entities.values():
            listing = entity.operations.get("list")
            if listing is not None and all(p in self.settings.options for p in listing.path_params):
                await self.read(entity.name, limit=1)
                return
        raise RejectedError(f"{self.system}: the profile has no list operation to test with", system=self.system)

    async def read(self, entity: str, *, since: dt.datetime | None = None, cursor: str | None = None,
                   limit: int = 100) -> Page:
        """One page of records changed at or after ``since``; ``next_cursor`` is ``None`` on the last page."""
        await self._prepare()
        return await self._read_page(self._entity(entity), since, cursor, limit, {})

    async def _read_page(self, ent: EntityProfile, since: dt.datetime | None, cursor: str | None, limit: int,
                         extra: dict[str, Any]) -> Page:
        entity = ent.name
        op = ent.operations.get("list")
        if op is None:
            raise RejectedError(f"{self.system}: the profile has no list operation for {entity}", system=self.system)
        pag = ent.pagination
        size = min(limit, pag.max_size) if pag.max_size else limit
        params: dict[str, Any] = {**extra, **({pag.size_param: size} if pag.size_param else {})}
        if since is not None and ent.poll and ent.poll.param:
            params[ent.poll.param] = _iso(since, ent.poll.format)
        position = int(cursor) if cursor and pag.style in ("page", "offset") else None
        if pag.style == "page" and pag.page_param:
            params[pag.page_param] = position if position is not None else pag.first_page
        elif pag.style == "offset" and pag.offset_param:
            params[pag.offset_param] = position or 0
        elif pag.style == "cursor" and cursor and pag.cursor_param:
            params[pag.cursor_param] = cursor
        if pag.style == "link" and cursor:
            url, params = cursor, {}
        else:
            url = self._url(ent, op, self.settings.options, None)
        answer = await self._send("GET", url, f"listing {entity}", params=params)
        body, response = answer.body, answer.response
        rows = dig(body, ent.records_path)
        if not isinstance(rows, list) and isinstance(body, dict):
            # the document did not say where the records are: take the answer's only list
            lists = [v for k, v in body.items() if isinstance(v, list) and k not in ("errors", "links", "warnings")]
            rows = lists[0] if len(lists) == 1 else rows
        if not isinstance(rows, list):
            raise RejectedError(f"{self.system}: the {entity} list answer has no list at "
                                f"{ent.records_path or 'the top level'}", system=self.system)
        records = [self._record(ent, row) for row in rows]
        if since is not None and not (ent.poll and ent.poll.param):
            records = [r for r in records if r.updated_at is None or r.updated_at >= _aware(since)]
        return Page(records=records, next_cursor=self._next(pag, body, response, len(rows), size, position))

    def _next(self, pag: Any, body: Any, response: httpx.Response, count: int, size: int,
              position: int | None) -> str | None:
        if pag.style == "link":
            found = _LINK_NEXT.search(response.headers.get("link", ""))
            return found.group(1) if found else None
        if pag.style == "cursor":
            value = dig(body, pag.next_cursor_path) if pag.next_cursor_path else None
            return str(value) if value not in (None, "") and count else None
        if pag.style not in ("page", "offset"):
            return None
        if pag.has_more_path and isinstance(dig(body, pag.has_more_path), bool):
            more = bool(dig(body, pag.has_more_path))
        elif pag.total_pages_path and isinstance(dig(body, pag.total_pages_path), int) and pag.style == "page":
            more = (position or pag.first_page) < int(dig(body, pag.total_pages_path))
        else:
            more = count >= size and count > 0
        if not more:
            return None
        if pag.style == "page":
            return str((position if position is not None else pag.first_page) + 1)
        return str((position or 0) + count)

    async def get(self, entity: str, external_id: str) -> Record | None:
        """One record by id (``None`` when the System says it does not exist)."""
        await self._prepare()
        ent = self._entity(entity)
        op = ent.operations.get("get")
        if op is None or not op.id_param:
            found = await self._scan(ent, {ent.id_field: external_id}, self._id_filter(ent))
            return found[0] if found else None
        try:
            answer = await self._send("GET", self._url(ent, op, {}, external_id), f"reading {entity} {external_id}")
        except NotFoundError:
            return None
        return self._record(ent, dig(answer.body, op.record_path))

    def _id_filter(self, ent: EntityProfile) -> str:
        filters = ent.operations["list"].filters if "list" in ent.operations else []
        return next((f for f in _ID_FILTERS if f in filters), "")

    async def find(self, entity: str, key: Mapping[str, str]) -> list[Record]:
        """Records whose fields equal ``key`` (email compared without letter case)."""
        await self._prepare()
        ent = self._entity(entity)
        filters = ent.operations["list"].filters if "list" in ent.operations else []
        server_filter = next((f for name in key for f in (name, f"{name}:in", f"{name}[eq]") if f in filters), "")
        return await self._scan(ent, dict(key), server_filter)

    async def _scan(self, ent: EntityProfile, key: Mapping[str, Any], server_filter: str) -> list[Record]:
        if "list" not in ent.operations:
            raise RejectedError(f"{self.system}: no way to look up {ent.name} records (no list operation)",
                                system=self.system)
        wanted = {k: str(v) for k, v in key.items()}
        params = {}
        if server_filter:
            base = server_filter.split(":")[0].split("[")[0]
            params[server_filter] = wanted.get(base, next(iter(wanted.values())))
        found: list[Record] = []
        cursor: str | None = None
        for _ in range(MAX_SCAN_PAGES):
            page = await self._read_page(ent, None, cursor, ent.pagination.max_size or 100, params)
            found += [r for r in page.records if all(_same(dig(r.data, k), v, k) for k, v in wanted.items())]
            cursor = page.next_cursor
            if cursor is None:
                break
        return found

    async def write(self, request: WriteRequest) -> WriteResult:
        """Create, update or delete one record with the profile's operation for it."""
        await self._prepare()
        ent = self._entity(request.entity)
        action = {"upsert": "update" if request.external_id else "create"}.get(request.action, request.action)
        op = ent.operations.get(action)
        if op is None:
            known = ", ".join(k for k in ent.operations if k in ("create", "update", "delete")) or "none"
            raise RejectedError(f"{self.system}: the profile has no {request.action} operation for "
                                f"{request.entity} (it has: {known})", system=self.system)
        if action != "create" and not request.external_id and not op.batch:
            raise RejectedError(f"{self.system}: {action} of a {request.entity} needs its external id",
                                system=self.system)
        if action == "create" and self.settings.options.get("preflight") and ent.write_fields:
            self._preflight(ent, request)
        body: Any = dict(request.data)
        if op.batch:
            if request.external_id and action != "create":
                body = {ent.id_field: _typed_id(request.external_id), **body}
            body = [body]
        headers = {}
        idem = next((h for h in op.headers if h.lower().replace("-", "_") in ("idempotency_key", "x_idempotency_key")),
                    "")
        if idem and request.idempotency_key:
            headers[idem] = request.idempotency_key
        url = self._url(ent, op, request.data, request.external_id)
        what = f"{action} of {request.entity}" + (f" {request.external_id}" if request.external_id else "")
        kwargs: dict[str, Any] = {"headers": headers}
        if action == "delete":
            if op.batch or not op.id_param:
                id_filter = self._id_filter(ent) or "id:in"
                kwargs["params"] = {id_filter: request.external_id}
        else:
            kwargs["json"] = body
        safe = None if op.method != "POST" else bool(headers)  # an idempotency key makes a POST repeatable
        reply = await self._send(op.method, url, what, safe=safe, **kwargs)
        if action == "delete" or reply.body is None:
            return WriteResult(external_id=request.external_id or "", data={})
        answer = dig(reply.body, op.record_path)
        if isinstance(answer, list):
            answer = answer[0] if answer else {}
        record = self._record(ent, answer if isinstance(answer, dict) else {})
        return WriteResult(external_id=record.external_id or request.external_id or "", version=record.version,
                           data=record.data)

    def _preflight(self, ent: EntityProfile, request: WriteRequest) -> None:
        """Refuse a create the document's schema already rules out, saying which fields and why."""
        from doohickey.discover.preflight import preflight

        problems = preflight(request.data, ent.write_fields)
        if problems:
            listed = "; ".join(str(p) for p in problems[:10])
            raise RejectedError(f"{self.system}: the {ent.name} would be refused (checked against "
                                f"{ent.write_schema or 'the API document'} before sending): {listed}",
                                system=self.system)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _typed_id(value: str) -> Any:
    return int(value) if value.isdigit() else value


def _same(have: Any, want: str, key: str) -> bool:
    if have is None:
        return False
    if "email" in key.lower():
        return str(have).strip().lower() == want.strip().lower()
    return str(have) == want


__all__ = ["ConnectorError", "OpenAPIClient", "api_message", "dig", "parse_time", "raise_for"]
