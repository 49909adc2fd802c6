"""Applying a Flow's FieldMap and status table to one record: :func:`map_record`.

A FieldMap row reads a source path and writes a target path through named
Transforms. Paths are dotted; ``[]`` walks every element of a list and ``[0]``
one element: ``lines[].sku``, ``addresses[0].country``, ``customer.email``.

The steps, in order:

1. **Base**: with no map, the record maps onto itself (identity: canonical to
   canonical). With ``passthrough: true``, every field is copied as it is, except
   fields a row *moves* (reads from one path and writes another), which leave
   their old place. Without passthrough, the target holds only what rows write.
2. **Rows**, top to bottom: read the source value (a list per ``[]``), apply the
   transforms (per element, except aggregates such as ``join``), fall back to the
   row's ``default`` when the result is missing or empty, write the target path
   (a ``[]`` in the target writes element by element; a single value written to
   ``lines[].x`` goes to every existing line).
3. **Status table**: the source record's status field value is looked up in
   ``flow.status.values`` and written to the target's status field; an unknown
   value uses ``default`` or raises. A record without the status field (a
   partial update) is left alone.

Every failure is a :class:`~doohickey.errors.MappingError` a person can act on:
it names the flow, the row (``from -> to``), the source field and the value.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from typing import Any

from doohickey.errors import MappingError
from doohickey.mapping.transforms import TransformError, parse_transform
from doohickey.plan.model import FieldMapSpec, Flow, MapRow, StatusTable

_STEP = re.compile(r"([^.\[\]]+)|\[(\d*)\]")


@dataclass(frozen=True)
class Step:
    """One step of a path: a key, every element (``[]``), or one element (``[2]``)."""

    key: str | None = None
    index: int | None = None
    each: bool = False


@functools.lru_cache(maxsize=2048)
def parse_path(path: str) -> tuple[Step, ...]:
    """Split ``lines[].taxes[0].rate`` into steps; raise ValueError on a malformed path."""
    text = path.strip()
    steps: list[Step] = []
    pos = 0
    while pos < len(text):
        if text[pos] == "." and steps:
            pos += 1
        match = _STEP.match(text, pos)
        if not match:
            raise ValueError(f"path {path!r} is malformed at character {pos + 1}")
        if match.group(1) is not None:
            steps.append(Step(key=match.group(1).strip()))
        elif match.group(2):
            steps.append(Step(index=int(match.group(2))))
        else:
            steps.append(Step(each=True))
        pos = match.end()
    if not steps or steps[0].key is None:
        raise ValueError(f"path {path!r} must start with a field name")
    return tuple(steps)


def get_path(data: Any, path: str) -> Any:
    """The value at ``path``: ``None`` when missing; one list level per ``[]``."""
    return _get(data, parse_path(path))


def _get(data: Any, steps: tuple[Step, ...]) -> Any:
    if not steps:
        return data
    step, rest = steps[0], steps[1:]
    if step.each:
        if data is None:
            return []
        if not isinstance(data, list):
            raise TypeError(f"expected a list, found {type(data).__name__}")
        return [_get(item, rest) for item in data]
    if step.index is not None:
        if not isinstance(data, list):
            return None
        return _get(data[step.index], rest) if step.index < len(data) else None
    if not isinstance(data, dict):
        return None
    return _get(data.get(step.key), rest)


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Write ``value`` at ``path``, creating dicts and lists on the way (``[]`` consumes one list level)."""
    _set(data, parse_path(path), value)


def _set(container: Any, steps: tuple[Step, ...], value: Any) -> None:
    step, rest = steps[0], steps[1:]
    if step.key is not None:
        if not rest:
            container[step.key] = value
            return
        nxt = rest[0]
        child = container.get(step.key)
        if nxt.key is not None and not isinstance(child, dict):
            child = container[step.key] = {}
        elif nxt.key is None and not isinstance(child, list):
            child = container[step.key] = []
        _set(child, rest, value)
        return
    if step.index is not None:
        while len(container) <= step.index:
            container.append({} if rest and rest[0].key is not None else None)
        if not rest:
            container[step.index] = value
        else:
            if rest[0].key is not None and not isinstance(container[step.index], dict):
                container[step.index] = {}
            _set(container[step.index], rest, value)
        return
    # step.each: a list writes element by element; a single value goes to every existing element
    values = value if isinstance(value, list) else [value] * len(container)
    while len(container) < len(values):
        container.append({} if rest and rest[0].key is not None else None)
    for i, item in enumerate(values):
        if not rest:
            container[i] = item
        else:
            if rest[0].key is not None and not isinstance(container[i], dict):
                container[i] = {}
            _set(container[i], rest, item)


def delete_path(data: Any, path: str) -> None:
    """Remove the leaf at ``path`` (in every element for ``[]``); missing paths are ignored."""
    _delete(data, parse_path(path))


