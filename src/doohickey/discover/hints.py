"""Document-wide hints: webhooks and callbacks, rate limits, and status-like enumerations.

Webhooks come from OpenAPI 3.1 ``webhooks``, ``x-webhooks``, operation ``callbacks``,
subscription endpoints (``POST /hooks`` with a ``scope``/``topic`` field) and event
schemas titled like topics (``store/order/created``). Rate limits come from declared
response headers, ``429`` responses and sentences in descriptions.
"""

from __future__ import annotations

import re
from typing import Any

from doohickey.discover.entities import entity_for, normalise
from doohickey.discover.loader import SpecSource
from doohickey.discover.profile import EnumHint, Evidence, Operation, RateLimitHint, WebhookHint, Webhooks

_RATE_HEADER = re.compile(r"(rate-?limit|ratelimit|retry-after|call-limit|x-rate|quota|throttl)", re.I)
_RATE_TEXT = re.compile(r"[^.\n]*\b(rate[- ]limit\w*|requests per (second|minute|hour)|concurrent requests|"
                        r"throttl\w*|too many requests|api quota|call limit)\b[^.\n]*", re.I)
_TOPIC = re.compile(r"^[a-z][a-z0-9_]*([/.][a-zA-Z0-9_*]+){1,4}$")
_SIGNATURE = re.compile(r"\b(X-[A-Za-z0-9-]*(Signature|Hmac|HMAC)[A-Za-z0-9-]*)\b")
_STATUS_NAME = re.compile(r"(status|state|stage|phase|condition|fulfil+ment_status|financial)", re.I)
_HOOK_PATH = re.compile(r"/(web)?hooks?\b|/subscriptions?\b|/webhook_subscriptions?\b|/event_subscriptions?\b",
                        re.I)
_TOPIC_FIELDS = ("scope", "topic", "event", "events", "event_type", "eventtype", "topics", "filters", "resource")


def webhooks(source: SpecSource, ops: list[tuple[str, str, dict[str, Any], dict[str, Any]]],
             subscribe_body: dict[str, dict[str, Any]]) -> Webhooks:
    """What the document says about webhooks: declared topics, a subscription endpoint, a signature header.

    ``subscribe_body`` maps ``"POST /hooks"`` -> that operation's flattened request properties.
    """
    result = Webhooks()
    root = source.root
    for key, source_kind in (("webhooks", "webhooks"), ("x-webhooks", "x-webhooks")):
        for topic in (root.get(key) or {}) if isinstance(root.get(key), dict) else {}:
            result.topics.append(WebhookHint(topic=str(topic), source=source_kind, entity=_topic_entity(str(topic)),
                                             evidence=[Evidence(where=f"/{key}/{topic}")]))
    for method, path, op, _ in ops:
        for name in (op.get("callbacks") or {}) if isinstance(op.get("callbacks"), dict) else {}:
            result.topics.append(WebhookHint(topic=str(name), source="callbacks", entity=_topic_entity(str(name)),
                                             evidence=[Evidence(where=f"{method.upper()} {path} callbacks")]))
        if method == "post" and _HOOK_PATH.search(path) and "{" not in path.rsplit("/", 1)[-1]:
            props = subscribe_body.get(f"POST {path}", {})
            topic_field = next((f for f in _TOPIC_FIELDS if f in props), "")
            if topic_field or result.subscribe is None:
                result.subscribe = Operation(kind="create", method="POST", path=path,
                                             operation_id=str(op.get("operationId", "")), confidence=0.8 if
                                             topic_field else 0.5,
                                             evidence=[Evidence(where=f"POST {path}", detail="webhook subscription")])
                result.topic_field = topic_field
                values = props.get(topic_field, {}).get("enum") if topic_field else None
                for value in values or []:
                    result.topics.append(WebhookHint(topic=str(value), source="subscription",
                                                     entity=_topic_entity(str(value)),
                                                     evidence=[Evidence(where=f"POST {path} body {topic_field}",
                                                                        detail="enum value")]))
    _schema_topics(source, result)
    _signature(source, result)
    _dedupe(result)
    return result


def _schema_topics(source: SpecSource, result: Webhooks) -> None:
    schemas = (source.root.get("definitions") if source.swagger else
               (source.root.get("components") or {}).get("schemas")) or {}
    if not isinstance(schemas, dict) or not (result.subscribe or result.topics):
        return
    for name, schema in schemas.items():
        title = schema.get("title") if isinstance(schema, dict) else None
        if isinstance(title, str) and _TOPIC.match(title) and not title.startswith(("http", "/")):
            result.topics.append(WebhookHint(topic=title, source="schema", entity=_topic_entity(title),
                                             evidence=[Evidence(where=f"schema {name}", detail="title")]))


