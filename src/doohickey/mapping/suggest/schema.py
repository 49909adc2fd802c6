"""The schemas the suggester compares, and the loaders that read them.

A :class:`Schema` is a flat list of :class:`Field` s: dotted paths with ``[]`` marking an
array element (``line_items[].sku``), a type, a description, an optional ``enum`` and
optional sample values. Three inputs produce one:

* the field-list JSON format (``{"system", "entity", "fields": [{"path", "type", ...}]}``);
* an OpenAPI 3 / Swagger 2 component, ``spec.yaml#/components/schemas/Order``, flattened to
  dotted paths with ``$ref`` s resolved, in the same file or in files beside it (cycles are cut);
* a ``system.entity`` name (``shopify.order``) looked up in a small registry: resolvers added
  with :func:`add_resolver` first (the hook for system profiles and connectors), then schema
  files registered by path (:func:`register_schema`), then files named
  ``<system>.<entity>.json`` in folders added with :func:`add_schema_folder`.

Every failure raises :class:`~doohickey.errors.MappingError` naming the file and what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from doohickey.errors import MappingError

_MAX_DEPTH = 6  # deeper OpenAPI nesting is rare in commerce payloads and explodes the field count


@dataclass(frozen=True)
class Field:
    """One field of a schema: its dotted path and what is known about it."""

    path: str
    type: str = "string"
    description: str = ""
    enum: tuple[str, ...] = ()
    samples: tuple[str, ...] = ()

    @property
    def segments(self) -> list[str]:
        """The path split on dots, ``[]`` kept on array segments."""
        return self.path.split(".")

    @property
    def leaf(self) -> str:
        """The last path segment without its array marker."""
        return self.segments[-1].removesuffix("[]")

    @property
    def parent(self) -> str:
        """The path of the enclosing object (``""`` at the root)."""
        return ".".join(self.segments[:-1])

    @property
    def in_array(self) -> bool:
        """Whether the field sits inside (or is) an array element."""
        return "[]" in self.path


@dataclass
class Schema:
    """A named, flattened schema of one entity of one system."""

    system: str
    entity: str
    fields: list[Field] = field(default_factory=list)
    origin: str = ""

    @property
    def name(self) -> str:
        """``system.entity``, the name used in messages and file names."""
        return f"{self.system}.{self.entity}" if self.system else self.entity

    def get(self, path: str) -> Field:
        """The field at ``path``; a clear error naming the schema when it does not exist."""
        for f in self.fields:
            if f.path == path:
                return f
        raise MappingError(f"{self.name} ({self.origin or 'schema'}) has no field {path!r}")


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, Path] = {}
_FOLDERS: list[Path] = []
_RESOLVERS: list[Callable[[str], Schema | None]] = []


def add_resolver(resolver: Callable[[str], Schema | None]) -> None:
    """Let ``resolver(name)`` answer ``system.entity`` names first (system profiles, connectors plug in here)."""
    if resolver not in _RESOLVERS:
        _RESOLVERS.append(resolver)


def register_schema(name: str, path: str | Path) -> None:
    """Make ``system.entity`` (``shopify.order``) resolve to the schema file at ``path``."""
    _REGISTRY[name.lower()] = Path(path)


def add_schema_folder(folder: str | Path) -> None:
    """Resolve ``system.entity`` names to ``<folder>/<system>.<entity>.json`` files."""
    p = Path(folder)
    if p not in _FOLDERS:
        _FOLDERS.append(p)


def registered_names() -> list[str]:
    """Every ``system.entity`` name the registry can resolve right now."""
    names = set(_REGISTRY)
    for folder in _FOLDERS:
        names.update(p.stem.lower() for p in folder.glob("*.json"))
    return sorted(names)


def _from_registry(name: str) -> Path | None:
    key = name.lower()
    if key in _REGISTRY:
        return _REGISTRY[key]
    for folder in _FOLDERS:
        candidate = folder / f"{key}.json"
        if candidate.is_file():
            return candidate
    return None


# --------------------------------------------------------------------------- loading


def load_schema(ref: str | Path) -> Schema:
    """Load a schema from a field-list file, an OpenAPI component reference or a registered name.

    ``ref`` is one of ``schemas/shopify.order.json``, ``spec.yaml#/components/schemas/Order``
    or ``shopify.order``.
    """
    text = str(ref)
    if "#" in text:
        file_part, pointer = text.split("#", 1)
        return load_openapi_component(file_part, pointer)
    path = Path(text)
    if path.is_file():
        return load_field_list(path)
    for resolver in _RESOLVERS:
        found = resolver(text)
        if found is not None:
            return found
    registered = _from_registry(text)
    if registered is not None:
        return load_field_list(registered)
    if path.suffix.lower() in {".json", ".yaml", ".yml"} or "/" in text:
        raise MappingError(f"schema file not found: {text}")
    known = ", ".join(registered_names()) or "none registered"
    raise MappingError(f"unknown schema {text!r}: not a file, and not a registered system.entity ({known})")


def _read_document(path: Path) -> Any:
    if not path.is_file():
        raise MappingError(f"schema file not found: {path}")
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"cannot read {path}: {exc}") from exc
    try:
        if path.suffix.lower() == ".json":
            return json.loads(raw)
        return yaml.safe_load(raw)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise MappingError(f"{path} is not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {exc}") \
            from exc


def _text_tuple(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list):
        return ()
    return tuple("null" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for v in values)


def load_field_list(path: str | Path) -> Schema:
    """Read the field-list JSON (or YAML) format: ``{"system", "entity", "fields": [...]}``."""
    p = Path(path)
    doc = _read_document(p)
    if not isinstance(doc, dict) or not isinstance(doc.get("fields"), list):
        raise MappingError(f"{p}: expected an object with a 'fields' list (the field-list schema format)")
    fields: list[Field] = []
    for i, item in enumerate(doc["fields"]):
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not item["path"]:
            raise MappingError(f"{p}: fields[{i}] needs a non-empty 'path' string")
        samples = item.get("samples", item.get("examples"))
        if samples is None and "example" in item:
            samples = [item["example"]]
        fields.append(Field(path=item["path"], type=str(item.get("type") or "string"),
                            description=str(item.get("description") or ""),
                            enum=_text_tuple(item.get("enum")), samples=_text_tuple(samples)))
    if not fields:
        raise MappingError(f"{p}: the 'fields' list is empty; there is nothing to map")
    stem = p.stem.split(".", 1)
    system = str(doc.get("system") or (stem[0] if len(stem) == 2 else ""))
    entity = str(doc.get("entity") or stem[-1])
    return Schema(system=system, entity=entity, fields=fields, origin=str(p))


# --------------------------------------------------------------------------- OpenAPI


def _resolve_pointer(doc: Any, pointer: str, where: str) -> Any:
    node = doc
    for part in pointer.lstrip("/").split("/"):
        if not part:
            continue
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise MappingError(f"{where}: '#{pointer}' does not exist (no {key!r})")
    return node


class _Flattener:
    """Walks one OpenAPI schema object into dotted-path fields, following ``$ref`` s (also into other files)."""

    def __init__(self, path: Path, doc: Any, where: str) -> None:
        self.docs: dict[Path, Any] = {path.resolve(): doc}
        self.where = where
        self.fields: list[Field] = []

    def _document(self, path: Path) -> Any:
        key = path.resolve()
        if key not in self.docs:
            if len(self.docs) > 50:
                raise MappingError(f"{self.where}: more than 50 files referenced; is this a reference loop?")
            self.docs[key] = _read_document(path)
        return self.docs[key]

    def deref(self, node: Any, base: Path, seen: tuple[str, ...]) -> tuple[Any, Path, tuple[str, ...]]:
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref:
                raise MappingError(f"{self.where}: a $ref must be a string, found {ref!r}")
            file_part, _, pointer = ref.partition("#")
            target = (base.parent / file_part) if file_part else base
            if file_part and "://" in file_part:
                raise MappingError(f"{self.where}: remote $refs are not fetched ({ref!r}); download the file first")
            key = f"{target.resolve()}#{pointer}"
            if key in seen:
                return {}, base, seen  # a reference cycle: stop descending, the outer field is kept
            seen = (*seen, key)
            if file_part and not target.is_file():
                raise MappingError(f"{self.where}: $ref {ref!r} points to a missing file ({target})")
            node = _resolve_pointer(self._document(target), pointer, f"{target} (from $ref {ref!r})")
            base = target
        return node, base, seen

    def merged(self, node: Any, base: Path, seen: tuple[str, ...]) -> tuple[dict[str, Any], Path, tuple[str, ...]]:
        node, base, seen = self.deref(node, base, seen)
        if not isinstance(node, dict):
            return {}, base, seen
        parts = node.get("allOf") or []
        if not parts and (node.get("oneOf") or node.get("anyOf")):
            parts = (node.get("oneOf") or node.get("anyOf"))[:1]  # the first variant names the usual shape
        if not parts:
            return node, base, seen
        out: dict[str, Any] = {k: v for k, v in node.items() if k not in {"allOf", "oneOf", "anyOf"}}
        props: dict[str, Any] = {}
        for part in parts:
            sub, sub_base, _ = self.merged(part, base, seen)
            # Properties of another file keep their own base for the refs inside them.
            props.update({k: _Based(v, sub_base) for k, v in (sub.get("properties") or {}).items()})
            for key in ("type", "description", "enum", "items", "format"):
                if key not in out and sub.get(key) is not None:
                    out[key] = _Based(sub[key], sub_base) if key == "items" else sub[key]
        props.update(out.get("properties") or {})
        if props:
            out["properties"] = props
        return out, base, seen

    def walk(self, node: Any, base: Path, prefix: str, seen: tuple[str, ...], depth: int) -> None:
        if isinstance(node, _Based):
            node, base = node.node, node.base
        schema, base, seen = self.merged(node, base, seen)
        props = schema.get("properties")
        if isinstance(props, dict) and props and depth < _MAX_DEPTH:
            for name, sub in props.items():
                path = f"{prefix}.{name}" if prefix else str(name)
                self.walk(sub, base, path, seen, depth + 1)
            return
        if schema.get("type") == "array" or "items" in schema:
            raw_items = schema.get("items") or {}
            item_base = base
            if isinstance(raw_items, _Based):
                raw_items, item_base = raw_items.node, raw_items.base
            items, item_base, item_seen = self.merged(raw_items, item_base, seen)
            if isinstance(items.get("properties"), dict) and items["properties"] and depth < _MAX_DEPTH:
                self.walk(items, item_base, f"{prefix}[]", item_seen, depth + 1)
                return
            self.add(prefix + "[]" if prefix else "[]", items, schema)
            return
        if prefix:
            self.add(prefix, schema, schema)

    def add(self, path: str, schema: dict[str, Any], outer: dict[str, Any]) -> None:
        kind = str(schema.get("type") or "string")
        fmt = str(schema.get("format") or "")
        if fmt in {"date-time", "date"}:
            kind = "datetime"
        if schema.get("enum"):
            kind = "enum"
        description = str(schema.get("description") or outer.get("description") or schema.get("title") or "")
        example = schema.get("example")
        self.fields.append(Field(path=path, type=kind, description=description.strip(),
                                 enum=_text_tuple(schema.get("enum")),
                                 samples=_text_tuple([example]) if example is not None else ()))


@dataclass(frozen=True)
class _Based:
    """A schema node remembered with the file its local ``$ref`` s are relative to."""

    node: Any
    base: Path


def load_openapi_component(spec: str | Path, pointer: str) -> Schema:
    """Flatten the OpenAPI / Swagger schema at ``spec#pointer`` (``#/components/schemas/Order``)."""
    p = Path(spec)
    doc = _read_document(p)
    if not isinstance(doc, dict):
        raise MappingError(f"{p}: not an OpenAPI document (expected a mapping at the top)")
    where = f"{p}#{pointer}"
    root = _resolve_pointer(doc, pointer, str(p))
    flattener = _Flattener(p, doc, where)
    flattener.walk(root, p, "", (f"{p.resolve()}#{pointer}",), 0)
    if not flattener.fields:
        raise MappingError(f"{where}: the schema has no properties to map")
    title = (doc.get("info") or {}).get("title") if isinstance(doc.get("info"), dict) else None
    system = str(title or p.stem).strip().lower().replace(" ", "_")
    return Schema(system=system, entity=pointer.rstrip("/").rsplit("/", 1)[-1].lower(),
                  fields=flattener.fields, origin=where)
