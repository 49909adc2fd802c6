"""Cut the twin's GraphQL schema out of Shopify's real Admin SDL, so the two cannot drift.

The twin serves ``schema.graphql`` (beside this module), produced by
``python -m doohickey.twins.shopify.schema_subset FULL_SDL > schema.graphql`` from
``contracts/shopify/graphql/admin_schema_unstable_public.*.graphql``. Every
definition is Shopify's own: the types listed in ``TYPES`` and the root fields in
``QUERY_FIELDS`` / ``MUTATION_FIELDS``, with output fields and optional arguments
whose types fall outside the list left out. A required input field or argument
whose type is missing is an error, so the cut never changes what an input means.
Descriptions are left out (they would triple the start-up parse); read them in
Shopify's documentation or the full SDL.
"""

from __future__ import annotations

import sys

from graphql import (
    DocumentNode,
    EnumTypeDefinitionNode,
    InputObjectTypeDefinitionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    SchemaDefinitionNode,
    TypeNode,
    UnionTypeDefinitionNode,
    parse,
    print_ast,
)

QUERY_FIELDS = (
    "order", "orders", "customer", "customers", "product", "products", "productVariant", "productVariants",
    "location", "locations", "inventoryItem", "inventoryItems", "inventoryLevel", "fulfillmentOrder",
    "webhookSubscription", "webhookSubscriptions", "shop", "node", "nodes",
)
MUTATION_FIELDS = (
    "orderCreate", "orderCancel", "refundCreate", "fulfillmentCreate", "customerCreate", "customerUpdate",
    "inventorySetQuantities", "inventoryAdjustQuantities", "webhookSubscriptionCreate", "webhookSubscriptionDelete",
)
TYPES = (
    'QueryRoot', 'Mutation', 'Node', 'DisplayableError', 'UserError', 'PageInfo', 'MoneyBag', 'MoneyV2', 'Count',
    'CountPrecision', 'Job', 'Order', 'OrderConnection', 'OrderEdge', 'OrderDisplayFinancialStatus',
    'OrderDisplayFulfillmentStatus', 'OrderCancelReason', 'OrderSortKeys', 'LineItem', 'LineItemConnection',
    'LineItemEdge', 'DiscountAllocation', 'TaxLine', 'ShippingLine', 'ShippingLineConnection', 'ShippingLineEdge',
    'Customer', 'CustomerConnection', 'CustomerEdge', 'CustomerState', 'CustomerSortKeys', 'MailingAddress',
    'MailingAddressConnection', 'MailingAddressEdge', 'CustomerEmailAddress', 'CustomerPhoneNumber',
    'CustomerEmailMarketingConsentState', 'CustomerEmailMarketingState', 'CustomerMarketingOptInLevel', 'Product',
    'ProductConnection', 'ProductEdge', 'ProductStatus', 'ProductSortKeys', 'ProductVariant',
    'ProductVariantConnection', 'ProductVariantEdge', 'ProductVariantSortKeys', 'ProductVariantInventoryPolicy',
    'InventoryItem', 'InventoryItemConnection', 'InventoryItemEdge', 'InventoryLevel', 'InventoryLevelConnection',
    'InventoryLevelEdge', 'InventoryQuantity', 'InventoryAdjustmentGroup', 'InventoryChange', 'Location',
    'LocationConnection', 'LocationEdge', 'LocationAddress', 'LocationSortKeys', 'Fulfillment',
    'FulfillmentStatus', 'FulfillmentDisplayStatus', 'FulfillmentTrackingInfo', 'FulfillmentLineItem',
    'FulfillmentLineItemConnection', 'FulfillmentLineItemEdge', 'FulfillmentOrder', 'FulfillmentOrderConnection',
    'FulfillmentOrderEdge', 'FulfillmentOrderStatus', 'FulfillmentOrderRequestStatus', 'FulfillmentOrderLineItem',
    'FulfillmentOrderLineItemConnection', 'FulfillmentOrderLineItemEdge', 'FulfillmentOrderAssignedLocation',
    'Refund', 'RefundLineItem', 'RefundLineItemConnection', 'RefundLineItemEdge', 'RefundLineItemRestockType',
    'OrderTransaction', 'OrderTransactionKind', 'OrderTransactionStatus', 'CountryCode', 'CurrencyCode',
    'DateTime', 'Decimal', 'Money', 'URL', 'UnsignedInt64', 'FormattedString', 'HTML', 'JSON', 'UtcOffset',
    'WeightUnit', 'Weight', 'InventorySetQuantitiesInput', 'InventoryQuantityInput',
    'InventorySetQuantitiesPayload', 'InventorySetQuantitiesUserError', 'InventorySetQuantitiesUserErrorCode',
    'InventoryAdjustQuantitiesInput', 'InventoryChangeInput', 'InventoryAdjustQuantitiesPayload',
    'InventoryAdjustQuantitiesUserError', 'InventoryAdjustQuantitiesUserErrorCode', 'FulfillmentInput',
    'FulfillmentOrderLineItemsInput', 'FulfillmentOrderLineItemInput', 'FulfillmentOriginAddressInput',
    'FulfillmentTrackingInput', 'FulfillmentCreatePayload', 'OrderCancelPayload', 'OrderCancelUserError',
    'OrderCancelUserErrorCode', 'OrderCancelRefundMethodInput', 'RefundInput', 'RefundLineItemInput',
    'ShippingRefundInput', 'OrderTransactionInput', 'RefundCreatePayload', 'CustomerInput', 'MailingAddressInput',
    'CustomerCreatePayload', 'CustomerUpdatePayload', 'CustomerEmailMarketingConsentInput',
    'OrderCreateOrderInput', 'OrderCreateLineItemInput', 'OrderCreateOptionsInput', 'OrderCreatePayload',
    'OrderCreateUserError', 'OrderCreateUserErrorCode', 'MoneyBagInput', 'MoneyInput', 'OrderCreateTaxLineInput',
    'OrderCreateShippingLineInput', 'OrderCreateDiscountCodeInput', 'OrderCreateFixedDiscountCodeAttributesInput',
    'OrderCreatePercentageDiscountCodeAttributesInput', 'OrderCreateFreeShippingDiscountCodeAttributesInput',
    'OrderCreateCustomerInput', 'OrderCreateAssociateCustomerAttributesInput',
    'OrderCreateUpsertCustomerAttributesInput', 'OrderCreateFinancialStatus', 'OrderCreateFulfillmentStatus',
    'OrderCreateInputsInventoryBehavior', 'WebhookSubscription', 'WebhookSubscriptionConnection',
    'WebhookSubscriptionEdge', 'WebhookSubscriptionTopic', 'WebhookSubscriptionFormat',
    'WebhookSubscriptionInput', 'WebhookSubscriptionCreatePayload', 'WebhookSubscriptionDeletePayload',
    'WebhookSubscriptionSortKeys', 'WebhookSubscriptionEndpoint', 'WebhookHttpEndpoint', 'ApiVersion', 'Shop',
    'ShopPlan',
)
BUILTIN = {"String", "Int", "Float", "Boolean", "ID"}


