"""Loading an OpenAPI 3.x / Swagger 2 document: parse, check it is one, resolve ``$ref``s across files.

:class:`SpecSource` holds every file reached from the entry document. References are
resolved lazily (``deref``), which keeps large specs fast and makes recursive schemas
(a category holding categories) harmless. ``load_spec`` also checks every ``$ref``
once up front, so a broken or circular reference fails at load time with a message
naming the file and the place (a JSON pointer), never as a traceback later.

Hostile input is bounded: file size (``max_bytes``), the number of files one spec may
pull in, the length of a ``$ref`` chain, and the node count of the reference check
(YAML alias bombs expand to shared objects, which the check visits once).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

import yaml

from doohickey.errors import DoohickeyError

try:  # the C parser is 5-10x faster on multi-megabyte specs
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


class _YamlLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader with scalar tag resolution memoised.

    PyYAML resolves every plain scalar with regular expressions in Python, which is
    most of the load time of a large spec; the same few thousand words repeat, so
    the answer is cached per (value, implicit) pair.
    """

    _cache: ClassVar[dict[tuple[str, bool, bool], str]] = {}

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and isinstance(value, str) and len(value) < 64:
            key = (value, bool(implicit and implicit[0]), bool(implicit and implicit[1]))
            tag = self._cache.get(key)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(self._cache) < 200_000:
                    self._cache[key] = tag
            return tag
        return super().resolve(kind, value, implicit)


@functools.lru_cache(maxsize=4096)
def _resolved(path: Path) -> Path:
    return path.resolve()

MAX_BYTES = 64 * 1024 * 1024
MAX_FILES = 200
MAX_REF_CHAIN = 64
MAX_NODES = 5_000_000
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class SpecError(DoohickeyError):
    """The API document cannot be used: unreadable, not OpenAPI, or a ``$ref`` that does not resolve.

    ``file`` and ``place`` (a JSON pointer or ``line N``) say where.
    """

    def __init__(self, message: str, *, file: str | Path = "", place: str = "") -> None:
        self.file = str(file)
        self.place = place
        where = f"{self.file}" + (f" at {place}" if place else "")
        super().__init__(f"{where}: {message}" if where else message)


@dataclass
class SpecSource:
    """One OpenAPI document and every file its references reach.

    ``root`` is the entry document; ``version`` is ``"3.0.3"``-style for OpenAPI or
    ``"2.0"`` for Swagger; ``swagger`` tells which.
    """

    path: Path
    root: dict[str, Any]
    version: str
    swagger: bool
    max_bytes: int = MAX_BYTES
    files: dict[Path, Any] = field(default_factory=dict)

    def document(self, path: Path) -> Any:
        """The parsed content of ``path`` (loaded once), for references into other files."""
        path = _resolved(path)
        if path not in self.files:
            if len(self.files) >= MAX_FILES:
                raise SpecError(f"the spec reaches more than {MAX_FILES} files; refusing to load more", file=path)
            self.files[path] = _absolute_refs(parse_file(path, self.max_bytes), path)
        return self.files[path]

    def target(self, ref: str, base: Path, where: str) -> tuple[Any, Path]:
        """Follow one ``$ref`` string written in file ``base`` at ``where``; return the node and its file."""
        if not isinstance(ref, str):
            raise SpecError(f"$ref must be a string, found {type(ref).__name__}", file=base, place=where)
        file_part, _, pointer = ref.partition("#")
        if file_part.startswith(("http://", "https://")):
            raise SpecError(f"remote $ref {ref!r} is not fetched; download that file next to the spec",
                            file=base, place=where)
        file = _resolved(base.parent / unquote(file_part)) if file_part else _resolved(base)
        if file_part and not file.is_file():
            raise SpecError(f"$ref {ref!r} points to a file that does not exist ({file})", file=base, place=where)
        doc = self.document(file)
        return walk_pointer(doc, pointer, ref=ref, file=base, where=where), file

    def deref(self, node: Any, base: Path | None = None, where: str = "") -> tuple[Any, Path]:
        """Follow ``$ref`` chains from ``node`` until a real node; return it with the file it lives in."""
        base = base or _resolved(self.path)
        seen: list[str] = []
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            key = f"{base}#{ref}"
            if key in seen or len(seen) >= MAX_REF_CHAIN:
                chain = " -> ".join([*(s.split("#", 1)[1] for s in seen), str(ref)])
                raise SpecError(f"circular $ref chain: {chain}", file=base, place=where)
            seen.append(key)
            node, base = self.target(ref, base, where)
        return node, base

    def resolve(self, node: Any, base: Path | None = None, where: str = "") -> Any:
        """Like :meth:`deref` but returns only the node."""
        return self.deref(node, base, where)[0]


def _absolute_refs(doc: Any, file: Path) -> Any:
    """Rewrite a referenced file's ``$ref``s to name their file absolutely.

    Nodes of another file are later resolved without knowing where they came from;
    ``#/x`` in ``schemas/order.yaml`` must keep meaning that file, not the entry document.
    """
    seen: set[int] = set()
    stack = [doc]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith(("http://", "https://")):
                file_part, _, pointer = ref.partition("#")
                target = (file.parent / unquote(file_part)).resolve() if file_part else file
                node["$ref"] = f"{target}#{pointer}"
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    return doc


