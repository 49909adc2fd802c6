"""`doohickey auth setup` and `auth test`: credentials explained, least-privilege scopes, references not values."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from doohickey.auth.guide import guide_from_connector, guide_from_profile, plan_access, render
from doohickey.cli import app
from doohickey.connectors.openapi import CONNECTOR
from doohickey.discover import discover_document, discover_many
from doohickey.plan import load_plan
from doohickey.twins.authdemo import AuthDemoState, create_app, openapi_document
from doohickey.twins.server import TwinServer

PLAN = """\
name: bc-erp
systems:
  shop:
    kind: storefront
    connector: openapi
    profile: bigcommerce.yaml
    production:
      url: https://api.bigcommerce.com/stores/abc123/v3
      api_key: {env: SHOP_API_KEY}
  erp:
    kind: erp
    connector: openapi
    profile: demo.yaml
    production:
      url: URL
      api_key: {env: DEMO_KEY}
flows:
  orders-to-erp: {entity: order, from: shop, to: erp, trigger: {poll: 5m}}
  stock-to-shop: {entity: stock, from: erp, to: shop, trigger: {poll: 1m}}
  products-to-erp: {entity: product, from: shop, to: erp, trigger: {poll: 1h}}
"""


@pytest.fixture(scope="module")
def bigcommerce(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plan")
    discover_many(sorted((shared_dir / "contracts" / "bigcommerce" / "openapi").glob("*.yml"))).write(
        folder / "bigcommerce.yaml")
    discover_document(openapi_document("ApiKey")).write(folder / "demo.yaml")
    return folder


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with TwinServer(create_app(AuthDemoState(), rng=random.Random(5))) as twin:
        yield twin.url


def test_least_privilege_scopes_follow_the_plans_flows(bigcommerce: Path) -> None:
    (bigcommerce / "integration.yaml").write_text(PLAN.replace("URL", "http://127.0.0.1:1"))
    plan = load_plan(bigcommerce / "integration.yaml")
    access = plan_access(plan, "shop")
    assert access == {"order": {"read"}, "stock": {"write"}, "product": {"read"}}
    from doohickey.discover import load_profile

    guide = guide_from_profile("shop", load_profile(bigcommerce / "bigcommerce.yaml"), access)
    scopes = {need.entity: need.scopes for need in guide.scopes}
    assert scopes == {"order": ("store_v2_orders_read_only",), "product": ("store_v2_products_read_only",),
                      "stock": ("store_inventory",)}
    assert [n.name for n in guide.needs] == ["api_key"]
    assert "X-Auth-Token header" in guide.needs[0].description
    assert "api_key: {env: SHOP_API_KEY}" in guide.snippet
    text = render(guide)
    assert "least privilege" in text and "store_v2_orders_read_only" in text


def test_oauth_guide_names_client_secrets_token_store_and_scopes() -> None:
    profile = discover_document(openapi_document())
    guide = guide_from_profile("crm", profile, {"order": {"read", "write"}}, scheme_name="OAuth", flow="refresh_token")
    names = [n.name for n in guide.needs]
    assert names[:3] == ["client_id", "client_secret", "refresh_token"]
    assert "token_store" in names and "token_url" in names
    assert guide.all_scopes == ["orders:write"]
    assert "client_secret: {env: CRM_CLIENT_SECRET}" in guide.snippet
    assert "token_store: .doohickey/tokens/crm.json" in guide.snippet


def test_dedicated_connector_guide_comes_from_its_settings() -> None:
    guide = guide_from_connector("erp", CONNECTOR)
    secret_names = [n.name for n in guide.needs if n.secret]
    assert "api_key" in secret_names and "client_secret" in secret_names
    assert all(n.reference.startswith("{env: ERP_") for n in guide.needs if n.secret)


def test_cli_setup_and_test_with_a_plan(bigcommerce: Path, server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = bigcommerce / "integration.yaml"
    plan.write_text(PLAN.replace("URL", server))
    runner = CliRunner()
    result = runner.invoke(app, ["auth", "setup", "shop", "--plan", str(plan)])
    assert result.exit_code == 0, result.output
    assert "store_inventory" in result.output and "{env: SHOP_API_KEY}" in result.output

    monkeypatch.setenv("DEMO_KEY", "demo-key")
    result = runner.invoke(app, ["auth", "test", "erp", "--plan", str(plan)])
    assert result.exit_code == 0, result.output
    assert "erp: ok: authenticated" in result.output

    monkeypatch.setenv("DEMO_KEY", "not-the-key-123")
    result = runner.invoke(app, ["auth", "test", "erp", "--plan", str(plan)])
    assert result.exit_code == 1
    assert "credentials were refused (401)" in result.output and "not-the-key-123" not in result.output

    monkeypatch.delenv("DEMO_KEY")
    result = runner.invoke(app, ["auth", "test", "erp", "--plan", str(plan)])
    assert result.exit_code == 2 and "environment variable DEMO_KEY is not set" in result.output

    result = runner.invoke(app, ["auth", "setup", "nope", "--plan", str(plan)])
    assert result.exit_code == 2 and "no system 'nope'" in result.output
