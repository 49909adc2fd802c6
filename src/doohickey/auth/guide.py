"""`doohickey auth setup`: what credentials a System needs, which scopes the plan needs, where references go.

:func:`guide_from_profile` reads a discovery profile (auth schemes, OAuth scopes and
scope tables); :func:`guide_from_connector` reads a dedicated connector's ``settings``.
Scopes follow least privilege: each entity the plan reads gets a read-only scope when
the API has one, each entity it writes gets the write scope (which, for the APIs we
know, also reads). The plan snippet holds only references (``{env: NAME}``), never values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from doohickey.auth.credentials import secret_names
from doohickey.connectors.spec import Connector
from doohickey.discover.profile import AuthScheme, SystemProfile

SCOPE_WORDS: dict[str, tuple[str, ...]] = {
    "order": ("order",), "order_line": ("order",), "customer": ("customer", "contact", "user"),
    "address": ("customer", "address"), "product": ("product", "catalog", "item"),
    "variant": ("product", "catalog", "variant", "item"), "stock": ("inventory", "stock", "product"),
    "shipment": ("shipment", "shipping", "fulfillment", "fulfilment", "order"),
    "fulfilment": ("fulfillment", "fulfilment", "shipment", "order"),
    "refund": ("refund", "transaction", "payment", "order"), "return": ("return", "order"),
    "consent": ("consent", "customer"),
}
_READ = re.compile(r"read[_-]?only|readonly|[:._]read$|^read[_:]|\bread\b|_read$|view", re.I)


@dataclass(frozen=True)
class Need:
    """One setting of the Connection: its name, what it is, and the reference to put in the plan."""

    name: str
    description: str
    secret: bool = True
    reference: str = ""


@dataclass(frozen=True)
class ScopeNeed:
    """The scope(s) one entity needs for the plan's flows, and why."""

    entity: str
    access: str
    scopes: tuple[str, ...]
    reason: str


@dataclass
class Guide:
    """Everything `auth setup` tells a person about one System."""

    system: str
    scheme: str
    explanation: list[str] = field(default_factory=list)
    needs: list[Need] = field(default_factory=list)
    scopes: list[ScopeNeed] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    snippet: str = ""

    @property
    def all_scopes(self) -> list[str]:
        """Every scope to request, once each, in order."""
        seen: list[str] = []
        for need in self.scopes:
            seen += [s for s in need.scopes if s not in seen]
        return seen


def env_name(system: str, setting: str) -> str:
    """The suggested environment variable for a setting (``ERP_API_KEY``)."""
    return re.sub(r"[^A-Z0-9]+", "_", f"{system}_{setting}".upper()).strip("_")


def plan_access(plan: Any, system: str) -> dict[str, set[str]]:
    """Which entities the plan reads from and writes to ``system`` (flows and reconciliation)."""
    access: dict[str, set[str]] = {}
    for flow in getattr(plan, "flows", {}).values():
        if flow.source == system:
            access.setdefault(flow.entity, set()).add("read")
        if flow.target == system:
            access.setdefault(flow.entity, set()).add("write")
        if str(getattr(flow, "direction", "")).endswith("two-way") and system in (flow.source, flow.target):
            access.setdefault(flow.entity, set()).update({"read", "write"})
    for key, rec in getattr(plan, "reconcile", {}).items():
        if system in (getattr(rec, "between", None) or []):
            access.setdefault(plan.reconcile_entity(key), set()).add("read")
    return access


def choose_scheme(profile: SystemProfile, name: str | None = None) -> AuthScheme | None:
    """The scheme to set up: the named one, else the first required one, else the first declared."""
    if name:
        for scheme in profile.auth:
            if scheme.name == name:
                return scheme
        raise KeyError(f"no auth scheme {name!r}; the profile declares: "
                       f"{', '.join(s.name for s in profile.auth) or 'none'}")
    required = [s for s in profile.auth if s.required]
    return (required or profile.auth or [None])[0]


def guide_from_profile(system: str, profile: SystemProfile, access: Mapping[str, Iterable[str]], *,
                       scheme_name: str | None = None, env: str = "production", url: str = "",
                       flow: str = "") -> Guide:
    """The setup guide for a System known through a discovery profile."""
    scheme = choose_scheme(profile, scheme_name)
    url = url or (profile.servers[0].url if profile.servers else "https://...")
    if scheme is None:
        guide = Guide(system, "none declared", ["The API document declares no authentication. If the API does "
                                                "need credentials, add them as settings of the connection."])
        guide.snippet = snippet(system, env, url, [])
        return guide
    guide = Guide(system, f"{scheme.name} ({describe(scheme)})")
    guide.explanation.append(f"{system} authenticates with {describe(scheme)}.")
    if scheme.description and "](" not in scheme.description:  # skip lines that are only links to docs
        guide.explanation.append(scheme.description)
    for name, text in secret_names(scheme, flow):
        guide.needs.append(Need(name, text, True, f"{{env: {env_name(system, name)}}}"))
    extra: list[tuple[str, str]] = []
    if scheme.type == "oauth2":
        token_url = next((f.token_url for f in scheme.flows if f.token_url), "")
        guide.needs.append(Need("token_url", f"the token endpoint ({token_url or 'not declared: ask the vendor'})",
                                False, token_url))
        if any(n.name == "refresh_token" for n in guide.needs):
            store = f".doohickey/tokens/{system}.json"
            guide.needs.append(Need("token_store", "file where rotated tokens are kept (created with mode 0600; "
                                    "keep it out of version control)", False, store))
            extra.append(("token_store", store))
        extra.append(("token_url", token_url))
    guide.scopes, guide.unmatched = scopes_for(scheme, access)
    if guide.scopes and scheme.type == "oauth2":
        extra.append(("scopes", " ".join(guide.all_scopes)))  # requested with each token
    elif guide.scopes:
        guide.explanation.append("Grant the scopes below to the API account or app that issues the key; "
                                 "the key carries them.")
    guide.snippet = snippet(system, env, url, [n for n in guide.needs if n.secret], extra)
    return guide


