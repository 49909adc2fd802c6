"""Loading ``integration.yaml`` with errors that name the file, line, column and field.

YAML is composed into nodes so every value keeps its position; duplicate keys
are reported (PyYAML would silently keep the last); referenced FieldMap files
are read with their own positions; pydantic's validation errors are translated
into :class:`Problem` rows with a did-you-mean for unknown keys; then
cross-references (systems, alert channels, flows, entities, connectors) and
inline secrets are checked. Nothing here prints a traceback at a person.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from doohickey.errors import PlanError
from doohickey.model import ENTITY_NAMES
from doohickey.plan.model import SECRET_KEY, Plan

Loc = tuple[str | int, ...]
DUPLICATE: Loc = ("#duplicate", "ownership")  # positions key prefix of repeated ownership keys
KEY: Loc = ("#key",)  # positions key prefix of where a mapping key (rather than its value) is written


@dataclass(frozen=True)
class Position:
    """Where a value sits in a file (1-based line and column)."""

    file: str
    line: int
    column: int


@dataclass(frozen=True)
class Problem:
    """One reason a plan cannot be loaded."""

    code: str
    message: str
    field: str
    position: Position | None = None
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.position.file}:{self.position.line}:{self.position.column}: " if self.position else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.field}: {self.message}{hint}"


class PlanLoadError(PlanError):
    """The plan file cannot be turned into a valid Plan; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def load_plan(path: str | Path) -> Plan:
    """Read, validate and cross-check a plan file. Raises :class:`PlanLoadError` listing every problem."""
    return load_plan_with_positions(path)[0]


def load_plan_with_positions(path: str | Path) -> tuple[Plan, dict[Loc, Position]]:
    """Like :func:`load_plan`, also returning where every key and value sits (for ``plan check``)."""
    path = Path(path)
    data, positions = read_yaml(path)
    if not isinstance(data, dict):
        raise PlanLoadError([Problem("not-a-mapping", "the plan must be a YAML mapping of keys", "(top)",
                                     Position(str(path), 1, 1))])
    problems = _inline_secrets(data, positions)
    problems += _resolve_map_files(data, positions, path.parent)
    if problems:
        raise PlanLoadError(problems)
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanLoadError([_problem_from(err, positions) for err in exc.errors()]) from None
    plan.path = path
    problems = cross_check(plan, positions)
    if problems:
        raise PlanLoadError(problems)
    return plan, positions


def read_yaml(path: Path) -> tuple[Any, dict[Loc, Position]]:
    """Parse a YAML file into plain data plus the position of every key and value."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanLoadError([Problem("no-file", "file not found", str(path))]) from None
    except OSError as exc:
        raise PlanLoadError([Problem("unreadable", f"cannot read the file: {exc.strerror}", str(path))]) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise PlanLoadError([Problem("empty", "the file is empty", str(path), Position(str(path), 1, 1))])
        positions: dict[Loc, Position] = {}
        return _build(loader, node, (), positions, str(path)), positions
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(str(path), mark.line + 1, mark.column + 1) if mark else None
        raise PlanLoadError([Problem("yaml", f"invalid YAML: {exc.problem or exc.context}", "(syntax)", pos)]) from None
    finally:
        loader.dispose()


def _build(loader: yaml.SafeLoader, node: yaml.Node, loc: Loc, positions: dict[Loc, Position], file: str) -> Any:
    positions[loc] = Position(file, node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if key in out and loc == ("ownership",):
                # Two owners written as a repeated key: keep both so `plan check` reports the dispute.
                first = out[key] if isinstance(out[key], list) else [out[key]]
                out[key] = [*first, loader.construct_object(value_node)]
                positions[(*DUPLICATE, key)] = Position(file, key_node.start_mark.line + 1,
                                                        key_node.start_mark.column + 1)
                continue
            if key in out:
                pos = Position(file, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                raise PlanLoadError([Problem("duplicate-key", f"key {key!r} appears twice; keep one",
                                             _dotted((*loc, key)), pos,
                                             "for ownership, a list [a, b] marks a disputed field")])
            positions[(*KEY, *loc, key)] = Position(file, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = _build(loader, value_node, (*loc, key), positions, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*loc, i), positions, file) for i, item in enumerate(node.value)]
    return loader.construct_object(node)


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


def _position(loc: Loc, positions: dict[Loc, Position]) -> Position | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in positions:
            return positions[loc[:end]]
    return None


def _inline_secrets(data: dict[str, Any], positions: dict[Loc, Position]) -> list[Problem]:
    problems = []
    for name, system in (data.get("systems") or {}).items():
        if not isinstance(system, dict):
            continue
        for env in ("sandbox", "production"):
            for key, value in (system.get(env) or {}).items() if isinstance(system.get(env), dict) else ():
                if SECRET_KEY.search(str(key)) and isinstance(value, str | int) and not isinstance(value, bool):
                    loc = ("systems", name, env, key)
                    problems.append(Problem(
                        "inline-secret", "a secret is written inline in the plan; the value was not read further",
                        _dotted(loc), _position(loc, positions),
                        f"write {key}: {{env: {name.upper()}_{str(key).upper()}}} or {{file: path}} instead"))
    return problems


def _resolve_map_files(data: dict[str, Any], positions: dict[Loc, Position], base: Path) -> list[Problem]:
    problems = []
    for name, flow in (data.get("flows") or {}).items():
        if not isinstance(flow, dict) or not isinstance(flow.get("map"), str):
            continue
        loc: Loc = ("flows", name, "map")
        map_path = (base / flow["map"]).resolve()
        try:
            content, map_positions = read_yaml(map_path)
        except PlanLoadError as exc:
            problems += [Problem(p.code, p.message, f"{_dotted(loc)} -> {p.field}", p.position or
                                 _position(loc, positions)) for p in exc.problems]
            continue
        if isinstance(content, list):
            content = {"rows": content}
            map_positions = {(("rows", *sub) if sub else sub): pos for sub, pos in map_positions.items()}
        if not isinstance(content, dict):
            problems.append(Problem("bad-map", "a map file holds 'rows:' (a list of from/to rows)",
                                    _dotted(loc), Position(str(map_path), 1, 1)))
            continue
        flow["map"] = {**content, "file": str(map_path)}
        positions.update({(*loc, *sub): pos for sub, pos in map_positions.items()})
    return problems


def _problem_from(err: Any, positions: dict[Loc, Position]) -> Problem:
    loc = _data_loc(tuple(err["loc"]), positions)
    field = _dotted(loc)
    if err["type"] == "extra_forbidden":
        allowed = allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = (f"did you mean {close[0]!r}? " if close else "") + f"allowed: {', '.join(allowed)}"
        where = positions.get((*KEY, *loc)) or _position(loc, positions)
        return Problem("unknown-key", f"unknown key {loc[-1]!r}", field, where, hint)
    if err["type"] == "missing":
        return Problem("missing", "this key is required", field, _position(loc[:-1], positions))
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] in ("enum", "literal_error"):
        expected = err.get("ctx", {}).get("expected", "")
        return Problem("bad-value", f"{err['input']!r} is not allowed", field, _position(loc, positions),
                       f"allowed: {expected}")
    return Problem("bad-value", message, field, _position(loc, positions))


def _data_loc(loc: Loc, positions: dict[Loc, Position]) -> Loc:
    """Drop pydantic's union/validator tags from an error location, keeping the YAML keys."""
    out: Loc = ()
    for i, part in enumerate(loc):
        if (*out, part) in positions or i == len(loc) - 1:
            out = (*out, part)
    return out


