"""Secret references resolve to values that never print, and missing ones say which reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from doohickey.errors import SecretError
from doohickey.plan import load_plan
from doohickey.plan.model import SecretRef
from doohickey.plan.secrets import connection_settings, resolve_secret

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shopify-erp-wms" / "integration.yaml"


def test_production_settings_resolve_env_and_file(tmp_path: Path) -> None:
    plan = load_plan(EXAMPLE)
    plan.path = tmp_path / "integration.yaml"  # the wms key file is relative to the plan
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "wms.key").write_text("wms-key-123\n")
    shop = connection_settings(plan, "shop", "production",
                               environ={"SHOPIFY_ADMIN_TOKEN": "shpat_abc", "SHOPIFY_WEBHOOK_SECRET": "whsec"})
    assert shop.url == "https://acme-outdoor.myshopify.com"
    assert shop.secrets["token"].reveal() == "shpat_abc"
    assert shop.options == {"api_version": "2025-10"}
    assert "shpat_abc" not in repr(shop) and str(shop.secrets["token"]) == "***"
    wms = connection_settings(plan, "wms", "production", environ={"WMS_WEBHOOK_SECRET": "w"})
    assert wms.secrets["api_key"].reveal() == "wms-key-123"


def test_sandbox_twin_settings_need_no_secrets() -> None:
    settings = connection_settings(load_plan(EXAMPLE), "shop", "sandbox", environ={})
    assert settings.url == "" and settings.options == {"twin": "shopify", "seed": 7} and not settings.secrets


def test_missing_env_names_reference_never_value() -> None:
    with pytest.raises(SecretError) as info:
        connection_settings(load_plan(EXAMPLE), "erp", "production", environ={})
    assert info.value.message == "systems.erp.production.api_key: environment variable ERP_API_KEY is not set"


def test_missing_file_and_unknown_system(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match=r"secret file nope\.key does not exist"):
        resolve_secret(SecretRef(file="nope.key"), base=tmp_path)
    with pytest.raises(SecretError, match="system 'crm' is not defined"):
        connection_settings(load_plan(EXAMPLE), "crm", "sandbox")
    with pytest.raises(SecretError, match="unknown environment 'staging'"):
        connection_settings(load_plan(EXAMPLE), "shop", "staging")


def test_unresolved_settings_for_display() -> None:
    settings = connection_settings(load_plan(EXAMPLE), "erp", "production", environ={}, resolve=False)
    assert settings.url == "https://erp.acme.example/api/v1" and settings.secrets == {}


def test_openapi_profile_is_resolved_relative_to_the_plan() -> None:
    plan = load_plan(EXAMPLE)
    plan.systems["wms"].profile = "profiles/wms.json"
    wms = connection_settings(plan, "wms", "sandbox", environ={})
    assert wms.options["profile"] == str(EXAMPLE.parent / "profiles" / "wms.json")
