"""Finding business entities in an API's paths and choosing their list/get/create/update/delete operations.

A path is read as resource segments: ``/catalog/products/{product_id}/variants/{variant_id}``
is the ``variant`` item, nested under a ``product``. The resource noun is matched
against a table of words per canonical Entity (``fulfillments`` -> fulfilment,
``credit_notes`` -> refund). Each operation found becomes a scored candidate; per
entity and per kind the best candidate wins, and the others stay as alternatives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from doohickey.discover.profile import Evidence, Operation

ENTITY_WORDS: dict[str, tuple[str, ...]] = {
    "order": ("order", "sales_order", "sale_order", "salesorder", "sale", "checkout_order", "web_order"),
    "order_line": ("order_line", "line_item", "sale_line", "order_item", "order_product", "sales_order_line"),
    "customer": ("customer", "client", "party", "buyer", "shopper", "contact", "partner"),
    "address": ("address", "customer_address", "billing_address"),
    "product": ("product", "product_template", "template", "article", "catalog_item", "catalog_product"),
    "variant": ("variant", "variation", "product_variant", "product_variation", "sku"),
    "stock": ("inventory", "inventory_level", "inventory_item", "stock", "stock_level", "stock_item",
              "stock_quantity", "stock_move", "availability", "inventory_adjustment", "on_hand"),
    "shipment": ("shipment", "delivery", "consignment", "parcel", "package", "dispatch", "shipping_label"),
    "fulfilment": ("fulfillment", "fulfilment", "fulfillment_order", "fulfilment_order"),
    "refund": ("refund", "credit_note", "credit_memo", "creditmemo", "order_refund"),
    "return": ("return", "rma", "return_request", "return_authorization", "order_return"),
    "consent": ("consent", "marketing_consent", "subscription_consent"),
}
_WORD_TO_ENTITY = {word: entity for entity, words in ENTITY_WORDS.items() for word in words}
GENERIC = {"item", "level", "quantity", "adjustment", "absolute", "relative", "batch", "bulk", "list", "all",
           "search", "query", "find", "filter"}
SKIP_SEGMENTS = {"api", "rest", "wc", "wp_json", "admin", "store", "stores", "public", "private", "latest"}
NOT_RESOURCES = {"count", "settings", "summary", "export", "import", "validate", "schema", "metadata", "docs",
                 "openapi", "health", "ping", "status", "me", "token", "oauth", "login", "logout"}
_VERSION = re.compile(r"^v\d+(?:[._]\d+)*$|^\d{4}[-_]\d{2}(?:[-_]\d{2})?$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def normalise(segment: str) -> str:
    """``ProductVariants`` / ``product-variants`` -> ``product_variant`` (snake case, last word singular)."""
    word = _CAMEL.sub("_", segment).lower().replace("-", "_").replace(".", "_").strip("_")
    head, _, last = word.rpartition("_")
    return f"{head}_{singular(last)}" if head else singular(last)


def singular(word: str) -> str:
    """A plain English singular, good enough for resource names."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "uses")):
        return word[:-2]
    if word.endswith("ss") or word.endswith("us") or word.endswith("is"):
        return word
    if word.endswith("s") and len(word) > 3:
        return word[:-1]
    return word


def entity_for(word: str) -> str:
    """The canonical entity a resource word names, or ``""``."""
    if word in _WORD_TO_ENTITY:
        return _WORD_TO_ENTITY[word]
    parts = word.split("_")
    if len(parts) > 1 and parts[-1] in _WORD_TO_ENTITY and parts[0] not in ("order", "product", "customer"):
        return _WORD_TO_ENTITY[parts[-1]]  # "sales_orders", "web_products": the last word carries the meaning
    return ""


def is_param(segment: str) -> bool:
    """Whether a path segment is a template placeholder (``{id}``, ``:id``)."""
    return (segment.startswith("{") and segment.endswith("}")) or segment.startswith(":")


def param_name(segment: str) -> str:
    """``{order_id}`` -> ``order_id``."""
    return segment.strip("{}").lstrip(":")


@dataclass
class PathShape:
    """How one URL path reads as a resource."""

    path: str
    noun: str
    entity: str
    is_item: bool
    id_param: str
    params: list[str]
    parents: list[str]
    skipped: int
    namespace_match: bool


