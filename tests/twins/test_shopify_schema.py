"""The Shopify twin's schema cannot drift from Shopify's real Admin schema, and neither can our documents."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    build_ast_schema,
    parse,
    validate,
)

from doohickey.twins.shopify.api import build_twin_schema, schema_sdl
from doohickey.twins.shopify.schema_subset import cut

from . import test_shopify_api, test_shopify_cost, test_shopify_webhooks
from .shopify_support import DOCUMENTS, ORDER_CREATE

FULL = "contracts/shopify/graphql/admin_schema_unstable_public.2025-10-09.graphql"


@pytest.fixture(scope="module")
def real(shared_dir: Path):
    document = parse((shared_dir / FULL).read_text(encoding="utf-8"), no_location=True)
    # Shopify's published schema breaks one interface-deprecation rule, hence assume_valid.
    return document, build_ast_schema(document, assume_valid=True)


def test_schema_file_is_exactly_the_cut_of_the_real_schema(real):
    document, _ = real
    assert cut(document) == schema_sdl(), "regenerate it: python -m doohickey.twins.shopify.schema_subset FULL"


def test_every_twin_type_field_and_argument_exists_in_the_real_schema(real):
    _, full = real
    twin = build_twin_schema()
    checked = 0
    for name, ours in twin.type_map.items():
        if name.startswith("__"):
            continue
        theirs = full.type_map.get(name)
        assert theirs is not None, f"{name} is not a Shopify type"
        assert type(ours) is type(theirs), name
        if isinstance(ours, GraphQLObjectType | GraphQLInterfaceType):
            assert {i.name for i in ours.interfaces} <= {i.name for i in theirs.interfaces}, name
            for field_name, field in ours.fields.items():
                real_field = theirs.fields.get(field_name)
                assert real_field is not None, f"{name}.{field_name}"
                assert str(field.type) == str(real_field.type), f"{name}.{field_name}"
                for arg_name, arg in field.args.items():
                    assert str(arg.type) == str(real_field.args[arg_name].type), f"{name}.{field_name}({arg_name})"
                required = {a for a, v in real_field.args.items() if "!" in str(v.type) and v.default_value is None}
                assert required <= set(field.args), f"{name}.{field_name} lacks required arguments"
                checked += 1
        elif isinstance(ours, GraphQLInputObjectType):
            for field_name, field in ours.fields.items():
                assert str(field.type) == str(theirs.fields[field_name].type), f"{name}.{field_name}"
            required = {f for f, v in theirs.fields.items() if str(v.type).endswith("!")}
            assert required <= set(ours.fields), f"input {name} lacks required fields"
        elif isinstance(ours, GraphQLEnumType):
            assert set(ours.values) == set(theirs.values), name
        elif isinstance(ours, GraphQLUnionType):
            assert {t.name for t in ours.types} <= {t.name for t in theirs.types}, name
    assert checked > 700


def test_every_document_the_tests_send_is_valid_against_the_real_schema(real):
    _, full = real
    documents = set(DOCUMENTS) | {ORDER_CREATE}
    for module in (test_shopify_api, test_shopify_cost, test_shopify_webhooks):
        documents |= {v for k, v in vars(module).items() if k.isupper() and isinstance(v, str) and "{" in v}
    assert len(documents) >= 8
    for text in documents - {t for t in documents if "notAField" in t}:  # the deliberately invalid one
        assert validate(full, parse(text)) == [], text
