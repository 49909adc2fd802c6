"""The GraphQL documents the Shopify connector sends, and nothing else.

Every document here is validated against Shopify's real Admin schema by
``tests/connectors/test_shopify_contract.py``, so the connector cannot drift from
the API. ``DOCUMENTS`` lists them all by operation name.

No deprecated field or argument is used, except ``Customer.emailMarketingConsent``
(its replacement, ``defaultEmailAddress.marketingState``, is missing from the twin's
schema cut); the contract test holds that list.

Page sizes are chosen so that a read's *requested cost* stays well under
Shopify's 1,000-point ceiling per query (connections cost their page size times
the cost of one node): orders carry at most ``LINES_PER_ORDER`` line items per
page, and the client fetches the rest of a long order with ``ORDER_LINES``.
"""

from __future__ import annotations

LINES_PER_ORDER = 10
MAX_PAGE = {"order": 5, "customer": 50, "product": 10, "variant": 50, "stock": 10}

MONEY = "shopMoney { amount currencyCode }"

ADDRESS = """
fragment AddressFields on MailingAddress {
  firstName lastName company address1 address2 city province provinceCode zip countryCodeV2 phone
}"""

LINE = f"""
fragment LineFields on LineItem {{
  id sku name title quantity isGiftCard requiresShipping
  originalUnitPriceSet {{ {MONEY} }}
  totalDiscountSet {{ {MONEY} }}
  discountAllocations {{ allocatedAmountSet {{ {MONEY} }} }}
  taxLines {{ title rate priceSet {{ {MONEY} }} }}
}}"""

ORDER = f"""
fragment OrderFields on Order {{
  id name email createdAt updatedAt cancelledAt cancelReason closed note tags discountCodes
  currencyCode displayFinancialStatus displayFulfillmentStatus
  customer {{ id firstName lastName defaultEmailAddress {{ emailAddress }} defaultPhoneNumber {{ phoneNumber }} }}
  shippingAddress {{ ...AddressFields }}
  billingAddress {{ ...AddressFields }}
  totalDiscountsSet {{ {MONEY} }}
  totalShippingPriceSet {{ {MONEY} }}
  totalTaxSet {{ {MONEY} }}
  totalPriceSet {{ {MONEY} }}
  shippingLines(first: 5) {{
    nodes {{ title code originalPriceSet {{ {MONEY} }} taxLines {{ title rate priceSet {{ {MONEY} }} }} }}
  }}
  lineItems(first: {LINES_PER_ORDER}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...LineFields }} }}
}}{LINE}{ADDRESS}"""

CUSTOMER = """
fragment CustomerFields on Customer {
  id firstName lastName tags createdAt updatedAt
  defaultEmailAddress { emailAddress }
  defaultPhoneNumber { phoneNumber }
  emailMarketingConsent { marketingState }
  defaultAddress { ...AddressFields }
  addresses(first: 5) { ...AddressFields }
}""" + ADDRESS

VARIANT = """
fragment VariantFields on ProductVariant {
  id sku title price barcode updatedAt
  inventoryItem { id }
  product { id }
}"""

PRODUCT = """
fragment ProductFields on Product {
  id title handle vendor productType status updatedAt
  variants(first: 20) { nodes { id sku title price barcode inventoryItem { id } } }
}"""

LEVEL = """
fragment LevelFields on InventoryLevel {
  id updatedAt
  location { id name }
  item { id sku }
  quantities(names: ["available", "on_hand", "committed"]) { name quantity }
}"""

STOCK_ITEM = """
fragment StockItemFields on InventoryItem {
  id sku updatedAt
  inventoryLevels(first: 10) { nodes { ...LevelFields } }
}""" + LEVEL

FULFILMENT = """
fragment FulfilmentFields on Fulfillment {
  id name status createdAt updatedAt
  order { id name }
  location { id name }
  trackingInfo(first: 5) { company number url }
  fulfillmentLineItems(first: 20) { nodes { quantity lineItem { sku } } }
}"""

REFUND = f"""
fragment RefundFields on Refund {{
  id note createdAt
  order {{ id name }}
  totalRefundedSet {{ {MONEY} }}
  refundLineItems(first: 20) {{ nodes {{ quantity restockType subtotalSet {{ {MONEY} }} lineItem {{ sku }} }} }}
}}"""

PAGE = "pageInfo { hasNextPage endCursor }"

# --- reads -----------------------------------------------------------------------------------------

SHOP = "query Shop { shop { name myshopifyDomain currencyCode } }"

ORDERS = f"""
query Orders($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    {PAGE} nodes {{ ...OrderFields }}
  }}
}}{ORDER}"""

ORDER_BY_ID = f"query OrderById($id: ID!) {{ order(id: $id) {{ ...OrderFields }} }}{ORDER}"

ORDER_LINES = f"""
query OrderLines($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: 50, after: $after) {{ {PAGE} nodes {{ ...LineFields }} }}
  }}
}}{LINE}"""

CUSTOMERS = f"""
query Customers($first: Int!, $after: String, $query: String) {{
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    {PAGE} nodes {{ ...CustomerFields }}
  }}
}}{CUSTOMER}"""

CUSTOMER_BY_ID = f"query CustomerById($id: ID!) {{ customer(id: $id) {{ ...CustomerFields }} }}{CUSTOMER}"

