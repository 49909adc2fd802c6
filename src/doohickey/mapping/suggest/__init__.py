"""Field mapping suggestions, offline: which target field each source field most likely maps to.

No model download and no external service: names, a commerce synonym lexicon, path
structure, types, enum values, descriptions and sample values, combined by a small
fixed logistic model, then a 1:1 assignment above a threshold. See docs/mapping.md.

    from doohickey.mapping.suggest import load_schema, suggest
    result = suggest(load_schema("shopify.order.json"), load_schema("spec.yaml#/components/schemas/Sale"))
"""

from doohickey.mapping.suggest.draft import render_draft, write_draft
from doohickey.mapping.suggest.match import DEFAULT_THRESHOLD, Candidate, Suggestions, suggest
from doohickey.mapping.suggest.schema import (
    Field,
    Schema,
    add_resolver,
    add_schema_folder,
    load_field_list,
    load_openapi_component,
    load_schema,
    register_schema,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "Candidate",
    "Field",
    "Schema",
    "Suggestions",
    "add_resolver",
    "add_schema_folder",
    "load_field_list",
    "load_openapi_component",
    "load_schema",
    "register_schema",
    "render_draft",
    "suggest",
    "write_draft",
]
