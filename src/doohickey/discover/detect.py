"""Per-entity guesses: pagination style, the updated-since filter to poll on, and the id field.

Each function looks at one list or get operation (its parameters, response schema and
response headers) and returns a guess with a confidence and the evidence for it.
"""

from __future__ import annotations

import re
from typing import Any

from doohickey.discover.profile import Evidence, FieldInfo, Pagination, PollField

PAGE_PARAMS = ("page", "page_number", "pagenumber", "pageno", "page_no", "p", "pageindex", "page_index")
SIZE_PARAMS = ("limit", "per_page", "perpage", "page_size", "pagesize", "size", "count", "max_results",
               "maxresults", "top", "$top", "first", "take", "rows", "max", "results_per_page")
OFFSET_PARAMS = ("offset", "skip", "start", "$skip", "from", "start_index", "startindex")
CURSOR_PARAMS = ("cursor", "after", "page_info", "starting_after", "next_token", "nexttoken", "page_token",
                 "pagetoken", "continuation", "continuation_token", "continuationtoken", "next", "marker",
                 "after_cursor", "since_id", "next_cursor", "page_cursor", "scroll_id")
NEXT_FIELDS = ("next_cursor", "nextcursor", "end_cursor", "endcursor", "next_page_token", "nextpagetoken",
               "next_token", "nexttoken", "continuation", "continuation_token", "cursor", "next", "after",
               "next_page_info", "marker", "next_marker", "scroll_id")
TOTAL_PAGES_FIELDS = ("total_pages", "totalpages", "page_count", "pagecount", "last_page", "lastpage", "pages")
HAS_MORE_FIELDS = ("has_more", "hasmore", "has_next", "hasnext", "has_next_page", "hasnextpage", "more")
TOTAL_HEADERS = ("x-total-count", "x-total", "x-wp-total", "x-wp-totalpages", "x-total-pages", "x-pagination-total")
_TIME_WORDS = re.compile(r"(updated|modified|changed|last_?mod|write|edited|date_?upd)", re.I)
_LOWER_BOUND = re.compile(r"(min|after|since|from|gte|gt|start|begin|newer|>|\[gt|_ge$)", re.I)
_UPPER_BOUND = re.compile(r"(max|before|until|lte|lt\b|end|older|\[lt|_le$|to$)", re.I)


def _key(name: str) -> str:
    return name.lower().replace("-", "_")


def _pick(params: dict[str, dict[str, Any]], names: tuple[str, ...]) -> str:
    for name in names:
        for original in params:
            if _key(original) == name:
                return original
    return ""


def pagination(query: dict[str, dict[str, Any]], fields: list[FieldInfo], headers: dict[str, str],
               description: str, where: str) -> Pagination:
    """Guess how a list operation pages from its query parameters, response fields and headers.

    ``query`` maps parameter name -> parameter; ``fields`` are the response's flattened
    fields (envelope included); ``headers`` the declared response headers.
    """
    page = _pick(query, PAGE_PARAMS)
    size = _pick(query, SIZE_PARAMS)
    offset = _pick(query, OFFSET_PARAMS)
    cursor = _pick(query, CURSOR_PARAMS)
    next_path = next((f.path for f in fields if f.path.rsplit(".", 1)[-1].lower() in NEXT_FIELDS
                      and "[]" not in f.path and f.type in ("string", "integer", "")), "")
    pages_path = next((f.path for f in fields if f.path.rsplit(".", 1)[-1].lower() in TOTAL_PAGES_FIELDS
                       and "[]" not in f.path), "")
    has_more = next((f.path for f in fields if f.path.rsplit(".", 1)[-1].lower() in HAS_MORE_FIELDS
                     and "[]" not in f.path), "")
    link = "link" in headers or bool(re.search(r"\blink\s+header\b|rel=\"?next", description, re.I))
    total_header = next((h for h in TOTAL_HEADERS if h in headers), "")
    evidence: list[Evidence] = []
    styles: list[str] = []
    if cursor and (next_path or _key(cursor) in ("cursor", "page_info", "page_token", "next_token")):
        styles.append("cursor")
    if page:
        styles.append("page")
    if offset:
        styles.append("offset")
    if link:
        styles.append("link")
    if cursor and "cursor" not in styles:
        styles.append("cursor")
    result = Pagination(page_param=page, size_param=size, offset_param=offset, cursor_param=cursor,
                        next_cursor_path=next_path, total_pages_path=pages_path, link_header=link,
                        has_more_path=has_more,
                        total_header=total_header)
    if not styles:
        result.confidence = 0.3 if size else 0.0
        if size:
            evidence.append(Evidence(where=where, detail=f"only a size parameter {size!r}: one page of up to N"))
        result.evidence = evidence
        return result
    # a documented page/size pair is the plainest to follow, even where a cursor is offered too
    style = "page" if page and size else styles[0]
    result.style = style  # type: ignore[assignment]
    result.also = [s for s in styles if s != style]
    for name, role in ((page, "page number"), (size, "page size"), (offset, "offset"), (cursor, "cursor")):
        if name:
            evidence.append(Evidence(where=f"{where} param {name}", detail=role))
    if next_path:
        evidence.append(Evidence(where=f"{where} response {next_path}", detail="next cursor in the body"))
    if pages_path:
        evidence.append(Evidence(where=f"{where} response {pages_path}", detail="total pages in the body"))
    if link:
        evidence.append(Evidence(where=f"{where} headers", detail="Link header with rel=next"))
    if total_header:
        evidence.append(Evidence(where=f"{where} headers", detail=f"{total_header} header"))
    result.confidence = {"page": 0.85 if size else 0.7, "offset": 0.8 if size else 0.6,
                         "cursor": 0.9 if next_path else 0.6, "link": 0.75}[style]
    if size:
        schema = query[size].get("schema") if isinstance(query[size].get("schema"), dict) else query[size]
        result.default_size = _as_int(schema.get("default"))
        result.max_size = _as_int(schema.get("maximum"))
    if page:
        schema = query[page].get("schema") if isinstance(query[page].get("schema"), dict) else query[page]
        first = _as_int(schema.get("minimum"))
        first = first if first is not None else _as_int(schema.get("default"))
        result.first_page = 0 if first == 0 else 1
    result.evidence = evidence
    return result


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    return None


