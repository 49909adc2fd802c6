"""Pre-flight: check a mapped payload against the target's schema before writing, and explain API refusals.

``preflight(payload, schema, rows)`` returns :class:`Violation` values (required
fields missing, wrong types, values outside an enum, too long or too short, out of
range, fields the target does not know), each with the field path (``lines[0].sku``)
and, when FieldMap rows are given, the row ``from -> to`` that produced the field, so
the fix is made in the map rather than guessed at. :func:`explain_rejection` does the
same for an API's 4xx validation answer.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doohickey.discover.loader import SpecSource
from doohickey.discover.profile import EntityProfile, FieldInfo
from doohickey.discover.schemas import flatten

_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float),
                                       "boolean": (bool,), "array": (list,), "object": (dict,)}
_INDEX = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Violation:
    """One problem with one field of a payload, in words, with the FieldMap row behind it when known."""

    path: str
    problem: str
    message: str
    row: str = ""
    source: str = ""

    def __str__(self) -> str:
        where = f" (from FieldMap row {self.row})" if self.row else ""
        return f"{self.path}: {self.message}{where}"


def fields_of(schema: Any) -> list[FieldInfo]:
    """The flattened fields of ``schema``: a field list, an EntityProfile (its write fields) or a JSON Schema."""
    if isinstance(schema, EntityProfile):
        return schema.write_fields or schema.fields
    if isinstance(schema, list):
        return [f if isinstance(f, FieldInfo) else FieldInfo.model_validate(f) for f in schema]
    if isinstance(schema, Mapping):
        source = SpecSource(path=Path("<schema>"), root={"openapi": "3.0.3"}, version="3.0.3", swagger=False)
        return flatten(source, dict(schema))
    raise TypeError(f"a schema is a list of fields, an EntityProfile or a JSON Schema, not {type(schema).__name__}")


def preflight(payload: Mapping[str, Any], schema: Any, rows: Iterable[Any] | None = None) -> list[Violation]:
    """Every way ``payload`` breaks ``schema``; ``rows`` (FieldMap rows or ``"from -> to"`` strings) name causes."""
    fields = fields_of(schema)
    by_path = {f.path: f for f in fields}
    row_index = _rows(rows)
    found: list[Violation] = []
    for f in fields:
        for concrete, value, present, parent_present in _values(payload, f.path):
            if not parent_present:
                continue
            problem = _check(f, value, present)
            if problem:
                found.append(_violation(concrete, f.path, problem[0], problem[1], row_index))
    found += _unknown(payload, by_path, "", "", row_index)
    return found


def _check(f: FieldInfo, value: Any, present: bool) -> tuple[str, str] | None:
    if not present:
        return ("required", "is required but missing") if f.required and not f.read_only else None
    if value is None:
        return None if f.nullable or not f.required else ("type", "is required but null")
    expected = _TYPES.get(f.type)
    if expected and (not isinstance(value, expected) or (isinstance(value, bool) and f.type != "boolean")):
        return "type", f"must be {_article(f.type)}, got {_describe(value)}"
    if f.enum and value not in f.enum:
        close = difflib.get_close_matches(str(value), [str(v) for v in f.enum], n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        allowed = ", ".join(repr(v) for v in f.enum[:12]) + (" ..." if len(f.enum) > 12 else "")
        return "enum", f"{value!r} is not an allowed value ({allowed}){hint}"
    if isinstance(value, str):
        if f.max_length is not None and len(value) > f.max_length:
            return "max_length", f"is {len(value)} characters long; at most {f.max_length} are allowed"
        if f.min_length is not None and len(value) < f.min_length:
            return "min_length", f"is {len(value)} characters long; at least {f.min_length} are needed"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if f.maximum is not None and value > f.maximum:
            return "maximum", f"{value} is above the maximum {f.maximum:g}"
        if f.minimum is not None and value < f.minimum:
            return "minimum", f"{value} is below the minimum {f.minimum:g}"
    return None


def _article(kind: str) -> str:
    return {"integer": "an integer", "object": "an object", "array": "a list", "string": "text",
            "number": "a number", "boolean": "true or false"}.get(kind, kind)


def _describe(value: Any) -> str:
    kind = {str: "text", bool: "true/false", int: "an integer", float: "a number", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)
    shown = repr(value) if not isinstance(value, dict | list) else ""
    return f"{kind} {shown[:40]}".strip()


def _values(payload: Any, path: str) -> list[tuple[str, Any, bool, bool]]:
    """``(concrete path, value, present, parent present)`` for each place ``path`` (with ``[]``) points to."""
    results: list[tuple[str, Any, bool, bool]] = []

    def walk(node: Any, parts: list[str], prefix: str) -> None:
        head, rest = parts[0], parts[1:]
        array = head.endswith("[]")
        name = head[:-2] if array else head
        if not isinstance(node, Mapping):
            return
        here = f"{prefix}.{name}" if prefix else name
        if name not in node:
            # an absent optional parent is not a problem of its children; the parent reports itself
            results.append((here, None, False, not rest))
            return
        value = node[name]
        if not rest:
            results.append((here, value, True, True))
            return
        if array:
            for index, element in enumerate(value if isinstance(value, list) else []):
                walk(element, rest, f"{here}[{index}]")
        else:
            walk(value, rest, here)

    walk(payload, path.replace("[].", "[]\x00").replace(".", "\x00").split("\x00"), "")
    return results


def _unknown(node: Any, by_path: dict[str, FieldInfo], schema_prefix: str, prefix: str,
             rows: dict[str, str]) -> list[Violation]:
    if not isinstance(node, Mapping):
        return []
    children = {p[len(schema_prefix):].split(".")[0].removesuffix("[]") for p in by_path
                if p.startswith(schema_prefix) and p != schema_prefix}
    if not children:
        return []
    found = []
    for key, value in node.items():
        here = f"{prefix}.{key}" if prefix else str(key)
        if key not in children:
            close = difflib.get_close_matches(str(key), sorted(children), n=1, cutoff=0.7)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            found.append(_violation(here, f"{schema_prefix}{key}", "unknown",
                                    f"is not a field of the target{hint}", rows))
        elif isinstance(value, Mapping):
            found += _unknown(value, by_path, f"{schema_prefix}{key}.", here, rows)
        elif isinstance(value, list):
            for index, element in enumerate(value):
                found += _unknown(element, by_path, f"{schema_prefix}{key}[].", f"{here}[{index}]", rows)
    return found


def _rows(rows: Iterable[Any] | None) -> dict[str, str]:
    """Target path (``[]`` form) -> ``"from -> to"``."""
    index: dict[str, str] = {}
    for row in rows or []:
        if isinstance(row, str):
            left, _, right = row.partition("->")
            source, target = left.strip(), right.split("|")[0].strip()
        elif isinstance(row, Mapping):
            source, target = str(row.get("from", row.get("source", ""))), str(row.get("to", row.get("target", "")))
        else:
            source, target = str(getattr(row, "source", "")), str(getattr(row, "target", ""))
        if target:
            index[_INDEX.sub("[]", target)] = f"{source} -> {target}"
    return index


def _violation(concrete: str, schema_path: str, problem: str, message: str, rows: dict[str, str]) -> Violation:
    generic = _INDEX.sub("[]", concrete)
    row = rows.get(generic) or rows.get(schema_path) or ""
    if not row:  # a row that produced the parent object (customer -> customer) explains its children too
        parent = generic
        while "." in parent and not row:
            parent = parent.rsplit(".", 1)[0]
            row = rows.get(parent, "")
    source = row.split(" -> ")[0] if row else ""
    if problem == "required" and row:
        message += f": the source field {source} was empty or missing"
    elif problem == "required":
        message += ": no FieldMap row writes it"
    return Violation(concrete, problem, message, row, source)


_API_PATH = re.compile(r"(?:^|;\s*)([A-Za-z_][\w.\[\]]*)\s*:\s*([^;]+)")


def explain_rejection(error: Any, rows: Iterable[Any] | None = None) -> list[Violation]:
    """Field-level problems from an API's 4xx answer (a RejectedError, a body dict, or text).

    Reads ``o:errorDetails``/``o:errorPath`` (NetSuite), ``errors: [{field|path|loc, message}]``,
    FastAPI/pydantic ``detail: [{loc, msg}]`` and ``"path: message; ..."`` text.
    """
    row_index = _rows(rows)
    body: Any = error
    if not isinstance(error, Mapping | str):
        body = getattr(error, "message", str(error))
    items: list[tuple[str, str]] = []
    if isinstance(body, Mapping):
        for detail in body.get("o:errorDetails") or []:
            if isinstance(detail, Mapping):
                text = str(detail.get("detail", ""))
                path = str(detail.get("o:errorPath") or "")
                items.append((path, text.split(": ", 1)[1] if path and text.startswith(path + ":") else text))
        for entry in (body.get("errors") if isinstance(body.get("errors"), list) else []) + \
                (body.get("detail") if isinstance(body.get("detail"), list) else []):
            if isinstance(entry, Mapping):
                loc = entry.get("field") or entry.get("path") or entry.get("loc") or ""
                if isinstance(loc, list):
                    loc = _loc(loc)
                items.append((str(loc), str(entry.get("message") or entry.get("msg") or "")))
        if not items and isinstance(body.get("detail") or body.get("message"), str):
            body = str(body.get("detail") or body.get("message"))
    if isinstance(body, str):
        text = body.split(" refused ", 1)[-1].split(": ", 1)[-1] if " refused " in body else body
        items += [(m.group(1), m.group(2).strip()) for m in _API_PATH.finditer(text)]
    return [_violation(path or "(record)", _INDEX.sub("[]", path), "api", message, row_index)
            for path, message in items if message]


def _loc(parts: list[Any]) -> str:
    out = ""
    for part in parts[1:] if parts and parts[0] in ("body", "query", "path") else parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