def _signature(source: SpecSource, result: Webhooks) -> None:
    info = source.root.get("info") or {}
    text = str(info.get("description") or "") if isinstance(info, dict) else ""
    found = _SIGNATURE.search(text)
    if found:
        result.signature_header = found.group(1)
        result.evidence.append(Evidence(where="/info/description", detail=f"mentions {found.group(1)}"))


def _dedupe(result: Webhooks) -> None:
    seen: set[str] = set()
    topics = []
    for hint in result.topics:
        if hint.topic not in seen:
            seen.add(hint.topic)
            topics.append(hint)
    result.topics = topics


def _topic_entity(topic: str) -> str:
    for part in re.split(r"[/._\s-]+", topic):
        found = entity_for(normalise(part)) if part else ""
        if found:
            return found
    return ""


def rate_limits(source: SpecSource, ops: list[tuple[str, str, dict[str, Any], dict[str, Any]]]) -> list[RateLimitHint]:
    """Rate-limit signs: declared headers, ``429`` responses, and sentences in descriptions."""
    headers: dict[str, RateLimitHint] = {}
    too_many: RateLimitHint | None = None
    texts: dict[str, RateLimitHint] = {}
    for method, path, op, _ in ops:
        where = f"{method.upper()} {path}"
        responses = op.get("responses") if isinstance(op.get("responses"), dict) else {}
        for code, response in responses.items():
            if str(code) == "429":
                if too_many is None:
                    too_many = RateLimitHint(kind="status", detail="429 Too Many Requests is declared", count=0,
                                             evidence=[Evidence(where=where, detail="responses 429")])
                too_many.count += 1
            response = source.resolve(response)
            for name in (response.get("headers") or {}) if isinstance(response, dict) else {}:
                if _RATE_HEADER.search(str(name)):
                    hint = headers.setdefault(str(name).lower(), RateLimitHint(
                        kind="header", detail=str(name), count=0,
                        evidence=[Evidence(where=f"{where} responses {code}", detail=f"header {name}")]))
                    hint.count += 1
        for text in (op.get("description"), op.get("summary")):
            _collect_text(text, where, texts)
    info = source.root.get("info") if isinstance(source.root.get("info"), dict) else {}
    _collect_text(info.get("description"), "/info/description", texts)
    found = list(headers.values()) + ([too_many] if too_many else []) + list(texts.values())[:12]
    return found


def _collect_text(text: Any, where: str, texts: dict[str, RateLimitHint]) -> None:
    if not isinstance(text, str):
        return
    for match in _RATE_TEXT.finditer(text[:20000]):
        sentence = " ".join(match.group(0).replace("*", "").replace("`", "").strip(" -#>").split())[:200]
        hint = texts.setdefault(sentence.lower(), RateLimitHint(kind="text", detail=sentence, count=0,
                                                                evidence=[Evidence(where=where, detail="description")]))
        hint.count += 1


def status_enums(entity: str, fields: list[Any], where: str) -> list[EnumHint]:
    """Status-like enumerated fields of one entity's record (``status: [pending, paid, ...]``)."""
    hints = []
    for f in fields:
        name = f.path.rsplit(".", 1)[-1]
        if f.enum and len(f.enum) >= 2 and _STATUS_NAME.search(name):
            hints.append(EnumHint(entity=entity, field=f.path, values=list(f.enum),
                                  evidence=[Evidence(where=where, detail=f"enum on {f.path}")]))
    return hints


def param_enums(entity: str, query: dict[str, dict[str, Any]], where: str) -> list[EnumHint]:
    """Status-like enumerations declared on a list's filter parameters (``?status=``)."""
    hints = []
    for name, param in query.items():
        schema = param.get("schema") if isinstance(param.get("schema"), dict) else param
        values = schema.get("enum")
        if not isinstance(values, list) and isinstance(schema.get("items"), dict):
            values = schema["items"].get("enum")
        if isinstance(values, list) and len(values) >= 2 and _STATUS_NAME.search(name):
            hints.append(EnumHint(entity=entity, field=f"?{name}", values=values[:100],
                                  evidence=[Evidence(where=f"{where} param {name}", detail="enum")]))
    return hints
