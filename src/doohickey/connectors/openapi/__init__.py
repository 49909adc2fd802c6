"""The generic ``openapi`` connector: any System with an OpenAPI document, driven by its discovery profile.

``CONNECTOR`` is the declaration for the registry. Its entities come from the profile,
so the generic declaration lists none; :func:`for_profile` returns the declaration of
one System (its entities, actions, keys and cursor fields taken from the profile),
which is what the conformance suite and the engine use.

Connection settings: ``url`` (the base URL the profile's paths are appended to),
``profile`` (a profile file from ``doohickey discover --out``) or ``spec`` (the
document's URL, default ``/openapi.json`` on the System itself), ``auth_scheme`` when
several are declared, and the secrets the scheme needs (``api_key``; ``username`` +
``password``; ``token``; ``client_id`` + ``client_secret`` [+ ``refresh_token``,
``token_store``]). See ``connectors/openapi/README.md``.
"""

from __future__ import annotations

from doohickey.connectors.openapi.client import OpenAPIClient
from doohickey.connectors.spec import (
    Client,
    ConnectionSettings,
    ConnectOptions,
    Connector,
    EntitySpec,
    PacingSpec,
    SettingSpec,
)
from doohickey.discover.profile import EntityProfile, SystemProfile

NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "customer": ("email", "external_ref", "customer_number"),
    "product": ("sku", "code", "product_code", "handle"),
    "variant": ("sku", "code", "barcode"),
    "order": ("external_ref", "number", "order_number", "reference", "external_id"),
    "stock": ("sku", "item_code", "variant_id"),
    "refund": ("external_ref", "number"),
    "fulfilment": ("external_ref", "number", "tracking_number"),
    "shipment": ("external_ref", "tracking_number"),
}

SETTINGS = (
    SettingSpec("url", "Base URL the API document's paths are appended to (e.g. https://erp.example/)", False),
    SettingSpec("profile", "Discovery profile file (doohickey discover SPEC --out profile.yaml)", False, False),
    SettingSpec("spec", "URL of the API document when no profile is given (default /openapi.json)", False, False),
    SettingSpec("auth_scheme", "Which declared auth scheme to use when there are several", False, False),
    SettingSpec("api_key", "API key, for API-key schemes", True, False),
    SettingSpec("username", "User name, for HTTP Basic", True, False),
    SettingSpec("password", "Password, for HTTP Basic", True, False),
    SettingSpec("token", "Bearer token, for HTTP bearer", True, False),
    SettingSpec("client_id", "OAuth2 client id", True, False),
    SettingSpec("client_secret", "OAuth2 client secret", True, False),
    SettingSpec("refresh_token", "First OAuth2 refresh token (later ones rotate into token_store)", True, False),
    SettingSpec("token_store", "File for OAuth2 tokens (mode 0600), e.g. .doohickey/tokens/erp.json", False, False),
)


def _connect(settings: ConnectionSettings, options: ConnectOptions) -> Client:
    return OpenAPIClient(settings, options)


def natural_key(entity: EntityProfile) -> str:
    """The field to find an existing record by before creating one (``email``, ``sku``, ...)."""
    top = {f.path for f in entity.fields if "." not in f.path}
    for name in NATURAL_KEYS.get(entity.name, ()):
        if name in top:
            return name
    return entity.id_field


def entity_specs(profile: SystemProfile) -> dict[str, EntitySpec]:
    """EntitySpecs from a profile: readable when it has a list, actions for create/update/delete."""
    specs = {}
    for name, ent in profile.entities.items():
        actions = tuple(k for k in ("create", "update", "delete") if k in ent.operations)
        specs[name] = EntitySpec(name=name, read="list" in ent.operations, actions=actions, key=natural_key(ent),
                                 cursor=ent.poll.field if ent.poll and ent.poll.field else "updated_at")
    return specs


def for_profile(profile: SystemProfile, *, name: str = "openapi", twin: str | None = None) -> Connector:
    """The connector declaration of one System described by ``profile``; clients use that profile."""

    def connect(settings: ConnectionSettings, options: ConnectOptions) -> Client:
        return OpenAPIClient(settings, options, profile)

    return Connector(name=name, kind="generic", description=f"Generic OpenAPI connector for {profile.title or name}",
                     entities=entity_specs(profile), connect=connect, pacing=PacingSpec(kind="requests"),
                     twin=twin, settings=SETTINGS)


CONNECTOR = Connector(
    name="openapi", kind="generic",
    description="Any System with an OpenAPI / Swagger document: reads (paged, polled) and writes through its "
                "discovered operations; records carry the API's own payload.",
    entities={}, connect=_connect, pacing=PacingSpec(kind="requests"), twin=None, settings=SETTINGS,
)

__all__ = ["CONNECTOR", "OpenAPIClient", "entity_specs", "for_profile", "natural_key"]
