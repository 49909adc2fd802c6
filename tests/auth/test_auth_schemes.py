"""Guided auth against twins that demand each scheme, over real loopback HTTP.

Covers: API key (header and query), HTTP basic, bearer, OAuth2 client credentials
(token reuse, renewal after expiry, missing scope), OAuth2 refresh tokens that rotate
on every use (persisted 0600 and atomically, a lost race between two workers), and the
failure explanations of `auth test` (refused connection, DNS, TLS, wrong path, bad key).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from doohickey.auth.credentials import OAuth2ClientCredentials, OAuth2RefreshToken, build_auth
from doohickey.auth.probe import probe
from doohickey.auth.tokens import TokenSet, TokenStore
from doohickey.clock import ManualClock
from doohickey.connectors.spec import Secret
from doohickey.discover import discover_document
from doohickey.discover.profile import AuthScheme, SystemProfile
from doohickey.errors import AuthError
from doohickey.twins.authdemo import AuthDemoState, create_app, openapi_document
from doohickey.twins.server import TwinServer

CLOCK = ManualClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[str, AuthDemoState]]:
    state = AuthDemoState(token_ttl=600)
    with TwinServer(create_app(state, clock=CLOCK, rng=random.Random(7))) as server:
        yield server.url, state


@pytest.fixture(scope="module")
def profile() -> SystemProfile:
    return discover_document(openapi_document())


def scheme(profile: SystemProfile, name: str) -> AuthScheme:
    return next(s for s in profile.auth if s.name == name)


@pytest.mark.anyio
@pytest.mark.parametrize(("name", "prefix", "secrets"), [
    ("ApiKey", "apikey", {"api_key": "demo-key"}),
    ("QueryKey", "query", {"api_key": "demo-key"}),
    ("Basic", "basic", {"username": "demo-user", "password": "demo-pass"}),
    ("Bearer", "bearer", {"token": "demo-bearer"}),
])
async def test_static_schemes_pass_with_the_right_secret_and_explain_a_wrong_one(
        demo: tuple[str, AuthDemoState], profile: SystemProfile, name: str, prefix: str,
        secrets: dict[str, str]) -> None:
    url, _ = demo
    good = build_auth(scheme(profile, name), {k: Secret(v) for k, v in secrets.items()})
    result = await probe(f"{url}/{prefix}/orders", good)
    assert result.ok, result.message
    wrong = build_auth(scheme(profile, name), {k: Secret(v + "-wrong") for k, v in secrets.items()})
    result = await probe(f"{url}/{prefix}/orders", wrong)
    assert not result.ok and result.kind == "bad-key" and result.status == 401
    assert "refused" in result.message and "-wrong" not in result.message + result.hint


@pytest.mark.anyio
async def test_client_credentials_fetch_once_reuse_and_renew_after_expiry(demo: tuple[str, AuthDemoState]) -> None:
    url, state = demo
    clock = ManualClock(CLOCK.now())
    auth = OAuth2ClientCredentials(f"{url}/oauth/token", Secret("demo-client"), Secret("demo-secret"),
                                   scopes=["orders:read"], clock=clock)
    before = state.grants["client_credentials"]
    async with httpx.AsyncClient(auth=auth) as client:
        for _ in range(3):
            assert (await client.get(f"{url}/oauth/orders")).status_code == 200
        assert auth.fetched == 1  # one token served three calls
        clock.advance(3600)
        CLOCK.advance(3600)  # the twin's clock too: its token has expired
        assert (await client.get(f"{url}/oauth/orders")).status_code == 200
        assert auth.fetched == 2
        # a scope the token lacks is a 403 the probe names
        refused = await client.post(f"{url}/oauth/orders", json={"status": "paid"})
        assert refused.status_code == 403
    assert state.grants["client_credentials"] - before == 2
    result = await probe(f"{url}/oauth/orders", OAuth2ClientCredentials(
        f"{url}/oauth/token", Secret("demo-client"), Secret("demo-secret"), scopes=["orders:read"], clock=clock))
    assert result.ok


@pytest.mark.anyio
async def test_missing_scope_and_bad_client_secret_are_explained(demo: tuple[str, AuthDemoState]) -> None:
    url, state = demo
    state.client_scopes = ("orders:read", "orders:write", "customers:read")
    auth = OAuth2ClientCredentials(f"{url}/oauth/token", Secret("demo-client"), Secret("demo-secret"),
                                   scopes=["customers:read"], clock=CLOCK)
    result = await probe(f"{url}/oauth/orders", auth)
    assert not result.ok and result.kind == "scope" and "orders:read" in result.message
    bad = OAuth2ClientCredentials(f"{url}/oauth/token", Secret("demo-client"), Secret("nope"), clock=CLOCK)
    result = await probe(f"{url}/oauth/orders", bad)
    assert not result.ok and result.kind == "token" and "client id or client secret is wrong" in result.message


@pytest.mark.anyio
async def test_rotating_refresh_tokens_are_saved_0600_and_survive_a_restart(demo: tuple[str, AuthDemoState],
                                                                            tmp_path: Path) -> None:
    url, state = demo
    first = state.issue_refresh_token(rng=random.Random(1))
    store = TokenStore(tmp_path / "tokens" / "shop.json")
    clock = ManualClock(CLOCK.now())
    auth = OAuth2RefreshToken(f"{url}/oauth/token", store, client_id=Secret("demo-client"),
                              client_secret=Secret("demo-secret"), initial_refresh_token=Secret(first), clock=clock)
    async with httpx.AsyncClient(auth=auth) as client:
        assert (await client.get(f"{url}/oauth/orders")).status_code == 200
    saved = store.load()
    assert saved.refresh_token and saved.refresh_token != first  # rotated, and the new one kept
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert first not in store.path.read_text() and "access_token" in store.path.read_text()
    assert first in state.spent
    # a restarted worker (new Auth, same store) keeps going after expiry with the rotated token
    clock.advance(3600)
    CLOCK.advance(3600)
    restarted = OAuth2RefreshToken(f"{url}/oauth/token", store, client_id=Secret("demo-client"),
                                   client_secret=Secret("demo-secret"), initial_refresh_token=Secret(first),
                                   clock=clock)
    async with httpx.AsyncClient(auth=restarted) as client:
        assert (await client.get(f"{url}/oauth/orders")).status_code == 200
    assert restarted.refreshed == 1 and store.load().generation == saved.generation + 1
    assert state.grants["reused_refresh"] == 0
    assert not list(store.path.parent.glob(".shop.json.*.tmp"))  # no temporary files left behind


@pytest.mark.anyio
async def test_two_workers_racing_to_refresh_spend_the_token_once(demo: tuple[str, AuthDemoState],
                                                                  tmp_path: Path) -> None:
    url, state = demo
    store = TokenStore(tmp_path / "race.json")
    store.save(TokenSet(refresh_token=state.issue_refresh_token(rng=random.Random(2))))
    clock = ManualClock(CLOCK.now())
    workers = [OAuth2RefreshToken(f"{url}/oauth/token", store, client_id=Secret("demo-client"),
                                  client_secret=Secret("demo-secret"), clock=clock) for _ in range(4)]
    before = dict(state.grants)

    async def call(auth: OAuth2RefreshToken) -> int:
        async with httpx.AsyncClient(auth=auth) as client:
            return (await client.get(f"{url}/oauth/orders")).status_code

    codes = await asyncio.gather(*(call(w) for w in workers))
    assert codes == [200, 200, 200, 200]
    assert state.grants["refresh_token"] - before["refresh_token"] == 1  # the losers used the winner's token
    assert state.grants["reused_refresh"] == before["reused_refresh"]


@pytest.mark.anyio
async def test_a_spent_refresh_token_is_explained(demo: tuple[str, AuthDemoState], tmp_path: Path) -> None:
    url, state = demo
    token = state.issue_refresh_token(rng=random.Random(3))
    state.refresh.pop(token)
    state.spent.add(token)
    store = TokenStore(tmp_path / "spent.json")
    auth = OAuth2RefreshToken(f"{url}/oauth/token", store, client_id=Secret("demo-client"),
                              client_secret=Secret("demo-secret"), initial_refresh_token=Secret(token), clock=CLOCK)
    async with httpx.AsyncClient(auth=auth) as client:
        with pytest.raises(AuthError, match="already used"):
            await client.get(f"{url}/oauth/orders")
    result = await probe(f"{url}/oauth/orders", auth)
    assert not result.ok and "rotating refresh tokens work once" in result.message


def test_a_world_readable_token_store_is_refused(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t.json")
    store.save(TokenSet(access_token="a", refresh_token="r"))
    store.path.chmod(0o644)
    with pytest.raises(Exception, match="readable by others"):
        store.load()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.anyio
async def test_probe_explains_connection_failures(demo: tuple[str, AuthDemoState]) -> None:
    url, _ = demo
    refused = await probe(f"http://127.0.0.1:{_free_port()}/orders", None, timeout=3)
    assert refused.kind == "refused" and "connection refused" in refused.message
    dns = await probe("http://no-such-host.invalid/orders", None, timeout=3)
    assert dns.kind in ("dns", "network") and "no-such-host.invalid" in dns.message
    tls = await probe(url.replace("http://", "https://") + "/apikey/orders", None, timeout=3)
    assert tls.kind == "tls" and "TLS" in tls.message
    wrong = await probe(f"{url}/v9/nothing/here", None)
    assert wrong.kind == "wrong-url" and "404" in wrong.message


@pytest.mark.anyio
async def test_an_expired_access_token_is_named_as_such(demo: tuple[str, AuthDemoState]) -> None:
    url, state = demo
    clock = ManualClock(CLOCK.now())
    auth = OAuth2ClientCredentials(f"{url}/oauth/token", Secret("demo-client"), Secret("demo-secret"),
                                   scopes=["orders:read"], clock=clock)
    async with httpx.AsyncClient(auth=auth) as client:
        assert (await client.get(f"{url}/oauth/orders")).status_code == 200
    CLOCK.advance(state.token_ttl + 1)  # the twin's clock moves on; a copied token is now stale
    stale = build_auth(scheme(discover_document(openapi_document("Bearer")), "Bearer"),
                       {"token": Secret(auth.tokens.access_token)})
    result = await probe(f"{url}/oauth/orders", stale)
    assert not result.ok and result.kind == "expired" and "expired" in result.message