def shape(path: str) -> PathShape | None:
    """Read ``path`` as a resource; ``None`` for paths that are not resources (``/orders/count``)."""
    segments = [s for s in path.split("?")[0].strip("/").split("/") if s]
    params = [param_name(s) for s in segments if is_param(s)]
    is_item = bool(segments) and is_param(segments[-1])
    collection = segments[:-1] if is_item else segments
    while collection and is_param(collection[-1]):
        collection = collection[:-1]
    statics = [(i, normalise(s)) for i, s in enumerate(collection) if not is_param(s)]
    statics = [(i, w) for i, w in statics if w not in SKIP_SEGMENTS and not _VERSION.match(w)]
    if not statics or statics[-1][1] in NOT_RESOURCES:
        return None
    parents = [w for i, w in statics if i + 1 < len(collection) and is_param(collection[i + 1])]
    reverse = list(reversed(statics))
    skipped = 0
    while skipped < len(reverse) and reverse[skipped][1] in GENERIC:
        skipped += 1
    if skipped == len(reverse):
        noun = reverse[0][1]
        # ERP speak: a bare "/items" is the product (stock-keeping unit) list, as in NetSuite
        entity, namespace_match = ("product", True) if noun == "item" and len(reverse) == 1 else ("", False)
    else:
        noun = reverse[skipped][1]
        entity, namespace_match = entity_for(noun), False
    if not entity and skipped:
        # "items" under something: an entity word further up ("/inventory/.../items") names it
        for _, word in reverse[skipped + 1:]:
            if entity_for(word):
                entity, noun, namespace_match = entity_for(word), word, True
                break
    if entity == "product" and parents and parents[-1] in ("order", "sales_order", "sale_order", "cart", "checkout"):
        entity = "order_line" if parents[-1] != "cart" else ""
    if entity and parents and entity_for(parents[-1]) == entity:
        parents = parents[:-1]
    id_param = param_name(segments[-1]) if is_item else ""
    return PathShape(path, noun, entity, is_item, id_param, params, parents, skipped, namespace_match)


@dataclass
class Candidate:
    """One operation that might serve ``kind`` for ``entity``, with its score."""

    entity: str
    kind: str
    operation: Operation
    score: float
    shape: PathShape


@dataclass
class EntityCandidates:
    """All candidate operations found for one entity."""

    name: str
    candidates: list[Candidate] = field(default_factory=list)

    def best(self) -> dict[str, Candidate]:
        """The winning candidate per operation kind (highest score, then shortest path)."""
        chosen: dict[str, Candidate] = {}
        for cand in sorted(self.candidates, key=lambda c: (-c.score, len(c.operation.path), c.operation.path)):
            chosen.setdefault(cand.kind, cand)
        return chosen


def classify(method: str, path_shape: PathShape, batch_body: bool) -> tuple[str, float] | None:
    """The operation kind a method on a path serves, with a base score; ``None`` if it serves none."""
    method = method.lower()
    if path_shape.is_item:
        table = {"get": ("get", 0.95), "put": ("update", 0.9), "patch": ("update", 0.95),
                 "delete": ("delete", 0.95), "post": ("update", 0.6)}
    else:
        table = {"get": ("list", 0.95), "post": ("create", 0.95), "put": ("update", 0.7),
                 "patch": ("update", 0.7), "delete": ("delete", 0.6)}
    if method not in table:
        return None
    kind, score = table[method]
    if kind in ("create", "update") and batch_body:
        score -= 0.1
    return kind, score


def score_for(path_shape: PathShape, base: float) -> float:
    """Lower the base score for nested, generic or namespace-only matches."""
    score = base
    if path_shape.parents:
        score -= 0.15
    score -= 0.05 * path_shape.skipped
    if path_shape.namespace_match:
        score -= 0.1
    if "absolute" in path_shape.path:
        score += 0.05  # "set the level to N" is what a stock sync wants, not relative moves
    return round(max(0.05, min(score, 0.99)), 2)


def make_operation(kind: str, method: str, path: str, path_shape: PathShape, op_id: str, batch: bool,
                   filters: list[str], headers: list[str], scopes: list[str], score: float,
                   evidence: list[Evidence]) -> Operation:
    """An Operation value for a candidate."""
    return Operation(
        kind=kind, method=method.upper(), path=path, operation_id=op_id, batch=batch,
        id_param=path_shape.id_param, path_params=path_shape.params, filters=filters, headers=headers,
        scopes=scopes, confidence=score, evidence=evidence,
    )