def walk_pointer(doc: Any, pointer: str, *, ref: str, file: Path, where: str) -> Any:
    """The node at JSON pointer ``pointer`` (``/components/schemas/Order``) in ``doc``."""
    node = doc
    if pointer in ("", "/"):
        return node
    if not pointer.startswith("/"):
        raise SpecError(f"$ref {ref!r} has a fragment that is not a JSON pointer", file=file, place=where)
    for raw in pointer[1:].split("/"):
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise SpecError(f"broken $ref {ref!r}: there is no {part!r} at that place", file=file, place=where)
    return node


def parse_file(path: Path, max_bytes: int = MAX_BYTES) -> Any:
    """Parse one YAML or JSON file, with a clear error naming the file (and line) when it cannot be read."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SpecError(f"cannot read the file: {exc.strerror or exc}", file=path) from None
    if size > max_bytes:
        raise SpecError(f"the file is {size / 1e6:.1f} MB, above the {max_bytes / 1e6:.0f} MB limit", file=path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text (byte {exc.start}); is this an API document?", file=path) from None
    except OSError as exc:
        raise SpecError(f"cannot read the file: {exc.strerror or exc}", file=path) from None
    return parse_text(text, path)


def parse_text(text: str, path: Path) -> Any:
    """Parse YAML or JSON text read from ``path`` (JSON first when it looks like JSON: it is faster)."""
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            if path.suffix.lower() == ".json":
                raise SpecError(f"invalid JSON: {exc.msg}", file=path, place=f"line {exc.lineno} column {exc.colno}") \
                    from None
    try:
        return yaml.load(text, Loader=_YamlLoader)  # a safe loader (CSafeLoader / SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        place = f"line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise SpecError(f"invalid YAML: {exc.problem or exc}", file=path, place=place) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", file=path) from None
    except RecursionError:
        raise SpecError("the document nests too deeply to be an API description", file=path) from None


def load_spec(path: str | Path, *, max_bytes: int = MAX_BYTES, check_refs: bool = True) -> SpecSource:
    """Load an OpenAPI 3.x or Swagger 2 document and check that every ``$ref`` in it resolves.

    Raises :class:`SpecError` naming the file and the place for anything unusable.
    """
    path = Path(path)
    if not path.exists():
        raise SpecError("no such file", file=path)
    if path.is_dir():
        raise SpecError("this is a folder; give the API document's file", file=path)
    root = parse_file(path, max_bytes)
    return source_from_document(root, path, max_bytes=max_bytes, check_refs=check_refs)


def source_from_document(root: Any, path: Path, *, max_bytes: int = MAX_BYTES, check_refs: bool = True) -> SpecSource:
    """Wrap an already parsed document (e.g. fetched over HTTP) as a :class:`SpecSource`."""
    if not isinstance(root, dict):
        raise SpecError(f"not an OpenAPI document: the top level is a {type(root).__name__}, not a mapping", file=path)
    if "openapi" in root:
        version, swagger = str(root["openapi"]), False
        if not version.startswith("3."):
            raise SpecError(f"unsupported OpenAPI version {version!r} (3.x and Swagger 2.0 are read)",
                            file=path, place="/openapi")
    elif "swagger" in root:
        version, swagger = str(root["swagger"]), True
        if not version.startswith("2"):
            raise SpecError(f"unsupported Swagger version {version!r}", file=path, place="/swagger")
    else:
        keys = ", ".join(list(map(str, root))[:6]) or "nothing"
        raise SpecError(f"not an OpenAPI document: no 'openapi' or 'swagger' key at the top level (found {keys})",
                        file=path)
    paths = root.get("paths")
    if paths is not None and not isinstance(paths, dict):
        raise SpecError("'paths' must be a mapping of URL paths to operations", file=path, place="/paths")
    source = SpecSource(path=path, root=root, version=version, swagger=swagger, max_bytes=max_bytes)
    source.files[path.resolve()] = root
    if check_refs:
        check_references(source)
    return source


def check_references(source: SpecSource) -> int:
    """Resolve every ``$ref`` in every file reached; return how many were checked.

    Visits each container once (by identity), so shared YAML aliases cost nothing extra.
    """
    pending: list[Path] = [source.path.resolve()]
    done: set[Path] = set()
    count = 0
    while pending:
        file = pending.pop()
        if file in done:
            continue
        done.add(file)
        for ref, where in _refs_in(source.document(file), file):
            count += 1
            _node, target_file = source.deref({"$ref": ref}, file, where)
            if target_file not in done:
                pending.append(target_file)
    return count


def _refs_in(doc: Any, file: Path) -> list[tuple[str, str]]:
    """Every ``$ref`` string in ``doc`` with the JSON pointer of the object holding it."""
    found: list[tuple[str, str]] = []
    seen: set[int] = set()
    stack: list[tuple[Any, str]] = [(doc, "")]
    nodes = 0
    while stack:
        node, where = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes += 1
        if nodes > MAX_NODES:
            raise SpecError(f"the document has more than {MAX_NODES:,} nodes; refusing to analyse it", file=file)
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                found.append((ref, where or "/"))
            for key, value in node.items():
                if isinstance(value, dict | list):
                    stack.append((value, f"{where}/{_escape(key)}"))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if isinstance(value, dict | list):
                    stack.append((value, f"{where}/{index}"))
    return found


def _escape(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def operations(source: SpecSource) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """Every ``(method, path, operation, path_item)`` in the document, path items resolved."""
    result = []
    for raw_path, item in (source.root.get("paths") or {}).items():
        where = f"/paths/{_escape(raw_path)}"
        item = source.resolve(item, None, where)
        if not isinstance(item, dict):
            raise SpecError("a path item must be a mapping", file=source.path, place=where)
        for method in HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                result.append((method, str(raw_path), op, item))
    return result
