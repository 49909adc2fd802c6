"""`doohickey auth test`: one cheap authenticated call, and a failure explained in words.

:func:`probe` sends one GET (a list asking for one record) with the Connection's
credentials and returns a :class:`ProbeResult`: ``ok``, the HTTP status, a message for
a person, and what to do next. Wrong URL, DNS, refused connection, TLS, timeout, a bad
key (401), an expired token, a missing scope (403) and token-endpoint refusals each get
their own explanation. Credentials never appear in the result.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from doohickey.errors import DoohickeyError, redact

_SCOPE = re.compile(r'scope="([^"]+)"')


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one test call."""

    ok: bool
    message: str
    hint: str = ""
    status: int | None = None
    url: str = ""
    kind: str = ""


async def probe(url: str, auth: httpx.Auth | None, *, params: dict[str, str] | None = None,
                transport: httpx.AsyncBaseTransport | None = None, timeout: float = 10.0,
                verify: bool | ssl.SSLContext = True) -> ProbeResult:
    """GET ``url`` with ``auth``; explain what happened."""
    shown = str(httpx.URL(url).copy_with(query=None))
    try:
        async with httpx.AsyncClient(transport=transport, timeout=timeout, verify=verify,
                                     follow_redirects=False) as client:
            response = await client.get(url, params=params, auth=auth or httpx.USE_CLIENT_DEFAULT)
    except DoohickeyError as exc:  # the token endpoint refused, or a secret is missing
        return ProbeResult(False, exc.message, "check the client id/secret and token URL, or authorise again",
                           getattr(exc, "status", None), shown, "token")
    except httpx.HTTPError as exc:
        return explain_transport_error(exc, shown)
    return explain_response(response, shown)


def explain_transport_error(exc: Exception, url: str) -> ProbeResult:
    """A connection-level failure in words: DNS, refused, TLS, timeout."""
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and len(chain) < 10:  # anyio hides the real cause a few links down
        chain.append(link)
        link = link.__cause__ or link.__context__
    text = " ".join(f"{type(e).__name__} {e}" for e in chain)
    host = urlsplit(url).hostname or url
    port = urlsplit(url).port
    if isinstance(exc, httpx.TimeoutException):
        return ProbeResult(False, f"{host} did not answer in time", "check the URL and your network/firewall; "
                           "the API may be down", None, url, "timeout")
    if any(isinstance(e, ssl.SSLError) for e in chain) or re.search(
            r"CERTIFICATE_VERIFY_FAILED|certificate|SSLError|TLS|WRONG_VERSION_NUMBER", text):
        return ProbeResult(False, f"the TLS (https) handshake with {host} failed: {_short(text)}",
                           "check the URL's scheme (http vs https) and that the server's certificate is valid "
                           "for this host name", None, url, "tls")
    if re.search(r"Name or service not known|nodename nor servname|getaddrinfo|No address associated|"
                 r"Temporary failure in name resolution|Name does not resolve", text, re.I):
        return ProbeResult(False, f"the host name {host} does not resolve (DNS)",
                           "check the spelling of the URL's host", None, url, "dns")
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or re.search(r"refused|Errno 111", text, re.I):
        where = f"{host}:{port}" if port else host
        return ProbeResult(False, f"nothing accepts connections at {where} (connection refused)",
                           "check the URL's host and port, and that the system is running", None, url, "refused")
    return ProbeResult(False, f"cannot reach {host}: {_short(text)}", "check the URL and the network", None, url,
                       "network")


def _short(text: str) -> str:
    return redact(" ".join(text.split()))[:200]


def explain_response(response: httpx.Response, url: str) -> ProbeResult:
    """An HTTP answer to the test call in words."""
    status = response.status_code
    www = response.headers.get("www-authenticate", "")
    body = response.text[:500].lower()
    if 200 <= status < 300:
        return ProbeResult(True, f"authenticated: {url} answered {status}", "", status, url, "ok")
    if status in (301, 302, 303, 307, 308):
        target = response.headers.get("location", "")
        login = "login" in target.lower() or "signin" in target.lower()
        return ProbeResult(False, f"{url} redirects to {target or 'another place'}"
                           + (" (a login page: this is not the API's URL)" if login else ""),
                           "use the API's base URL, not the web interface's", status, url, "wrong-url")
    if status == 401:
        if "expired" in www.lower() or "expired" in body:
            return ProbeResult(False, "the access token expired and could not be renewed",
                               "renew the token (for OAuth2, check the refresh token and token store); "
                               "run `doohickey auth setup` again if it was revoked", status, url, "expired")
        return ProbeResult(False, "the credentials were refused (401): the key, token or password is wrong "
                           "or was revoked", "check the secret the plan references (the environment variable "
                           "or file) and that it belongs to this system and environment", status, url, "bad-key")
    if status == 403:
        scope = _SCOPE.search(www)
        if scope or "scope" in body:
            needed = scope.group(1) if scope else "a scope this call needs"
            return ProbeResult(False, f"the credentials are valid but lack the scope {needed} (403)",
                               f"grant {needed} to the app or API account, then create a new token", status, url,
                               "scope")
        return ProbeResult(False, "the credentials are valid but not allowed to do this (403)",
                           "give the API user or app the permission to read this resource", status, url,
                           "forbidden")
    if status == 404:
        return ProbeResult(False, f"{url} does not exist on this server (404)",
                           "check the base URL: a missing path prefix (/api/v1), version or store id is usual",
                           status, url, "wrong-url")
    if status == 429:
        return ProbeResult(False, "the API is rate limiting this client right now (429); the credentials reached it",
                           "wait and test again", status, url, "rate-limited")
    if status >= 500:
        return ProbeResult(False, f"the system answered {status}: it is failing or in maintenance",
                           "test again later; the credentials were not judged", status, url, "unavailable")
    return ProbeResult(False, f"unexpected answer {status} to the test call", _short(response.text), status, url,
                       "other")