def poll_field(query: dict[str, dict[str, Any]], fields: list[FieldInfo], where: str) -> PollField | None:
    """The query parameter that filters a list to records changed since a time, and the record field it reads."""
    best: tuple[float, str] | None = None
    for name, param in query.items():
        lowered = _key(name)
        if not _TIME_WORDS.search(lowered) and lowered not in ("since", "modified_since", "changed_since"):
            continue
        if _UPPER_BOUND.search(lowered) and not _LOWER_BOUND.search(lowered):
            continue
        score = 0.9 if _LOWER_BOUND.search(lowered) else 0.6
        schema = param.get("schema") if isinstance(param.get("schema"), dict) else param
        if str(schema.get("format", "")).startswith("date"):
            score += 0.05
        if best is None or score > best[0]:
            best = (score, name)
    if best is None:
        return None
    score, name = best
    field = record_time_field(name, fields)
    evidence = [Evidence(where=f"{where} param {name}", detail="filters by change time")]
    if field:
        evidence.append(Evidence(where=f"record field {field}", detail="holds the change time"))
    else:
        score -= 0.2
    return PollField(param=name, field=field, confidence=round(min(score, 0.99), 2), evidence=evidence)


def record_time_field(param: str, fields: list[FieldInfo]) -> str:
    """The record field a change-time filter reads (``date_modified:min`` -> ``date_modified``)."""
    top = [f.path for f in fields if "." not in f.path and "[]" not in f.path]
    base = re.sub(r"(:min|:max|\[gte?\]|\[lte?\]|_min$|_max$|^min_|^max_|_after$|_since$|_from$|_gte?$)", "",
                  param, flags=re.I)
    if base in top:
        return base
    for name in ("updated_at", "date_modified", "modified_at", "updatedAt", "modified", "last_modified",
                 "lastModified", "date_updated", "updated", "write_date", "changed_at", "modifiedAt", "updated_on"):
        if name in top:
            return name
    return next((f for f in top if _TIME_WORDS.search(f)), "")


def id_field(id_param: str, fields: list[FieldInfo], entity: str) -> tuple[str, float, Evidence]:
    """The record's id field, from the item path's placeholder name and the record schema."""
    top = {f.path: f for f in fields if "." not in f.path and "[]" not in f.path}
    if "id" in top:
        detail = f"path param {{{id_param}}}" if id_param else "record schema"
        return "id", 0.95 if id_param else 0.9, Evidence(where=detail, detail="field 'id'")
    if id_param and id_param in top:
        return id_param, 0.9, Evidence(where=f"path param {{{id_param}}}", detail="also a record field")
    for name in (f"{entity}_id", f"{entity}Id", "uuid", "_id", "key", "code", "number", "sku", "variant_id"):
        if name in top:
            detail = f"path param {{{id_param}}}" if id_param else "record schema"
            return name, 0.9 if name == "id" else 0.7, Evidence(where=detail, detail=f"field {name!r}")
    read_only_ids = [p for p, f in top.items() if f.read_only and p.lower().endswith("id")]
    if read_only_ids:
        return read_only_ids[0], 0.6, Evidence(where="record schema", detail="read-only id-like field")
    return "id", 0.3, Evidence(where="default", detail="no id field declared; assuming 'id'")


def sort_hint(query: dict[str, dict[str, Any]], time_field: str) -> tuple[str, str]:
    """A sort parameter whose enum can order by the change time (``sort=date_modified``), if declared."""
    for name, param in query.items():
        if _key(name) not in ("sort", "order_by", "orderby", "sort_by", "sortby", "order"):
            continue
        schema = param.get("schema") if isinstance(param.get("schema"), dict) else param
        for value in schema.get("enum") or []:
            if isinstance(value, str) and time_field and value.split(":")[0] == time_field:
                return name, value
            if isinstance(value, str) and value.lower() in ("modified", "updated", "updated_at", "date_modified"):
                return name, value
    return "", ""


def declared_pagination(extension: Any, where: str) -> Pagination | None:
    """Pagination stated by an ``x-pagination`` extension on the operation (trusted over guesses)."""
    if not isinstance(extension, dict) or extension.get("style") not in ("page", "offset", "cursor", "link"):
        return None
    return Pagination(
        style=extension["style"], page_param=str(extension.get("page_param", "")),
        size_param=str(extension.get("limit_param") or extension.get("size_param") or ""),
        offset_param=str(extension.get("offset_param", "")), cursor_param=str(extension.get("cursor_param", "")),
        first_page=int(extension.get("first_page", 1)), has_more_path=str(extension.get("has_more", "")),
        next_cursor_path=str(extension.get("next_cursor") or extension.get("next_page") or ""),
        confidence=0.99, evidence=[Evidence(where=f"{where} x-pagination", detail="declared by the API")])
