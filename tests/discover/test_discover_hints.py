"""Webhooks, callbacks, rate-limit headers and guessed auth in documents that declare them differently."""

from __future__ import annotations

import json
from pathlib import Path

from doohickey.discover import discover

ITEM = {"type": "object", "properties": {"id": {"type": "string"}, "modifiedAt": {"type": "string"},
                                         "state": {"type": "string", "enum": ["NEW", "SHIPPED", "RETURNED"]}}}


def test_openapi_31_webhooks_callbacks_and_rate_limit_headers(tmp_path: Path) -> None:
    limited = {"description": "ok", "headers": {"X-RateLimit-Remaining": {"schema": {"type": "integer"}},
                                                "Retry-After": {"schema": {"type": "integer"}}},
               "content": {"application/json": {"schema": {"type": "object", "properties": {
                   "results": {"type": "array", "items": ITEM}, "nextPageToken": {"type": "string"}}}}}}
    doc = {
        "openapi": "3.1.0", "info": {"title": "Fulfil", "version": "2",
                                     "description": "Deliveries are signed with X-Fulfil-Signature (HMAC)."},
        "paths": {
            "/fulfillments": {"get": {"parameters": [
                {"name": "pageToken", "in": "query", "schema": {"type": "string"}},
                {"name": "pageSize", "in": "query", "schema": {"type": "integer", "maximum": 200}},
                {"name": "modifiedAt[gte]", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                {"name": "X-Api-Key", "in": "header", "schema": {"type": "string"}}],
                "responses": {"200": limited, "429": {"description": "slow down"}},
                "callbacks": {"fulfillment.shipped": {}}}},
        },
        "webhooks": {"fulfillment.created": {"post": {"responses": {"200": {"description": "ok"}}}}},
    }
    spec = tmp_path / "fulfil.json"
    spec.write_text(json.dumps(doc))
    profile = discover(spec)
    ent = profile.entity("fulfilment")
    assert ent.records_path == "results"
    pag = ent.pagination
    assert (pag.style, pag.cursor_param, pag.size_param, pag.next_cursor_path, pag.max_size) == (
        "cursor", "pageToken", "pageSize", "nextPageToken", 200)
    assert ent.poll is not None and (ent.poll.param, ent.poll.field) == ("modifiedAt[gte]", "modifiedAt")
    assert ent.enums[0].values == ["NEW", "SHIPPED", "RETURNED"]
    topics = {t.topic: (t.source, t.entity) for t in profile.webhooks.topics}
    assert topics == {"fulfillment.created": ("webhooks", "fulfilment"),
                      "fulfillment.shipped": ("callbacks", "fulfilment")}
    assert profile.webhooks.signature_header == "X-Fulfil-Signature"
    details = {h.detail for h in profile.rate_limits}
    assert {"X-RateLimit-Remaining", "Retry-After", "429 Too Many Requests is declared"} <= details
    (guess,) = profile.auth  # no scheme declared: the credential-like header is a guess
    assert (guess.type, guess.param_name, guess.confidence) == ("apiKey", "X-Api-Key", 0.5)
