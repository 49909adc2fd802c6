"""Reading schemas, parameters and bodies out of operations, the same way for OpenAPI 3 and Swagger 2.

Schemas are resolved lazily and flattened into dotted field paths (``lines[].sku``)
with ``allOf`` merged; recursion (a category holding categories) stops at the first
repeat, and depth and width are capped so a hostile schema cannot blow up.
"""

from __future__ import annotations

from typing import Any

from doohickey.discover.loader import SpecSource
from doohickey.discover.profile import FieldInfo

MAX_DEPTH = 4
MAX_FIELDS = 400
JSON_TYPES = ("application/json", "application/hal+json", "application/vnd.api+json", "*/*")


def parameters(source: SpecSource, op: dict[str, Any], item: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """The operation's parameters (path-level ones included, operation-level ones winning), resolved."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for level, raw in (("", item.get("parameters")), ("", op.get("parameters"))):
        for index, param in enumerate(raw or []):
            resolved = source.resolve(param, None, f"{where}/parameters/{index}{level}")
            if isinstance(resolved, dict) and "name" in resolved:
                merged[(str(resolved.get("in", "")), str(resolved["name"]))] = resolved
    return list(merged.values())


def param_schema(param: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema (Swagger 2 puts type/enum on the parameter itself)."""
    schema = param.get("schema")
    return schema if isinstance(schema, dict) else param


def _content_schema(content: Any) -> Any:
    if not isinstance(content, dict):
        return None
    for media in JSON_TYPES:
        if isinstance(content.get(media), dict) and "schema" in content[media]:
            return content[media]["schema"]
    for media, body in content.items():
        if "json" in str(media) and isinstance(body, dict) and "schema" in body:
            return body["schema"]
    return None


def request_schema(source: SpecSource, op: dict[str, Any], params: list[dict[str, Any]], where: str) -> Any:
    """The JSON request body schema of an operation, or ``None``."""
    if source.swagger:
        for param in params:
            if param.get("in") == "body":
                return source.resolve(param.get("schema"), None, where)
        return None
    body = source.resolve(op.get("requestBody"), None, f"{where}/requestBody")
    if not isinstance(body, dict):
        return None
    return source.resolve(_content_schema(body.get("content")), None, f"{where}/requestBody")


def success_response(source: SpecSource, op: dict[str, Any], where: str) -> tuple[dict[str, Any], Any]:
    """The first 2xx response of an operation (resolved) and its JSON schema (or ``None``)."""
    responses = op.get("responses") or {}
    if not isinstance(responses, dict):
        return {}, None
    codes = sorted((str(code) for code in responses), key=lambda c: (not c.startswith("2"), c))
    for code in codes:
        if code.startswith("2") or code == "default":
            response = source.resolve(responses[code] if code in responses else responses[int(code)], None,
                                      f"{where}/responses/{code}")
            if not isinstance(response, dict):
                return {}, None
            raw = response.get("schema") if source.swagger else _content_schema(response.get("content"))
            return response, source.resolve(raw, None, f"{where}/responses/{code}")
    return {}, None


def response_headers(source: SpecSource, op: dict[str, Any]) -> dict[str, str]:
    """Every response header an operation declares, lower-cased name -> status code that declares it."""
    found: dict[str, str] = {}
    for code, response in (op.get("responses") or {}).items():
        response = source.resolve(response)
        if isinstance(response, dict) and isinstance(response.get("headers"), dict):
            for name in response["headers"]:
                found.setdefault(str(name).lower(), str(code))
    return found


def merged(source: SpecSource, schema: Any, seen: frozenset[int] = frozenset()) -> dict[str, Any]:
    """A schema with ``$ref`` followed and ``allOf`` parts merged into one object schema."""
    schema = source.resolve(schema)
    if not isinstance(schema, dict) or id(schema) in seen:
        return {}
    parts = schema.get("allOf")
    if not isinstance(parts, list):
        return schema
    result: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    props: dict[str, Any] = dict(result.get("properties") or {})
    required: list[str] = list(result.get("required") or [])
    for part in parts:
        sub = merged(source, part, seen | {id(schema)})
        props.update(sub.get("properties") or {})
        required += [r for r in sub.get("required") or [] if isinstance(r, str)]
        for key in ("type", "items", "description", "title"):
            if key in sub and key not in result:
                result[key] = sub[key]
    if props:
        result["properties"] = props
        result.setdefault("type", "object")
    result["required"] = required
    return result


def first_variant(source: SpecSource, schema: dict[str, Any]) -> dict[str, Any]:
    """For ``oneOf`` / ``anyOf``, the first alternative that is an object (the common shape)."""
    for key in ("oneOf", "anyOf"):
        options = schema.get(key)
        if isinstance(options, list):
            resolved_options = [merged(source, option) for option in options]
            for resolved in resolved_options:
                if resolved.get("properties") or resolved.get("type") == "object":
                    return resolved
            real = [r for r in resolved_options if r.get("type") != "null"]
            if len(real) == 1:  # "string or null": the string, nullable
                nullable = len(real) < len(resolved_options)
                return {**{k: v for k, v in schema.items() if k != key}, **real[0],
                        **({"nullable": True} if nullable else {})}
    return schema


def schema_type(schema: dict[str, Any]) -> str:
    """The JSON type of a schema (``object`` when it only has properties); 3.1 type lists reduced."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "")
    if not kind and "properties" in schema:
        kind = "object"
    if not kind and "items" in schema:
        kind = "array"
    return str(kind or "")


def flatten(source: SpecSource, schema: Any, prefix: str = "", depth: int = 0,
            seen: frozenset[int] = frozenset(), out: list[FieldInfo] | None = None) -> list[FieldInfo]:
    """The fields of a record schema as dotted paths, with type, format, enum, required, lengths."""
    out = [] if out is None else out
    node = first_variant(source, merged(source, schema, seen))
    if not node or id(node) in seen or depth > MAX_DEPTH:
        return out
    seen = seen | {id(node)}
    required = set(node.get("required") or []) if isinstance(node.get("required"), list) else set()
    for name, raw in (node.get("properties") or {}).items():
        if len(out) >= MAX_FIELDS:
            break
        prop = first_variant(source, merged(source, raw, seen))
        path = f"{prefix}{name}"
        kind = schema_type(prop)
        out.append(_field(path, prop, kind, name in required))
        if kind == "object" and prop.get("properties"):
            flatten(source, prop, f"{path}.", depth + 1, seen, out)
        elif kind == "array":
            items = first_variant(source, merged(source, prop.get("items"), seen))
            if items.get("properties"):
                flatten(source, items, f"{path}[].", depth + 1, seen, out)
    return out


def _field(path: str, prop: dict[str, Any], kind: str, required: bool) -> FieldInfo:
    enum = prop.get("enum") if isinstance(prop.get("enum"), list) else []
    if kind == "array" and isinstance(prop.get("items"), dict) and isinstance(prop["items"].get("enum"), list):
        enum = prop["items"]["enum"]
    return FieldInfo(
        path=path, type=kind, format=str(prop.get("format") or ""), required=required,
        read_only=bool(prop.get("readOnly")), nullable=bool(prop.get("nullable") or prop.get("x-nullable")
                                                           or (isinstance(prop.get("type"), list)
                                                               and "null" in prop["type"])),
        enum=[v for v in enum if isinstance(v, str | int | float | bool)][:100],
        max_length=_int(prop.get("maxLength")), min_length=_int(prop.get("minLength")),
        minimum=_num(prop.get("minimum")), maximum=_num(prop.get("maximum")),
        description=_first_line(prop.get("description")),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _first_line(text: Any) -> str:
    if not isinstance(text, str):
        return ""
    line = text.strip().split("\n", 1)[0]
    return line[:160]


def unwrap_records(source: SpecSource, schema: Any, plural: str = "") -> tuple[str, Any, bool]:
    """Where records sit in a response: ``("", item, True)`` for a bare array, ``("data", item, True)``
    for an envelope's array, ``("data", obj, False)`` for one record in an envelope, ``("", obj, False)``.
    """
    node = first_variant(source, merged(source, schema))
    if schema_type(node) == "array":
        return "", source.resolve(node.get("items")), True
    props = node.get("properties") or {}
    envelope_keys = ("meta", "pagination", "links", "paging", "page", "next", "cursor", "total", "count", "_links")
    if len(props) > 5 and not any(k in props for k in envelope_keys):
        return "", node, False  # a record with a list inside (a shipment's items), not an envelope
    candidates = [plural, "data", "items", "results", "records", "entries", "list", "value", "content", "rows",
                  "nodes", "edges", "elements", "collection"]
    for name in candidates:
        if name and name in props:
            prop = merged(source, props[name])
            if schema_type(prop) == "array":
                return name, source.resolve(prop.get("items")), True
    arrays = [(n, merged(source, p)) for n, p in props.items()]
    arrays = [(n, p) for n, p in arrays if schema_type(p) == "array" and n not in ("errors", "warnings", "links")]
    if len(arrays) == 1 and len(props) <= 4:
        name, prop = arrays[0]
        return name, source.resolve(prop.get("items")), True
    if "data" in props and len(props) <= 3:
        inner = merged(source, props["data"])
        if schema_type(inner) == "object":
            return "data", inner, False
    return "", node, False


def find_fields(fields: list[FieldInfo], names: tuple[str, ...]) -> list[FieldInfo]:
    """The fields whose last path part is one of ``names`` (exact, lower-case)."""
    return [f for f in fields if f.path.rsplit(".", 1)[-1].lower() in names]


def schema_name(raw: Any) -> str:
    """The component name a ``$ref`` points at (``Order`` for ``#/components/schemas/Order``), else ``""``."""
    if isinstance(raw, dict) and isinstance(raw.get("$ref"), str):
        return raw["$ref"].rsplit("/", 1)[-1]
    return ""