def _named(node: TypeNode) -> str:
    while isinstance(node, NonNullTypeNode | ListTypeNode):
        node = node.type
    assert isinstance(node, NamedTypeNode)
    return node.name.value


def _known(node: TypeNode, kept: set[str]) -> bool:
    name = _named(node)
    return name in BUILTIN or name in kept


def _args(owner: str, args: tuple[InputValueDefinitionNode, ...], kept: set[str]) -> tuple | None:
    """The arguments kept; None when a required one has a type outside the subset (drop the field)."""
    out = []
    for arg in args or ():
        if _known(arg.type, kept):
            out.append(arg)
        elif isinstance(arg.type, NonNullTypeNode) and arg.default_value is None:
            return None
    return tuple(out)


def _only_deprecated(directives: tuple) -> tuple:
    return tuple(d for d in directives or () if d.name.value == "deprecated")


def cut(full_sdl: str | DocumentNode) -> str:
    """The SDL of the subset: Shopify's definitions for ``TYPES``, pruned as the module docstring says."""
    document = parse(full_sdl, no_location=True) if isinstance(full_sdl, str) else full_sdl
    kept = set(TYPES)
    by_name = {d.name.value: d for d in document.definitions if hasattr(d, "name") and d.name is not None}
    missing = kept - set(by_name)
    if missing:
        raise SystemExit(f"types not in the full schema: {sorted(missing)}")
    out = []
    for name in TYPES:
        node = by_name[name]
        roots = {"QueryRoot": QUERY_FIELDS, "Mutation": MUTATION_FIELDS}
        if isinstance(node, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
            fields = []
            for field in node.fields:
                if name in roots and field.name.value not in roots[name]:
                    continue
                args = _args(f"{name}.{field.name.value}", field.arguments, kept)
                if args is None or not _known(field.type, kept):
                    if name in roots:
                        raise SystemExit(f"root field {name}.{field.name.value} needs a type outside the subset")
                    continue
                fields.append(field.__class__(**{**_attrs(field), "arguments": tuple(a.__class__(**_attrs(a))
                                                                                     for a in args),
                                                 "directives": _only_deprecated(field.directives)}))
            interfaces = tuple(i for i in node.interfaces or () if i.name.value in kept)
            node = node.__class__(**{**_attrs(node), "fields": tuple(fields), "interfaces": interfaces,
                                     "directives": ()})
        elif isinstance(node, InputObjectTypeDefinitionNode):
            fields = []
            for field in node.fields:
                if _known(field.type, kept):
                    fields.append(field.__class__(**{**_attrs(field),
                                                     "directives": _only_deprecated(field.directives)}))
                elif isinstance(field.type, NonNullTypeNode):
                    raise SystemExit(f"required input field {name}.{field.name.value} needs {_named(field.type)}")
            node = node.__class__(**{**_attrs(node), "fields": tuple(fields), "directives": ()})
        elif isinstance(node, UnionTypeDefinitionNode):
            node = node.__class__(**{**_attrs(node), "types": tuple(t for t in node.types if t.name.value in kept),
                                     "directives": ()})
        elif isinstance(node, EnumTypeDefinitionNode | ScalarTypeDefinitionNode):
            node = node.__class__(**{**_attrs(node), "directives": ()})
        out.append(node)
    schema = next(d for d in document.definitions if isinstance(d, SchemaDefinitionNode))
    return print_ast(DocumentNode(definitions=(schema, *out))) + "\n"


def _attrs(node: object) -> dict:
    """A node's attributes without its location and description (descriptions would triple the parse time)."""
    attrs = {key: getattr(node, key) for key in node.keys if key != "loc"}  # type: ignore[attr-defined]
    if "description" in attrs:
        attrs["description"] = None
    for key in ("values", "arguments"):
        if attrs.get(key):
            attrs[key] = tuple(item.__class__(**_attrs(item)) for item in attrs[key])
    return attrs


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as full:
        sys.stdout.write(cut(full.read()))
