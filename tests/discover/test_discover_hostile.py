"""Malformed and hostile documents fail with a clear message naming the file and the place; odd but valid ones work."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from doohickey.cli import app
from doohickey.discover import SpecError, discover

ORDER = {"type": "object", "properties": {"id": {"type": "integer"}, "updated_at": {"type": "string"}}}


def oas(paths: dict, schemas: dict | None = None, **extra: object) -> dict:
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths,
            "components": {"schemas": schemas or {}}, **extra}


def list_op(ref: str) -> dict:
    return {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
        "type": "array", "items": {"$ref": ref}}}}}}}}


def write(path: Path, doc: object) -> Path:
    path.write_text(yaml.safe_dump(doc) if path.suffix in (".yaml", ".yml") else json.dumps(doc))
    return path


def test_broken_ref_names_the_file_the_reference_and_the_place(tmp_path: Path) -> None:
    spec = write(tmp_path / "api.yaml", oas({"/orders": list_op("#/components/schemas/Missing")}, {"Order": ORDER}))
    with pytest.raises(SpecError) as caught:
        discover(spec)
    message = caught.value.message
    assert "api.yaml" in message and "#/components/schemas/Missing" in message
    assert "/paths/~1orders/get/responses/200" in message


def test_refs_across_files_are_resolved(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    write(tmp_path / "schemas" / "order.yaml", {"Order": {**ORDER, "properties": {
        **ORDER["properties"], "customer": {"$ref": "customer.yaml#/Customer"}}}})
    write(tmp_path / "schemas" / "customer.yaml", {"Customer": {"type": "object", "properties": {
        "email": {"type": "string"}}}})
    spec = write(tmp_path / "api.yaml", oas({"/orders": list_op("schemas/order.yaml#/Order")}))
    profile = discover(spec)
    assert {"id", "customer.email"} <= {f.path for f in profile.entity("order").fields}
    assert profile.stats.files == 3


def test_missing_external_file_is_named(tmp_path: Path) -> None:
    spec = write(tmp_path / "api.yaml", oas({"/orders": list_op("nowhere.yaml#/Order")}))
    with pytest.raises(SpecError, match=r"nowhere\.yaml.*does not exist"):
        discover(spec)


def test_a_reference_cycle_is_reported(tmp_path: Path) -> None:
    spec = write(tmp_path / "api.yaml", oas({"/orders": list_op("#/components/schemas/A")},
                                            {"A": {"$ref": "#/components/schemas/B"},
                                             "B": {"$ref": "#/components/schemas/A"}}))
    with pytest.raises(SpecError, match=r"circular \$ref chain"):
        discover(spec)


def test_recursive_schemas_are_fine(tmp_path: Path) -> None:
    node = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                                             "children": {"type": "array",
                                                          "items": {"$ref": "#/components/schemas/Product"}},
                                             "parent": {"$ref": "#/components/schemas/Product"}}}
    spec = write(tmp_path / "api.yaml", oas({"/products": list_op("#/components/schemas/Product")},
                                            {"Product": node}))
    fields = {f.path for f in discover(spec).entity("product").fields}
    assert {"id", "name", "children", "parent"} <= fields


def test_not_openapi_invalid_yaml_and_empty(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not an OpenAPI document: no 'openapi' or 'swagger' key"):
        discover(write(tmp_path / "other.yaml", {"name": "a plan", "systems": {}}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: 3.0.0\npaths:\n  /x: [unclosed\n")
    with pytest.raises(SpecError, match=r"bad\.yaml at line \d+ column \d+: invalid YAML"):
        discover(bad)
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(SpecError, match="not an OpenAPI document"):
        discover(empty)
    with pytest.raises(SpecError, match="no such file"):
        discover(tmp_path / "absent.yaml")
    with pytest.raises(SpecError, match="unsupported OpenAPI version"):
        discover(write(tmp_path / "v4.json", {"openapi": "4.0", "paths": {}}))


def test_huge_files_are_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text('{"openapi": "3.0.0", "x": "' + "a" * 2_000_000 + '"}')
    with pytest.raises(SpecError, match="above the 1 MB limit"):
        discover(big, max_bytes=1_000_000)


def test_a_yaml_alias_bomb_does_not_explode(tmp_path: Path) -> None:
    lines = ["openapi: 3.0.0", "info: {title: bomb, version: '1'}", "paths: {}", "x-bomb:", "  a0: &a0 [x, x]"]
    for level in range(1, 40):
        lines.append(f"  a{level}: &a{level} [*a{level - 1}, *a{level - 1}]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines))
    started = time.perf_counter()
    profile = discover(bomb)
    assert time.perf_counter() - started < 5
    assert profile.entities == {}
    assert "no business entity" in profile.warnings[0]


def test_remote_refs_are_not_fetched(tmp_path: Path) -> None:
    spec = write(tmp_path / "api.yaml", oas({"/orders": list_op("https://example.com/s.yaml#/Order")}))
    with pytest.raises(SpecError, match=r"remote \$ref .* is not fetched"):
        discover(spec)


def test_swagger_2_with_oauth2_basic_body_params_and_base_path(tmp_path: Path) -> None:
    order = {"type": "object", "required": ["email"], "properties": {
        "id": {"type": "integer", "readOnly": True}, "email": {"type": "string", "maxLength": 120},
        "status": {"type": "string", "enum": ["pending", "processing", "completed", "cancelled"]},
        "date_modified": {"type": "string", "format": "date-time"}}}
    doc = {
        "swagger": "2.0", "info": {"title": "Woo-like", "version": "3"}, "host": "shop.example",
        "basePath": "/wp-json/wc/v3", "schemes": ["https"],
        "securityDefinitions": {
            "basic": {"type": "basic"},
            "oauth": {"type": "oauth2", "flow": "application", "tokenUrl": "https://shop.example/token",
                      "scopes": {"read_orders": "Read orders", "write_orders": "Change orders"}}},
        "security": [{"basic": []}],
        "paths": {
            "/orders": {
                "get": {"parameters": [
                    {"name": "page", "in": "query", "type": "integer", "minimum": 1},
                    {"name": "per_page", "in": "query", "type": "integer", "maximum": 100},
                    {"name": "modified_after", "in": "query", "type": "string", "format": "date-time"}],
                    "responses": {"200": {"description": "ok", "headers": {
                        "Link": {"type": "string"}, "X-WP-Total": {"type": "integer"}},
                        "schema": {"type": "array", "items": {"$ref": "#/definitions/Order"}}}}},
                "post": {"parameters": [{"name": "body", "in": "body", "schema": {"$ref": "#/definitions/Order"}}],
                         "responses": {"201": {"description": "created", "schema": {"$ref": "#/definitions/Order"}}}}},
            "/orders/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "type": "integer"}],
                "get": {"responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Order"}}}},
                "put": {"parameters": [{"name": "body", "in": "body", "schema": {"$ref": "#/definitions/Order"}}],
                        "responses": {"200": {"description": "ok"}}}},
            "/orders/{order_id}/refunds": {"get": {"responses": {"200": {"description": "ok", "schema": {
                "type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}}}}}}}},
        },
        "definitions": {"Order": order},
    }
    profile = discover(write(tmp_path / "swagger.json", doc))
    assert profile.spec_format == "swagger 2.0"
    assert profile.servers[0].url == "https://shop.example/wp-json/wc/v3"
    order_profile = profile.entity("order")
    assert set(order_profile.operations) == {"list", "get", "create", "update"}
    assert order_profile.poll is not None and (order_profile.poll.param, order_profile.poll.field) == (
        "modified_after", "date_modified")
    pag = order_profile.pagination
    assert (pag.style, pag.size_param, pag.max_size, pag.link_header) == ("page", "per_page", 100, True)
    assert pag.total_header == "x-wp-total"
    assert {f.path: f.required for f in order_profile.write_fields}["email"] is True
    schemes = {s.name: s for s in profile.auth}
    assert schemes["basic"].scheme == "basic" and schemes["basic"].required
    assert schemes["oauth"].flows[0].kind == "client_credentials"
    assert schemes["oauth"].flows[0].scopes == {"read_orders": "Read orders", "write_orders": "Change orders"}
    assert profile.enums[0].values == ["pending", "processing", "completed", "cancelled"]
    assert "refund" in profile.entities


def test_cli_reports_a_bad_spec_in_one_line_without_a_traceback(tmp_path: Path) -> None:
    spec = write(tmp_path / "api.yaml", oas({"/orders": list_op("#/components/schemas/Nope")}))
    result = CliRunner().invoke(app, ["discover", str(spec)])
    assert result.exit_code == 2
    assert "error:" in result.output and "api.yaml" in result.output and "Traceback" not in result.output
