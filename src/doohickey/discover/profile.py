"""The system profile: what discovery learned about one System's API, as a pydantic model.

Every guess carries a ``confidence`` (0..1) and ``evidence`` (where in the document it
came from: a method and path, a parameter, a security scheme), so a person can check it.
The profile is written as YAML or JSON (``to_yaml`` / ``to_json``) and read back with
:func:`load_profile`; the generic ``openapi`` connector and guided auth are driven by it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from doohickey.errors import DoohickeyError

OperationKind = Literal["list", "get", "create", "update", "delete"]
OPERATION_KINDS: tuple[str, ...] = ("list", "get", "create", "update", "delete")


class Evidence(BaseModel):
    """Where a guess came from: ``where`` is a place in the document, ``detail`` what was seen there."""

    where: str
    detail: str = ""


class FieldInfo(BaseModel):
    """One field of a record schema, flattened to a dotted path (``lines[].sku``)."""

    path: str
    type: str = ""
    format: str = ""
    required: bool = False
    read_only: bool = False
    nullable: bool = False
    enum: list[Any] = Field(default_factory=list)
    max_length: int | None = None
    min_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""


class Operation(BaseModel):
    """One API operation that does ``kind`` for an entity.

    ``batch`` means the body (or response) is a list of records; ``path_params`` are the
    URL placeholders to fill (the record's own id is ``id_param``); ``filters`` are the
    list's query parameters; ``scopes`` the OAuth scopes the document asks for.
    """

    kind: OperationKind
    method: str
    path: str
    operation_id: str = ""
    batch: bool = False
    id_param: str = ""
    path_params: list[str] = Field(default_factory=list)
    filters: list[str] = Field(default_factory=list)
    headers: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(default_factory=list)
    record_path: str = ""
    confidence: float = 0.5
    evidence: list[Evidence] = Field(default_factory=list)


class Pagination(BaseModel):
    """How a list operation pages: ``page`` / ``offset`` numbers, an opaque ``cursor``, or a ``link`` header."""

    style: Literal["page", "offset", "cursor", "link", "none"] = "none"
    page_param: str = ""
    size_param: str = ""
    offset_param: str = ""
    cursor_param: str = ""
    first_page: int = 1
    default_size: int | None = None
    max_size: int | None = None
    next_cursor_path: str = ""
    total_pages_path: str = ""
    has_more_path: str = ""
    total_header: str = ""
    link_header: bool = False
    also: list[str] = Field(default_factory=list)
    confidence: float = 0.0
    evidence: list[Evidence] = Field(default_factory=list)


class PollField(BaseModel):
    """How to ask for records changed since a time: the list ``param`` and the record ``field`` holding the time."""

    param: str = ""
    field: str = ""
    format: str = "date-time"
    sort_param: str = ""
    sort_value: str = ""
    confidence: float = 0.0
    evidence: list[Evidence] = Field(default_factory=list)


class EnumHint(BaseModel):
    """A status-like enumeration (order status, payment state) and where it is declared."""

    entity: str = ""
    field: str
    values: list[Any]
    evidence: list[Evidence] = Field(default_factory=list)


class EntityProfile(BaseModel):
    """One business entity the API exposes, with its operations and how to read it incrementally."""

    name: str
    resource: str
    canonical: bool = True
    server: str = ""
    operations: dict[str, Operation] = Field(default_factory=dict)
    id_field: str = "id"
    id_confidence: float = 0.0
    records_path: str = ""
    poll: PollField | None = None
    pagination: Pagination = Field(default_factory=Pagination)
    fields: list[FieldInfo] = Field(default_factory=list)
    write_fields: list[FieldInfo] = Field(default_factory=list)
    write_schema: str = ""
    enums: list[EnumHint] = Field(default_factory=list)
    alternatives: list[str] = Field(default_factory=list)
    confidence: float = 0.0
    evidence: list[Evidence] = Field(default_factory=list)


class OAuthFlow(BaseModel):
    """One OAuth2 flow: its kind (``client_credentials``, ``authorization_code``, ...), URLs and scopes."""

    kind: str
    token_url: str = ""
    authorization_url: str = ""
    refresh_url: str = ""
    scopes: dict[str, str] = Field(default_factory=dict)


class ScopeHint(BaseModel):
    """A scope named in prose (a description's table) rather than in an OAuth flow."""

    scope: str
    access: Literal["read", "write", "unknown"] = "unknown"
    label: str = ""


class AuthScheme(BaseModel):
    """One way to authenticate, from ``securitySchemes`` / ``securityDefinitions`` or guessed from headers.

    ``type`` is ``apiKey``, ``http``, ``oauth2`` or ``openIdConnect``; for ``apiKey``,
    ``location`` and ``param_name`` say where the key goes; for ``http``, ``scheme`` is
    ``basic`` or ``bearer``.
    """

    name: str
    type: str
    location: str = ""
    param_name: str = ""
    scheme: str = ""
    bearer_format: str = ""
    flows: list[OAuthFlow] = Field(default_factory=list)
    scope_hints: list[ScopeHint] = Field(default_factory=list)
    openid_url: str = ""
    required: bool = False
    description: str = ""
    confidence: float = 0.0
    evidence: list[Evidence] = Field(default_factory=list)


class WebhookHint(BaseModel):
    """A webhook or callback the API declares (``topic``), or a subscription endpoint (``operation``)."""

    topic: str
    source: Literal["webhooks", "callbacks", "x-webhooks", "subscription", "schema"] = "webhooks"
    entity: str = ""
    evidence: list[Evidence] = Field(default_factory=list)


class Webhooks(BaseModel):
    """What the API says about pushing changes: topics, how to subscribe, how deliveries are signed."""

    topics: list[WebhookHint] = Field(default_factory=list)
    subscribe: Operation | None = None
    topic_field: str = ""
    signature_header: str = ""
    evidence: list[Evidence] = Field(default_factory=list)


class RateLimitHint(BaseModel):
    """A sign of a rate limit: a response ``header``, a declared ``429``, or ``text`` in a description."""

    kind: Literal["header", "status", "text"]
    detail: str
    count: int = 1
    evidence: list[Evidence] = Field(default_factory=list)


class Server(BaseModel):
    """A base URL, with its template variables (``{store_hash}``) and their defaults."""

    url: str
    variables: dict[str, str] = Field(default_factory=dict)
    description: str = ""


class Stats(BaseModel):
    """Size of what was read, and how long it took."""

    files: int = 1
    paths: int = 0
    operations: int = 0
    schemas: int = 0
    refs: int = 0
    seconds: float = 0.0


class SystemProfile(BaseModel):
    """Everything discovery learned about one System's API."""

    title: str = ""
    api_version: str = ""
    spec_format: str = ""
    sources: list[str] = Field(default_factory=list)
    servers: list[Server] = Field(default_factory=list)
    entities: dict[str, EntityProfile] = Field(default_factory=dict)
    other_resources: list[str] = Field(default_factory=list)
    auth: list[AuthScheme] = Field(default_factory=list)
    webhooks: Webhooks = Field(default_factory=Webhooks)
    rate_limits: list[RateLimitHint] = Field(default_factory=list)
    enums: list[EnumHint] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    stats: Stats = Field(default_factory=Stats)

    def entity(self, name: str) -> EntityProfile:
        """The entity called ``name``; raises KeyError naming the ones that exist."""
        try:
            return self.entities[name]
        except KeyError:
            known = ", ".join(sorted(self.entities)) or "none"
            raise KeyError(f"the profile has no entity {name!r} (it has: {known})") from None

    def to_json(self) -> str:
        """The profile as indented JSON."""
        return self.model_dump_json(indent=2, exclude_defaults=True)

    def to_yaml(self) -> str:
        """The profile as YAML (defaults left out, so it stays readable)."""
        data = json.loads(self.model_dump_json(exclude_defaults=True))
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)

    def write(self, path: str | Path) -> Path:
        """Write the profile as YAML (or JSON for a ``.json`` name)."""
        path = Path(path)
        text = self.to_json() if path.suffix.lower() == ".json" else self.to_yaml()
        path.write_text(text, encoding="utf-8")
        return path


class ProfileError(DoohickeyError):
    """A profile file cannot be read or does not have the profile's shape."""


def load_profile(source: str | Path | dict[str, Any]) -> SystemProfile:
    """Read a profile from a YAML/JSON file (or an already parsed dict)."""
    if isinstance(source, dict):
        data: Any = source
        where = "profile"
    else:
        path = Path(source)
        where = str(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ProfileError(f"{path}: cannot read the profile: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise ProfileError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{where}: a profile is a mapping (made by `doohickey discover --out`)")
    try:
        return SystemProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ProfileError(f"{where}: {loc}: {first['msg']}") from None
