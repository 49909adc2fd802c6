"""A large synthetic OpenAPI document, for the discovery test and benchmark (thousands of operations).

Eight commerce resources come first (orders, customers, products, variants, inventory
levels, shipments, refunds, returns), then ``resources - 8`` generic ones, each with
list/create/get/update/delete, a 30-field schema with shared ``$ref``s (address,
money, lines) and page/limit/updated_at_min parameters shared through
``components/parameters``: the shape of a big vendor API.
"""

from __future__ import annotations

from typing import Any

COMMERCE = ("orders", "customers", "products", "variants", "inventory-levels", "shipments", "refunds", "returns")


def synthetic_spec(resources: int = 600, fields: int = 30) -> dict[str, Any]:
    """An OpenAPI 3.0 document with ``resources`` x 5 operations."""
    names = list(COMMERCE) + [f"widget-kind-{i}" for i in range(max(0, resources - len(COMMERCE)))]
    schemas: dict[str, Any] = {
        "Money": {"type": "object", "properties": {"amount": {"type": "string"}, "currency": {"type": "string",
                                                                                             "maxLength": 3}}},
        "Address": {"type": "object", "properties": {k: {"type": "string"} for k in
                                                     ("line1", "line2", "city", "postal_code", "country")}},
        "Line": {"type": "object", "required": ["sku"], "properties": {
            "sku": {"type": "string"}, "quantity": {"type": "integer"},
            "price": {"$ref": "#/components/schemas/Money"}}},
        "Meta": {"type": "object", "properties": {"pagination": {"type": "object", "properties": {
            "total_pages": {"type": "integer"}, "current_page": {"type": "integer"}}}}},
    }
    paths: dict[str, Any] = {}
    params = {
        "Page": {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        "Limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 250}},
        "Since": {"name": "updated_at_min", "in": "query", "schema": {"type": "string", "format": "date-time"}},
        "Id": {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
    }
    for index, name in enumerate(names):
        schema_name = "".join(p.title() for p in name.split("-"))
        props: dict[str, Any] = {"id": {"type": "integer", "readOnly": True},
                                 "updated_at": {"type": "string", "format": "date-time"},
                                 "status": {"type": "string", "enum": ["open", "closed", "archived"]},
                                 "address": {"$ref": "#/components/schemas/Address"},
                                 "total": {"$ref": "#/components/schemas/Money"},
                                 "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}}}
        for f in range(fields - len(props)):
            props[f"field_{f}"] = {"type": "string" if f % 3 else "integer", "description": f"Field {f} of {name}."}
        schemas[schema_name] = {"type": "object", "properties": props, "required": ["status"]}
        ref = {"$ref": f"#/components/schemas/{schema_name}"}
        one = {"200": {"description": "ok", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"data": ref}}}}}}
        body = {"content": {"application/json": {"schema": ref}}}
        paths[f"/v3/{name}"] = {
            "get": {"operationId": f"list{index}", "parameters": [{"$ref": f"#/components/parameters/{p}"}
                                                                  for p in ("Page", "Limit", "Since")],
                    "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"data": {"type": "array", "items": ref},
                                                         "meta": {"$ref": "#/components/schemas/Meta"}}}}}},
                                  "429": {"description": "Too many requests"}}},
            "post": {"operationId": f"create{index}", "requestBody": body, "responses": one},
        }
        paths[f"/v3/{name}/{{id}}"] = {
            "parameters": [{"$ref": "#/components/parameters/Id"}],
            "get": {"operationId": f"get{index}", "responses": one},
            "put": {"operationId": f"update{index}", "requestBody": body, "responses": one},
            "delete": {"operationId": f"delete{index}", "responses": {"204": {"description": "gone"}}},
        }
    return {"openapi": "3.0.3", "info": {"title": f"Synthetic ({resources} resources)", "version": "1"},
            "servers": [{"url": "https://api.example.com"}], "paths": paths,
            "components": {"schemas": schemas, "parameters": params, "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"}}}, "security": [{"token": []}]}