def guide_from_connector(system: str, connector: Connector, *, env: str = "production", url: str = "") -> Guide:
    """The setup guide for a System with a dedicated connector (from its ``settings`` declaration)."""
    guide = Guide(system, connector.name, [connector.description] if connector.description else [])
    for setting in connector.settings:
        reference = f"{{env: {env_name(system, setting.name)}}}" if setting.secret else ""
        guide.needs.append(Need(setting.name, setting.description + ("" if setting.required else " (optional)"),
                                setting.secret, reference))
    plain = [(s.name, "...") for s in connector.settings if not s.secret and s.name != "url"]
    guide.snippet = snippet(system, env, url or "https://...", [n for n in guide.needs if n.secret], plain)
    return guide


def describe(scheme: AuthScheme) -> str:
    """A scheme in a few plain words."""
    if scheme.type == "apiKey":
        return f"an API key in the {scheme.param_name} {scheme.location or 'header'}"
    if scheme.type == "http":
        return "HTTP Basic (user name and password)" if scheme.scheme == "basic" else "a bearer token"
    if scheme.type == "oauth2":
        kinds = ", ".join(f.kind.replace("_", " ") for f in scheme.flows) or "unspecified flow"
        return f"OAuth2 ({kinds})"
    return scheme.type


def scopes_for(scheme: AuthScheme, access: Mapping[str, Iterable[str]]) -> tuple[list[ScopeNeed], list[str]]:
    """Least-privilege scopes per entity; also the entities for which no scope could be matched."""
    offered: dict[str, tuple[str, str]] = {}  # scope -> (access, text to match)
    for flow in scheme.flows:
        for scope, text in flow.scopes.items():
            offered.setdefault(scope, (scope_access(scope, text), f"{scope} {text}".lower()))
    for hint in scheme.scope_hints:
        offered.setdefault(hint.scope, (hint.access if hint.access != "unknown" else scope_access(hint.scope, ""),
                                        f"{hint.scope} {hint.label}".lower()))
    if not offered:
        return [], []
    needs: list[ScopeNeed] = []
    unmatched: list[str] = []
    for entity in sorted(access):
        wanted = set(access[entity])
        matches = _matching(entity, offered)
        if not matches:
            unmatched.append(entity)
            continue
        writes = [s for s in matches if offered[s][0] != "read"]
        reads = [s for s in matches if offered[s][0] == "read"]
        if "write" in wanted:
            chosen = tuple(writes[:1] or reads[:1])
            reason = "written by the plan" + (" and read" if "read" in wanted else "")
        else:
            chosen = tuple(reads[:1] or writes[:1])
            reason = "only read by the plan" + ("" if reads else " (the API offers no read-only scope for it)")
        needs.append(ScopeNeed(entity, "write" if "write" in wanted else "read", chosen, reason))
    return needs, unmatched


def scope_access(scope: str, text: str) -> str:
    """``read`` for read-only scopes (``read_orders``, ``orders:read``, ``*_read_only``), else ``write``."""
    if _READ.search(scope) or re.search(r"read[- ]only|\bread\b(?!.*(write|modify|change|manage))", text, re.I):
        return "read"
    return "write"


def _matching(entity: str, offered: dict[str, tuple[str, str]]) -> list[str]:
    for word in SCOPE_WORDS.get(entity, (entity,)):
        found = [s for s, (_, text) in offered.items() if word in text]
        if found:
            return found
    return []


def snippet(system: str, env: str, url: str, secrets: list[Need], plain: list[tuple[str, str]] | None = None) -> str:
    """The plan lines to add: the Connection with secret references only."""
    lines = ["systems:", f"  {system}:", f"    {env}:", f"      url: {url}"]
    for need in secrets:
        lines.append(f"      {need.name}: {need.reference}")
    for name, value in plain or []:
        if value:
            lines.append(f"      {name}: {value}")
    return "\n".join(lines)


def render(guide: Guide) -> str:
    """The guide as plain text for the terminal."""
    out = [f"{guide.system}: {guide.scheme}", ""]
    out += [f"  {line}" for line in guide.explanation]
    if guide.needs:
        out += ["", "Credentials to provide:"]
        for need in guide.needs:
            where = f" -> {need.reference}" if need.secret else (f" = {need.reference}" if need.reference else "")
            out.append(f"  - {need.name}: {need.description}{where}")
    if guide.scopes:
        out += ["", "Scopes the plan's flows need (least privilege):"]
        for scope in guide.scopes:
            out.append(f"  - {scope.entity} ({scope.reason}): {', '.join(scope.scopes)}")
    if guide.unmatched:
        out.append(f"  ! no scope found for: {', '.join(guide.unmatched)} (check the API's scope list by hand)")
    out += ["", "Put references (never the values) in the plan:", "", *(f"  {ln}" for ln in guide.snippet.split("\n"))]
    out += ["", "Then set the environment variables (or files) and run `doohickey auth test "
                f"{guide.system}`."]
    return "\n".join(out)