def _delete(data: Any, steps: tuple[Step, ...]) -> None:
    step, rest = steps[0], steps[1:]
    if step.each and isinstance(data, list):
        for item in data:
            _delete(item, rest) if rest else None
    elif step.index is not None and isinstance(data, list) and step.index < len(data) and rest:
        _delete(data[step.index], rest)
    elif step.key is not None and isinstance(data, dict):
        if not rest:
            data.pop(step.key, None)
        elif step.key in data:
            _delete(data[step.key], rest)


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, str) and not value.strip())


def _depth(path: str) -> int:
    return sum(1 for step in parse_path(path) if step.each)


def _apply(spec: str, value: Any, depth: int) -> tuple[Any, int]:
    """Apply one transform at the right list depth; aggregates take the innermost list and drop one level."""
    found, args = parse_transform(spec)

    def call(item: Any) -> Any:
        try:
            return found.fn(item, *args)
        except (TransformError, ValueError, TypeError, ArithmeticError) as exc:
            exc.failed_value = item  # type: ignore[union-attr]  # the element that failed, for the message
            raise

    if depth == 0:
        return call(value), 0
    if found.aggregate:
        return _each(value, depth - 1, call), depth - 1
    return _each(value, depth, call), depth


def _each(value: Any, depth: int, fn: Any) -> Any:
    if depth == 0:
        return fn(value)
    return [_each(v, depth - 1, fn) for v in (value or [])]


def _with_default(value: Any, fallback: Any, depth: int) -> Any:
    if fallback is None:
        return value
    if depth == 0:
        return copy.deepcopy(fallback) if _empty(value) else value
    return [_with_default(v, fallback, depth - 1) for v in (value or [])]


def _row_name(row: MapRow) -> str:
    return f"{row.source} -> {row.target}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def map_row(row: MapRow, source: dict[str, Any], target: dict[str, Any], flow_name: str = "") -> None:
    """Apply one row: read ``row.source`` from ``source``, transform, default, write ``row.target`` in ``target``."""
    where = f"flow {flow_name}, row '{_row_name(row)}'" if flow_name else f"row '{_row_name(row)}'"
    try:
        value = get_path(source, row.source)
        depth = _depth(row.source)
    except (ValueError, TypeError) as exc:
        raise MappingError(f"{where}: cannot read {row.source}: {exc}") from None
    original = value
    for spec in row.transform:
        try:
            value, depth = _apply(spec, value, depth)
        except (ValueError, TypeError, ArithmeticError) as exc:
            failed = getattr(exc, "failed_value", original)
            raise MappingError(f"{where}: transform {spec} failed on {row.source}={_short(failed)}: {exc}",
                               detail=f"source value: {_short(original)}") from None
    value = _with_default(value, row.default, depth)
    if value is None and row.default is None and not _touches(target, row.target):
        return  # nothing to write and nothing to clear: a missing optional field stays missing
    try:
        set_path(target, row.target, value)
    except (ValueError, TypeError, AttributeError) as exc:
        raise MappingError(f"{where}: cannot write {row.target}: {exc}") from None


def _touches(target: dict[str, Any], path: str) -> bool:
    first = parse_path(path)[0].key
    return first in target


def apply_fieldmap(spec: FieldMapSpec, data: dict[str, Any], flow_name: str = "") -> dict[str, Any]:
    """The target record a FieldMap makes from ``data`` (which is never modified)."""
    target: dict[str, Any] = copy.deepcopy(data) if spec.passthrough else {}
    if spec.passthrough:
        written = {row.target.strip() for row in spec.rows}
        for row in spec.rows:
            if row.source.strip() != row.target.strip() and row.source.strip() not in written:
                delete_path(target, row.source)
    for row in spec.rows:
        map_row(row, data, target, flow_name)
    return target


def apply_status(table: StatusTable, source: dict[str, Any], target: dict[str, Any], flow_name: str = "") -> None:
    """Translate the source's status value through ``table`` into ``target`` (in place)."""
    value = get_path(source, table.source)
    if value is None:
        return
    key = str(value).lower() if isinstance(value, bool) else str(value)
    if key in table.values:
        set_path(target, table.target, table.values[key])
    elif table.default is not None:
        set_path(target, table.target, table.default)
    else:
        owner = f"flow {flow_name}" if flow_name else "this flow"
        known = ", ".join(sorted(table.values)) or "none"
        raise MappingError(
            f"status table of {owner} has no value for {table.source}={key!r} "
            f"(add it under status.values or set status.default; known: {known})")


def map_record(flow: Flow, data: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """The target record for ``data`` through ``flow``: FieldMap (or identity), then its status table.

    ``name`` overrides the flow's name in messages (flows loaded from a plan know their name).
    Raises :class:`MappingError` naming the flow, the row, the field and the value.
    """
    flow_name = name if name is not None else getattr(flow, "name", "")
    target = apply_fieldmap(flow.map, data, flow_name) if flow.map is not None else copy.deepcopy(data)
    if flow.status is not None:
        apply_status(flow.status, data, target, flow_name)
    return target