PRODUCTS = f"""
query Products($first: Int!, $after: String, $query: String) {{
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    {PAGE} nodes {{ ...ProductFields }}
  }}
}}{PRODUCT}"""

PRODUCT_BY_ID = f"query ProductById($id: ID!) {{ product(id: $id) {{ ...ProductFields }} }}{PRODUCT}"

VARIANTS = f"""
query Variants($first: Int!, $after: String, $query: String) {{
  productVariants(first: $first, after: $after, query: $query, sortKey: ID) {{
    {PAGE} nodes {{ ...VariantFields }}
  }}
}}{VARIANT}"""

VARIANT_BY_ID = f"query VariantById($id: ID!) {{ productVariant(id: $id) {{ ...VariantFields }} }}{VARIANT}"

STOCK = f"""
query Stock($first: Int!, $after: String, $query: String) {{
  inventoryItems(first: $first, after: $after, query: $query) {{
    {PAGE} nodes {{ ...StockItemFields }}
  }}
}}{STOCK_ITEM}"""

LEVEL_BY_ID = f"query LevelById($id: ID!) {{ inventoryLevel(id: $id) {{ ...LevelFields }} }}{LEVEL}"

LOCATIONS = """
query Locations($query: String) {
  locations(first: 50, query: $query) { nodes { id name isActive } }
}"""

FULFILMENT_BY_ID = f"""
query FulfilmentById($id: ID!) {{
  node(id: $id) {{ __typename ... on Fulfillment {{ ...FulfilmentFields }} }}
}}{FULFILMENT}"""

REFUND_BY_ID = f"""
query RefundById($id: ID!) {{ node(id: $id) {{ __typename ... on Refund {{ ...RefundFields }} }} }}{REFUND}"""

ORDER_AFTERMATH = f"""
query OrderAftermath($query: String!) {{
  orders(first: 2, query: $query) {{
    nodes {{ id name fulfillments(first: 10) {{ ...FulfilmentFields }} refunds(first: 10) {{ ...RefundFields }} }}
  }}
}}{FULFILMENT}{REFUND}"""

ORDER_WORK = f"""
query OrderWork($id: ID!) {{
  order(id: $id) {{
    id name currencyCode
    fulfillmentOrders(first: 10) {{
      nodes {{ id status lineItems(first: 50) {{ nodes {{ id sku remainingQuantity }} }} }}
    }}
    lineItems(first: 50) {{ nodes {{ id sku quantity refundableQuantity }} }}
    transactions(first: 20) {{ id kind status gateway amountSet {{ {MONEY} }} }}
  }}
}}"""

# --- writes ----------------------------------------------------------------------------------------

INVENTORY_SET = """
mutation InventorySet($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id createdAt reason referenceDocumentUri changes { name delta quantityAfterChange } }
    userErrors { code field message }
  }
}"""

FULFILLMENT_CREATE = f"""
mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {{
  fulfillmentCreate(fulfillment: $fulfillment) {{
    fulfillment {{ ...FulfilmentFields }}
    userErrors {{ field message }}
  }}
}}{FULFILMENT}"""

ORDER_CANCEL = """
mutation OrderCancel($orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!,
                     $refundMethod: OrderCancelRefundMethodInput, $notifyCustomer: Boolean, $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, restock: $restock, refundMethod: $refundMethod,
              notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    job { id done }
    orderCancelUserErrors { code field message }
  }
}"""

REFUND_CREATE = f"""
mutation RefundCreate($input: RefundInput!) {{
  refundCreate(input: $input) {{
    refund {{ ...RefundFields }}
    userErrors {{ field message }}
  }}
}}{REFUND}"""

CUSTOMER_CREATE = f"""
mutation CustomerCreate($input: CustomerInput!) {{
  customerCreate(input: $input) {{ customer {{ ...CustomerFields }} userErrors {{ field message }} }}
}}{CUSTOMER}"""

CUSTOMER_UPDATE = f"""
mutation CustomerUpdate($input: CustomerInput!) {{
  customerUpdate(input: $input) {{ customer {{ ...CustomerFields }} userErrors {{ field message }} }}
}}{CUSTOMER}"""

ORDER_CREATE = f"""
mutation OrderCreate($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {{
  orderCreate(order: $order, options: $options) {{ order {{ ...OrderFields }} userErrors {{ code field message }} }}
}}{ORDER}"""

DOCUMENTS: dict[str, str] = {
    "Shop": SHOP, "Orders": ORDERS, "OrderById": ORDER_BY_ID, "OrderLines": ORDER_LINES,
    "Customers": CUSTOMERS, "CustomerById": CUSTOMER_BY_ID, "Products": PRODUCTS, "ProductById": PRODUCT_BY_ID,
    "Variants": VARIANTS, "VariantById": VARIANT_BY_ID, "Stock": STOCK, "LevelById": LEVEL_BY_ID,
    "Locations": LOCATIONS, "FulfilmentById": FULFILMENT_BY_ID, "RefundById": REFUND_BY_ID,
    "OrderAftermath": ORDER_AFTERMATH, "OrderWork": ORDER_WORK,
    "InventorySet": INVENTORY_SET, "FulfillmentCreate": FULFILLMENT_CREATE, "OrderCancel": ORDER_CANCEL,
    "RefundCreate": REFUND_CREATE, "CustomerCreate": CUSTOMER_CREATE, "CustomerUpdate": CUSTOMER_UPDATE,
    "OrderCreate": ORDER_CREATE,
}