def allowed_keys(loc: Loc) -> list[str]:
    """The keys the plan allows at ``loc`` (for did-you-mean and docs)."""
    annotation: Any = Plan
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    model = _model_of(annotation)
    if model is None:
        return []
    return sorted(f.alias or name for name, f in model.model_fields.items() if name not in ("path", "file"))


def _step(annotation: Any, part: str | int) -> Any:
    model = _model_of(annotation)
    if model is not None:
        for name, f in model.model_fields.items():
            if part in (name, f.alias):
                return f.annotation
        return None
    for arg in _unwrap(annotation):
        origin = typing.get_origin(arg)
        if origin is dict:
            return typing.get_args(arg)[1]
        if origin is list:
            return typing.get_args(arg)[0]
    return None


def _unwrap(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Annotated:
        return [typing.get_args(annotation)[0]]
    return [annotation]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for arg in _unwrap(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def cross_check(plan: Plan, positions: dict[Loc, Position]) -> list[Problem]:
    """References to undefined systems, alert channels, flows, entities and connectors."""
    from doohickey import connectors

    problems: list[Problem] = []

    def ref(kind: str, value: str | None, known: typing.Iterable[str], loc: Loc) -> None:
        known = sorted(known)
        if value is not None and value not in known:
            close = difflib.get_close_matches(value, known, n=1)
            hint = (f"did you mean {close[0]!r}? " if close else "") + f"defined: {', '.join(known) or 'none'}"
            problems.append(Problem(f"unknown-{kind}", f"{kind} {value!r} is not defined", _dotted(loc),
                                    _position(loc, positions), hint))

    for name, system in plan.systems.items():
        ref("connector", system.connector, connectors.names(), ("systems", name, "connector"))
    for key, owners in plan.ownership.items():
        ref("entity", key.split(".")[0], ENTITY_NAMES, ("ownership", key))
        for owner in [owners] if isinstance(owners, str) else owners:
            ref("system", owner, plan.systems, ("ownership", key))
    for name, flow in plan.flows.items():
        ref("system", flow.source, plan.systems, ("flows", name, "from"))
        ref("system", flow.target, plan.systems, ("flows", name, "to"))
        if flow.on_failure:
            ref("alert channel", flow.on_failure.alert, plan.alerts, ("flows", name, "on_failure", "alert"))
        if flow.sla and " " not in flow.sla:
            ref("sla", flow.sla, plan.slas, ("flows", name, "sla"))
    for name, rec in plan.reconcile.items():
        for i, system in enumerate(rec.between):
            ref("system", system, plan.systems, ("reconcile", name, "between", i))
        ref("entity", plan.reconcile_entity(name), ENTITY_NAMES, ("reconcile", name))
        ref("alert channel", rec.alert, plan.alerts, ("reconcile", name, "alert"))
    for name, sla in plan.slas.items():
        ref("flow", sla.flow, plan.flows, ("slas", name, "flow"))
        ref("alert channel", sla.alert, plan.alerts, ("slas", name, "alert"))
    for entity in plan.matching:
        ref("entity", entity, ENTITY_NAMES, ("matching", entity))
    for i, case in enumerate(plan.tests):
        ref("flow", case.flow, plan.flows, ("tests", i, "flow"))
    return problems
