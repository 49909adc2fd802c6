"""Discovery as a script: load the document, read every operation, pick entities, then add the details.

``discover(path)`` returns a :class:`SystemProfile`. The expensive parts (schema
flattening) run once per chosen entity, not per operation, which keeps specs with
thousands of operations within a few seconds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from doohickey.discover import detect, entities, hints, schemas, security
from doohickey.discover.loader import SpecSource, check_references, load_spec, operations, source_from_document
from doohickey.discover.profile import (
    EntityProfile,
    Evidence,
    FieldInfo,
    Operation,
    Server,
    Stats,
    SystemProfile,
)


def discover(path: str | Path, *, max_bytes: int | None = None) -> SystemProfile:
    """Read one OpenAPI 3.x / Swagger 2 file (its ``$ref``ed files too) into a system profile."""
    started = time.perf_counter()
    source = load_spec(path, check_refs=False, **({"max_bytes": max_bytes} if max_bytes else {}))
    return profile_from_source(source, started)


def discover_document(document: Any, name: str = "openapi.json") -> SystemProfile:
    """Discovery on an already parsed document (e.g. fetched from ``GET /openapi.json``)."""
    started = time.perf_counter()
    source = source_from_document(document, Path(name), check_refs=False)
    return profile_from_source(source, started)


def discover_many(paths: list[str | Path]) -> SystemProfile:
    """Discovery over several documents of one System (BigCommerce ships one per API area), merged."""
    profiles = [discover(p) for p in paths]
    merged = profiles[0]
    for other in profiles[1:]:
        merged = merge(merged, other)
    return merged


def profile_from_source(source: SpecSource, started: float | None = None) -> SystemProfile:
    """The profile of a loaded document."""
    started = time.perf_counter() if started is None else started
    refs = check_references(source)
    ops = operations(source)
    profile = SystemProfile(spec_format=("swagger " if source.swagger else "openapi ") + source.version,
                            sources=[str(source.path)])
    info = source.root.get("info") if isinstance(source.root.get("info"), dict) else {}
    profile.title, profile.api_version = str(info.get("title") or ""), str(info.get("version") or "")
    profile.servers = servers(source)
    found, others, header_params, hook_bodies, used_schemes = _candidates(source, ops)
    server = profile.servers[0].url if profile.servers else ""
    index = {(m.upper(), p): (op, item) for m, p, op, item in ops}
    for name, group in found.items():
        profile.entities[name] = entity_profile(source, group, server, index)
    profile.other_resources = sorted(others)[:200]
    profile.auth = security.auth_schemes(source, used_schemes) or security.header_guesses(header_params)
    profile.webhooks = hints.webhooks(source, ops, hook_bodies)
    profile.rate_limits = hints.rate_limits(source, ops)
    profile.enums = [e for ent in profile.entities.values() for e in ent.enums]
    component_schemas = (source.root.get("definitions") if source.swagger else
                         (source.root.get("components") or {}).get("schemas")) or {}
    profile.stats = Stats(files=len(source.files), paths=len(source.root.get("paths") or {}), operations=len(ops),
                          schemas=len(component_schemas) if isinstance(component_schemas, dict) else 0, refs=refs,
                          seconds=round(time.perf_counter() - started, 3))
    if not profile.entities:
        profile.warnings.append("no business entity (orders, customers, products, stock, ...) was recognised "
                                "in the paths; see other_resources for what the API offers")
    return profile


def servers(source: SpecSource) -> list[Server]:
    """Base URLs: OpenAPI 3 ``servers`` (with variable defaults) or Swagger 2 ``schemes``/``host``/``basePath``."""
    root = source.root
    if source.swagger:
        host = root.get("host")
        if not host:
            return [Server(url=str(root.get("basePath") or ""))] if root.get("basePath") else []
        scheme = (root.get("schemes") or ["https"])[0]
        return [Server(url=f"{scheme}://{host}{root.get('basePath') or ''}")]
    result = []
    for raw in root.get("servers") or []:
        if isinstance(raw, dict) and raw.get("url"):
            variables = {str(k): str((v or {}).get("default", "")) for k, v in (raw.get("variables") or {}).items()
                         if isinstance(v, dict) or v is None}
            result.append(Server(url=str(raw["url"]), variables=variables,
                                 description=str(raw.get("description") or "")))
    return result


def _candidates(source: SpecSource, ops: list[tuple[str, str, dict[str, Any], dict[str, Any]]]) -> tuple[
        dict[str, entities.EntityCandidates], set[str], dict[str, str], dict[str, dict[str, Any]], set[str]]:
    """Scored operation candidates per entity, other resources, header params, hook bodies, schemes used."""
    found: dict[str, entities.EntityCandidates] = {}
    others: set[str] = set()
    header_params: dict[str, str] = {}
    hook_bodies: dict[str, dict[str, Any]] = {}
    used_schemes: set[str] = set()
    global_scopes = security.operation_scopes(source.root)
    for method, path, op, item in ops:
        for requirement in op.get("security") or []:
            if isinstance(requirement, dict):
                used_schemes.update(str(k) for k in requirement)
        where = f"{method.upper()} {path}"
        params = schemas.parameters(source, op, item, f"/paths/{path}/{method}")
        for p in params:
            if p.get("in") == "header":
                header_params.setdefault(str(p["name"]), where)
        shape = entities.shape(path)
        if shape is None:
            continue
        if method == "post" and hints._HOOK_PATH.search(path):
            body = schemas.merged(source, schemas.request_schema(source, op, params, where))
            hook_bodies[f"POST {path}"] = {k: schemas.merged(source, v) for k, v in
                                           (body.get("properties") or {}).items()}
        if not shape.entity:
            if method == "get" and not shape.is_item:
                others.add(shape.noun)
            continue
        body = schemas.request_schema(source, op, params, where) if method in ("post", "put", "patch") else None
        batch = schemas.schema_type(schemas.merged(source, body)) == "array" if body is not None else False
        kind_score = entities.classify(method, shape, batch)
        if kind_score is None:
            continue
        kind, base = kind_score
        score = entities.score_for(shape, base)
        text = f"{op.get('operationId', '')} {op.get('summary', '')}".lower()
        if shape.is_item and method == "put" and ("upsert" in text or "create or" in text):
            # PUT /items/{code} that creates when absent: a create keyed by a body field
            upsert = entities.make_operation("create", method, path, shape, str(op.get("operationId") or ""),
                                             batch, [], [], [], round(score - 0.2, 2),
                                             [Evidence(where=where, detail="creates or replaces by key")])
            found.setdefault(shape.entity, entities.EntityCandidates(shape.entity)).candidates.append(
                entities.Candidate(shape.entity, "create", upsert, upsert.confidence, shape))
        evidence = [Evidence(where=where, detail=f"path reads as the {shape.entity} "
                                                 f"{'item' if shape.is_item else 'collection'}"
                                                 + (f" under {'/'.join(shape.parents)}" if shape.parents else "")
                                                 + (", list body" if batch else ""))]
        operation = entities.make_operation(
            kind, method, path, shape, str(op.get("operationId") or ""), batch,
            [str(p["name"]) for p in params if p.get("in") == "query"],
            [str(p["name"]) for p in params if p.get("in") == "header"],
            security.operation_scopes(op) or global_scopes, score, evidence)
        group = found.setdefault(shape.entity, entities.EntityCandidates(shape.entity))
        group.candidates.append(entities.Candidate(shape.entity, kind, operation, score, shape))
    return found, others, header_params, hook_bodies, used_schemes


OpIndex = dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]]


def entity_profile(source: SpecSource, group: entities.EntityCandidates, server: str,
                   ops_by_key: OpIndex) -> EntityProfile:
    """Details for one entity: record schema, id, pagination, poll field, write schema, enums."""
    best = group.best()
    chosen = {kind: cand.operation for kind, cand in best.items()}
    resource = (best.get("list") or best.get("get") or next(iter(best.values()))).shape.path
    ent = EntityProfile(name=group.name, resource=resource, server=server, operations=chosen,
                        canonical=group.name in entities.ENTITY_WORDS)
    fields: list[FieldInfo] = []
    for kind in ("get", "list", "create", "update"):
        if kind not in chosen:
            continue
        operation = chosen[kind]
        op, item = ops_by_key[(operation.method, operation.path)]
        where = f"{operation.method} {operation.path}"
        response, schema = schemas.success_response(source, op, where)
        if schema is None:
            continue
        records_path, record_schema, _many = schemas.unwrap_records(source, schema, group.name + "s")
        operation.record_path = records_path
        if kind == "list":
            ent.records_path = records_path
            _list_details(source, ent, op, item, schema, response,
                          fields or (schemas.flatten(source, record_schema) if record_schema is not None else []),
                          where)
        if not fields and record_schema is not None:
            fields = schemas.flatten(source, record_schema)
            ent.evidence.append(Evidence(where=where, detail=f"record schema from this response "
                                                             f"({len(fields)} fields)"))
    ent.fields = fields
    id_param = (chosen.get("get") or chosen.get("update") or chosen.get("delete") or Operation(
        kind="get", method="GET", path="")).id_param
    ent.id_field, ent.id_confidence, id_evidence = detect.id_field(id_param, fields, group.name)
    ent.evidence.append(id_evidence)
    if ent.poll and not ent.poll.field:
        ent.poll.field = detect.record_time_field(ent.poll.param, fields)
    _write_details(source, ent, ops_by_key)
    ent.enums = hints.status_enums(group.name, fields, f"{group.name} record") + ent.enums
    ent.alternatives = sorted({c.operation.method + " " + c.operation.path for c in group.candidates
                               if c.operation is not chosen.get(c.kind)})[:20]
    top = max(c.score for c in best.values())
    coverage = len(best) / 5
    ent.confidence = round(min(0.99, top * (0.7 + 0.3 * coverage)), 2)
    return ent


def _list_details(source: SpecSource, ent: EntityProfile, op: dict[str, Any], item: dict[str, Any], schema: Any,
                  response: dict[str, Any], record_fields: list[FieldInfo], where: str) -> None:
    params = schemas.parameters(source, op, item, where)
    query = {str(p["name"]): p for p in params if p.get("in") == "query"}
    envelope = schemas.flatten(source, schema)
    headers = schemas.response_headers(source, op)
    description = f"{op.get('description') or ''} {response.get('description') or ''}"
    ent.pagination = detect.pagination(query, envelope, headers, description, where)
    declared = detect.declared_pagination(op.get("x-pagination"), where)
    if declared is not None:
        declared.max_size, declared.default_size = ent.pagination.max_size, ent.pagination.default_size
        declared.has_more_path = declared.has_more_path or ent.pagination.has_more_path
        ent.pagination = declared
    ent.poll = detect.poll_field(query, record_fields, where)
    if ent.poll:
        ent.poll.sort_param, ent.poll.sort_value = detect.sort_hint(query, ent.poll.field)
    ent.enums = hints.param_enums(ent.name, query, where)


def _write_details(source: SpecSource, ent: EntityProfile, ops_by_key: OpIndex) -> None:
    operation = ent.operations.get("create") or ent.operations.get("update")
    if operation is None:
        return
    op, item = ops_by_key[(operation.method, operation.path)]
    where = f"{operation.method} {operation.path}"
    params = schemas.parameters(source, op, item, where)
    raw = _raw_body(source, op, params)
    body = schemas.merged(source, raw)
    if schemas.schema_type(body) == "array":
        raw = body.get("items")
    ent.write_schema = schemas.schema_name(raw) or schemas.schema_name(_raw_body(source, op, params))
    ent.write_fields = schemas.flatten(source, raw)


def _raw_body(source: SpecSource, op: dict[str, Any], params: list[dict[str, Any]]) -> Any:
    if source.swagger:
        return next((p.get("schema") for p in params if p.get("in") == "body"), None)
    body = source.resolve(op.get("requestBody"))
    if not isinstance(body, dict):
        return None
    content = body.get("content") or {}
    for media in schemas.JSON_TYPES:
        if isinstance(content.get(media), dict):
            return content[media].get("schema")
    return None


def merge(first: SystemProfile, second: SystemProfile) -> SystemProfile:
    """Two profiles of one System as one: entities kept from whichever is surer, auth and hints combined."""
    result = first.model_copy(deep=True)
    result.sources += second.sources
    result.title = " + ".join(t for t in (first.title, second.title) if t)
    for server in second.servers:
        if all(s.url != server.url for s in result.servers):
            result.servers.append(server)
    for name, ent in second.entities.items():
        mine = result.entities.get(name)
        if mine is None or ent.confidence > mine.confidence:
            if mine is not None:
                ent = ent.model_copy(deep=True)
                ent.alternatives.append(f"also in {first.sources[0]}: {mine.resource}")
            result.entities[name] = ent
        else:
            mine.alternatives.append(f"also in {second.sources[0]}: {ent.resource}")
    result.other_resources = sorted(set(result.other_resources) | set(second.other_resources))
    for scheme in second.auth:
        existing = next((s for s in result.auth if s.name == scheme.name and s.type == scheme.type), None)
        if existing is None:
            result.auth.append(scheme)
        else:
            known = {h.scope for h in existing.scope_hints}
            existing.scope_hints += [h for h in scheme.scope_hints if h.scope not in known]
    result.webhooks.topics += [t for t in second.webhooks.topics
                               if all(t.topic != mine.topic for mine in result.webhooks.topics)]
    result.webhooks.subscribe = result.webhooks.subscribe or second.webhooks.subscribe
    result.webhooks.topic_field = result.webhooks.topic_field or second.webhooks.topic_field
    result.rate_limits += second.rate_limits
    result.enums += second.enums
    result.warnings = [w for w in result.warnings + second.warnings if not (result.entities and "no business" in w)]
    for key in ("files", "paths", "operations", "schemas", "refs"):
        setattr(result.stats, key, getattr(result.stats, key) + getattr(second.stats, key))
    result.stats.seconds = round(result.stats.seconds + second.stats.seconds, 3)
    return result
