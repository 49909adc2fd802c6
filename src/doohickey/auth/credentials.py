"""httpx ``Auth`` values for every scheme discovery finds, and :func:`build_auth` to pick one.

- :class:`ApiKeyAuth`: a key in a header, query parameter or cookie;
- :class:`BearerAuth` and ``httpx.BasicAuth``: static HTTP credentials;
- :class:`OAuth2ClientCredentials`: fetches an access token with the client's id and
  secret, renews it before it expires and once more if the API answers 401;
- :class:`OAuth2RefreshToken`: renews the access token with a refresh token kept in a
  :class:`~doohickey.auth.tokens.TokenStore`, saving a rotated refresh token before
  using the new access token, and recovering when another process won the race.

Token requests go through the same httpx client (``yield`` in the auth flow), so an
injected transport reaches the token endpoint too. No value is ever logged.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator, Generator, Mapping
from typing import Any
from urllib.parse import urljoin

import httpx

from doohickey.auth.tokens import TokenSet, TokenStore
from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.connectors.spec import Secret
from doohickey.discover.profile import AuthScheme
from doohickey.errors import AuthError, SecretError


class ApiKeyAuth(httpx.Auth):
    """Send an API key as a header, a query parameter or a cookie."""

    def __init__(self, name: str, key: Secret, location: str = "header") -> None:
        self.name, self.key, self.location = name, key, location

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the key where the API expects it."""
        value = self.key.reveal()
        if self.location == "query":
            request.url = request.url.copy_merge_params({self.name: value})
        elif self.location == "cookie":
            request.headers["Cookie"] = f"{self.name}={value}"
        else:
            request.headers[self.name] = value
        yield request


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` with a fixed token."""

    def __init__(self, token: Secret) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the bearer token."""
        request.headers["Authorization"] = f"Bearer {self.token.reveal()}"
        yield request


def token_request(token_url: str, form: dict[str, str], client_id: Secret | None, client_secret: Secret | None,
                  client_auth: str) -> httpx.Request:
    """A POST to the token endpoint; client credentials in HTTP Basic (``basic``) or in the form (``post``)."""
    headers = {"Accept": "application/json"}
    form = dict(form)
    if client_id is not None and client_auth == "basic":
        pair = f"{client_id.reveal()}:{client_secret.reveal() if client_secret else ''}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif client_id is not None:
        form["client_id"] = client_id.reveal()
        if client_secret is not None:
            form["client_secret"] = client_secret.reveal()
    return httpx.Request("POST", token_url, data=form, headers=headers)


def parse_tokens(response: httpx.Response, now: float, previous: TokenSet | None = None) -> TokenSet:
    """Tokens from a token endpoint answer; raises AuthError explaining an OAuth error answer."""
    try:
        body: Any = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400 or not isinstance(body, dict) or "access_token" not in body:
        code = body.get("error", "") if isinstance(body, dict) else ""
        text = body.get("error_description", "") if isinstance(body, dict) else ""
        raise AuthError(oauth_error_message(code, text, response.status_code), status=response.status_code,
                        detail=f"token endpoint {response.request.url.copy_with(query=None)}")
    expires_in = body.get("expires_in")
    return TokenSet(
        access_token=str(body["access_token"]),
        refresh_token=str(body.get("refresh_token") or (previous.refresh_token if previous else "")),
        expires_at=now + float(expires_in) if isinstance(expires_in, int | float | str) and str(expires_in).replace(
            ".", "", 1).isdigit() else 0.0,
        scope=str(body.get("scope") or ""), token_type=str(body.get("token_type") or "Bearer"),
        generation=(previous.generation + 1) if previous else 1,
    )


def oauth_error_message(code: str, text: str, status: int) -> str:
    """An OAuth2 error code in plain words."""
    words = {
        "invalid_client": "the client id or client secret is wrong",
        "invalid_grant": "the refresh token (or code) was rejected: it expired, was revoked, or was already used "
                         "(rotating refresh tokens work once); authorise the app again with `doohickey auth setup`",
        "invalid_scope": "a requested scope is not allowed for this client",
        "unauthorized_client": "this client may not use this grant type",
        "unsupported_grant_type": "the token endpoint does not support this grant type",
    }
    base = words.get(code, f"the token endpoint refused (HTTP {status}{', ' + code if code else ''})")
    return f"OAuth2: {base}" + (f" ({text})" if text and code not in words else "")


class OAuth2ClientCredentials(httpx.Auth):
    """The client-credentials grant: an access token for the app itself, renewed before it expires."""

    requires_response_body = True

    def __init__(self, token_url: str, client_id: Secret, client_secret: Secret, *, scopes: list[str] | None = None,
                 clock: Clock = SYSTEM_CLOCK, client_auth: str = "post") -> None:
        self.token_url, self.client_id, self.client_secret = token_url, client_id, client_secret
        self.scopes, self.clock, self.client_auth = list(scopes or []), clock, client_auth
        self.tokens = TokenSet()
        self.fetched = 0

    def _request(self) -> httpx.Request:
        form = {"grant_type": "client_credentials"}
        if self.scopes:
            form["scope"] = " ".join(self.scopes)
        return token_request(self.token_url, form, self.client_id, self.client_secret, self.client_auth)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Get a token when there is none or it is about to expire; retry once on 401 with a new one."""
        for attempt in range(2):
            if attempt or not self.tokens.valid_at(self.clock.now().timestamp()):
                response = yield self._request()
                await response.aread()
                self.tokens = parse_tokens(response, self.clock.now().timestamp())
                self.fetched += 1
            request.headers["Authorization"] = f"Bearer {self.tokens.access_token}"
            response = yield request
            if response.status_code != 401:
                return


class OAuth2RefreshToken(httpx.Auth):
    """The refresh-token grant with the tokens kept in a :class:`TokenStore` (rotation-safe)."""

    requires_response_body = True

    def __init__(self, token_url: str, store: TokenStore, *, client_id: Secret | None = None,
                 client_secret: Secret | None = None, initial_refresh_token: Secret | None = None,
                 clock: Clock = SYSTEM_CLOCK, client_auth: str = "post") -> None:
        self.token_url, self.store, self.clock, self.client_auth = token_url, store, clock, client_auth
        self.client_id, self.client_secret, self.initial = client_id, client_secret, initial_refresh_token
        self.tokens: TokenSet | None = None
        self.refreshed = 0

    def _now(self) -> float:
        return self.clock.now().timestamp()

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Use the stored access token; refresh under the store's lock when it is expired or refused."""
        if self.tokens is None:
            self.tokens = self.store.load()
        for attempt in range(2):
            if attempt or not self.tokens.valid_at(self._now()):
                stale = self.tokens.access_token
                async with self.store.locked() as current:
                    if current.access_token and current.access_token != stale and current.valid_at(self._now()):
                        self.tokens = current  # another worker refreshed while we waited: use its token
                    else:
                        refresh = current.refresh_token or (self.initial.reveal() if self.initial else "")
                        if not refresh:
                            raise SecretError(f"no refresh token in {self.store.path}; run `doohickey auth setup`")
                        form = {"grant_type": "refresh_token", "refresh_token": refresh}
                        response = yield token_request(self.token_url, form, self.client_id, self.client_secret,
                                                       self.client_auth)
                        await response.aread()
                        fresh = parse_tokens(response, self._now(), current if current.refresh_token else
                                             TokenSet(refresh_token=refresh))
                        self.store.save(fresh)  # before use: a rotated refresh token is worthless unless saved
                        self.tokens = fresh
                        self.refreshed += 1
            request.headers["Authorization"] = f"Bearer {self.tokens.access_token}"
            response = yield request
            if response.status_code != 401:
                return


def seed_refresh_token(store: TokenStore, refresh_token: Secret) -> None:
    """Put a first refresh token (from the app's authorisation) into an empty store."""
    if not store.load().refresh_token:
        store.save(TokenSet(refresh_token=refresh_token.reveal()))


def build_auth(scheme: AuthScheme, secrets: Mapping[str, Secret], options: Mapping[str, Any] | None = None, *,
               clock: Clock = SYSTEM_CLOCK, base_url: str = "") -> httpx.Auth:
    """The httpx Auth for ``scheme`` from the Connection's secrets (names from :func:`secret_names`).

    Raises SecretError naming the missing setting.
    """
    options = dict(options or {})

    def need(name: str) -> Secret:
        if name not in secrets:
            raise SecretError(f"the {scheme.name} scheme needs the secret setting {name!r} "
                              f"(e.g. {name}: {{env: {name.upper()}}})")
        return secrets[name]

    if scheme.type == "apiKey":
        return ApiKeyAuth(scheme.param_name or scheme.name, need("api_key"), scheme.location or "header")
    if scheme.type == "http" and scheme.scheme == "basic":
        return httpx.BasicAuth(need("username").reveal(), need("password").reveal())
    if scheme.type == "http":
        return BearerAuth(need("token"))
    if scheme.type == "oauth2":
        flow_kind = options.get("oauth_flow") or ("refresh_token" if "refresh_token" in secrets or
                                                  options.get("token_store") else "client_credentials")
        flow = next((f for f in scheme.flows if f.token_url), None)
        token_url = str(options.get("token_url") or (flow.token_url if flow else ""))
        if not token_url:
            raise SecretError(f"the {scheme.name} scheme declares no token URL; set token_url in the connection")
        token_url = urljoin(base_url.rstrip("/") + "/", token_url) if base_url else token_url
        client_auth = str(options.get("client_auth", "post"))
        if flow_kind == "refresh_token":
            store = TokenStore(options.get("token_store") or ".doohickey/tokens.json")
            return OAuth2RefreshToken(token_url, store, client_id=secrets.get("client_id"),
                                      client_secret=secrets.get("client_secret"),
                                      initial_refresh_token=secrets.get("refresh_token"), clock=clock,
                                      client_auth=client_auth)
        scopes = options.get("scopes") or []
        return OAuth2ClientCredentials(token_url, need("client_id"), need("client_secret"),
                                       scopes=list(scopes) if not isinstance(scopes, str) else scopes.split(),
                                       clock=clock, client_auth=client_auth)
    raise SecretError(f"the {scheme.name} scheme ({scheme.type}) is not supported for API calls; "
                      f"use an API key, HTTP basic/bearer or OAuth2")


def secret_names(scheme: AuthScheme, flow: str = "") -> list[tuple[str, str]]:
    """The Connection settings a scheme needs, with what each one is, in plain words."""
    if scheme.type == "apiKey":
        where = {"query": "query parameter", "cookie": "cookie"}.get(scheme.location, "header")
        return [("api_key", f"the API key, sent in the {scheme.param_name or scheme.name} {where}")]
    if scheme.type == "http" and scheme.scheme == "basic":
        return [("username", "the user name (or API consumer key) for HTTP Basic"),
                ("password", "the password (or API consumer secret) for HTTP Basic")]
    if scheme.type == "http":
        return [("token", f"the bearer token{' (' + scheme.bearer_format + ')' if scheme.bearer_format else ''}, "
                          "sent as Authorization: Bearer ...")]
    if scheme.type == "oauth2":
        kinds = [f.kind for f in scheme.flows]
        if flow == "refresh_token" or (not flow and "client_credentials" not in kinds and kinds):
            return [("client_id", "the OAuth2 client id of your app"),
                    ("client_secret", "the OAuth2 client secret of your app"),
                    ("refresh_token", "the first refresh token from authorising the app (later ones are rotated "
                                      "into the token store, not the plan)")]
        return [("client_id", "the OAuth2 client id of your app"),
                ("client_secret", "the OAuth2 client secret of your app")]
    return [("token", f"credentials for {scheme.type}")]
