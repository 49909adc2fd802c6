"""Commerce and ERP vocabulary the suggester knows: synonyms, abbreviations and filler words.

Written from domain knowledge of storefront, ERP and warehouse APIs (not from any
benchmark answer): each group lists words and phrases that name the same idea in
different systems, with how strongly they agree (1.0 = interchangeable, 0.6 = related).
Phrases are written with spaces; they are matched on the tokens of a field path, so
``postal code``, ``postal_code``, ``postalCode`` and ``PostalCode`` all hit the same entry.
"""

from __future__ import annotations

# (strength, words and phrases). The first entry names the group in reasons.
SYNONYM_GROUPS: list[tuple[float, list[str]]] = [
    # quantities and identifiers
    (0.95, ["quantity", "qty", "quantity ordered", "ordered quantity", "count ordered", "product unit quantity",
            "ordered qty"]),
    (0.95, ["sku", "product code", "default code", "item code", "article number", "item number",
            "variant code", "product sku", "stock keeping unit"]),
    (0.9, ["barcode", "upc", "gtin", "ean", "isbn", "jan"]),
    (0.9, ["id", "identifier", "uuid", "guid", "record id"]),
    (0.85, ["number", "no", "nbr", "num", "order number", "increment id", "tran id", "transaction number",
            "document number"]),
    (0.8, ["reference", "ref", "external reference", "customer reference"]),
    # money
    (0.85, ["amount", "total", "grand total", "sum"]),
    (0.6, ["price", "amount", "total", "cost", "value", "charge"]),
    (0.95, ["price", "unit price", "price unit", "unit cost", "price each"]),
    (0.7, ["price", "rate", "unit price"]),
    (0.85, ["line total", "row total", "price subtotal", "line amount", "total line"]),
    (0.9, ["list price", "compare at price", "retail price", "msrp", "regular price", "original price"]),
    (0.9, ["subtotal", "sub total", "untaxed amount", "amount untaxed", "total ex tax", "net total", "net amount"]),
    (0.9, ["discount", "coupon", "promotion", "promo", "voucher", "rebate", "applied discount"]),
    (0.95, ["tax", "taxes", "vat", "gst", "sales tax"]),
    (0.95, ["currency", "currency code", "currency iso", "curr"]),
    (0.7, ["include", "inclusive", "inc", "incl", "included", "including", "with", "gross"]),
    (0.7, ["exclude", "exclusive", "ex", "excl", "excluded", "excluding", "untaxed"]),
    # parties and contact
    (0.85, ["customer", "party", "partner", "buyer", "client", "contact", "shopper", "user", "account holder",
            "purchaser", "consumer"]),
    (0.95, ["email", "e mail", "mail", "email address", "contact mechanism"]),
    (0.95, ["phone", "telephone", "tel", "phone number", "mobile", "cell"]),
    (0.95, ["first name", "given name", "firstname", "forename"]),
    (0.95, ["last name", "family name", "lastname", "surname"]),
    (0.9, ["company", "company name", "organization", "organisation", "business name"]),
    (0.9, ["party name", "full name", "recipient name", "contact name", "addressee"]),
    (0.85, ["name", "title", "label", "display name"]),
    (0.7, ["name", "party name", "full name", "contact name", "recipient name"]),
    # addresses
    (0.95, ["street", "address 1", "address line 1", "street 1", "line 1", "street address", "address1",
            "street line 1"]),
    (0.95, ["address 2", "address line 2", "street 2", "line 2", "address2", "street line 2"]),
    (0.95, ["postal code", "zip", "zip code", "zipcode", "postcode", "post code", "postalcode", "plz"]),
    (0.9, ["city", "town", "locality", "city name"]),
    (0.9, ["subdivision", "province", "state", "region", "county", "prefecture", "state or province",
           "district"]),
    (0.9, ["subdivision code", "province code", "state code", "region code"]),
    (0.6, ["subdivision", "subdivision code"]),
    (0.95, ["country code", "country iso2", "country iso", "country iso code", "iso country"]),
    (0.6, ["country", "country code"]),
    (0.6, ["code", "iso", "iso2", "alpha2"]),
    (0.9, ["billing", "invoice", "bill to", "invoicing", "bill", "billing address", "invoice address"]),
    (0.9, ["shipping", "shipment", "delivery", "ship to", "shipped to", "ship", "shipping address",
           "delivery address", "shipment address"]),
    (0.7, ["fulfillment", "fulfilment", "shipment", "shipping", "delivery", "dispatch"]),
    (0.8, ["address", "addresses"]),
    (0.5, ["address", "location"]),
    (0.8, ["warehouse", "location", "stock location", "depot", "fulfillment center", "inventory location"]),
    # order structure
    (0.9, ["line", "line item", "item", "order line", "order item", "entry", "sale line"]),
    (0.6, ["line", "item", "product", "line item", "order line", "order item", "move", "stock move",
           "outgoing move", "inventory move", "shipment line", "shipment item"]),
    (0.85, ["order", "sale", "sales order", "purchase"]),
    (0.85, ["product", "article", "good", "merchandise"]),
    (0.95, ["variant", "variation", "product variant", "variant product"]),
    (0.8, ["option", "attribute", "option value", "property"]),
    (0.9, ["weight", "grams", "gram", "mass"]),
    (0.85, ["inventory", "stock", "on hand", "available"]),
    (0.7, ["level", "quantity", "qty"]),
    (0.8, ["brand", "vendor", "manufacturer", "make"]),
    (0.8, ["supplier", "vendor"]),
    (0.85, ["handle", "slug", "url key", "permalink"]),
    (0.85, ["tag", "keyword"]),
    (0.85, ["description", "body", "body html", "detail", "long description"]),
    (0.85, ["note", "comment", "message", "remark", "memo", "instruction", "customer note"]),
    (0.6, ["note", "description"]),
    # status and dates
    (0.9, ["status", "state", "stage"]),
    (0.6, ["financial", "payment", "paid", "invoice", "pay"]),
    (0.9, ["payment", "pay"]),
    (0.9, ["created", "create", "creation", "inserted", "date created", "created on"]),
    (0.9, ["updated", "update", "modified", "modify", "changed", "last modified", "write", "date modified"]),
    (0.8, ["completed", "complete", "closed", "close", "done", "finished"]),
    (0.9, ["cancelled", "cancel", "canceled", "voided", "void"]),
    (0.85, ["shipped", "sent", "dispatched", "fulfilled", "delivered"]),
    (0.7, ["processed", "paid", "placed", "confirmed", "sale date", "order date", "date order", "ordered",
           "order placed", "tran date", "transaction date"]),
    (0.9, ["visible", "published", "active", "enabled", "is visible"]),
    # payment and delivery details
    (0.8, ["gateway", "payment method", "payment provider", "processor", "payment gateway"]),
    (0.8, ["transaction", "payment id", "transaction id", "payment reference", "payment provider id"]),
    (0.9, ["carrier", "courier", "shipping provider", "tracking company", "tracking carrier", "shipping carrier"]),
    (0.95, ["url", "link", "href", "uri"]),
    (0.9, ["tracking number", "tracking code", "tracking id", "tracking no"]),
    (0.85, ["method", "service"]),
    (0.9, ["ip", "ip address", "remote ip", "client ip"]),
    (0.8, ["source", "origin", "channel", "via", "created via", "source name"]),
    (0.9, ["marketing", "accepts marketing", "email opt in", "newsletter", "opt in", "consent"]),
    (0.9, ["tax exempt", "tax exemption", "exempt"]),
]

# "A is a kind of B": related one way only, so that billing and shipping (both addresses) stay apart.
HYPERNYMS: dict[str, str] = {
    "billing": "address", "shipping": "address", "invoice": "address", "delivery": "address",
    "shipment": "address", "billing address": "address", "shipping address": "address",
    "home": "address", "variant": "product", "variation": "product",
}
HYPERNYM_SIMILARITY = 0.6

# Abbreviations and spellings folded before anything else.
NORMALISE: dict[str, str] = {
    "qty": "quantity", "addr": "address", "desc": "description", "amt": "amount", "descr": "description",
    "canceled": "cancelled", "cancelation": "cancellation", "fulfilment": "fulfillment",
    "organisation": "organization", "colour": "color", "catalogue": "catalog", "cust": "customer",
    "prod": "product", "uom": "unit", "telephone": "phone", "pricing": "price", "prices": "price", "taxes": "tax",
    "dt": "date",
    "tstamp": "timestamp", "img": "image", "lang": "language", "ts": "timestamp",
}

# Words that say little about what a field holds; they count for less in name comparison.
WEAK_WORDS: frozenset[str] = frozenset({
    "is", "has", "the", "of", "a", "an", "at", "on", "in", "to", "for", "date", "time", "datetime", "timestamp",
    "field", "data", "info", "value", "flag", "id", "gmt", "utc", "local", "default", "base", "main", "primary",
})

# Words that say little about a parent segment beside a more telling word: "this is a list of rows"
# (shipping_lines, tax_lines) or "this is a relation" (partner_id.email, product_id.default_code).
CONTAINER_WORDS: frozenset[str] = frozenset({"line", "item", "row", "entry", "record", "list", "collection", "id"})

# Words dropped from descriptions before comparing them.
STOPWORDS: frozenset[str] = frozenset({
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "and", "or", "by", "with", "from", "as", "is", "are",
    "be", "been", "was", "were", "this", "that", "these", "those", "it", "its", "if", "not", "no", "can", "may",
    "must", "will", "when", "which", "who", "whose", "what", "where", "how", "than", "then", "there", "their",
    "they", "them", "you", "your", "we", "our", "us", "only", "also", "any", "all", "each", "per", "via",
    "into", "out", "up", "down", "over", "under", "more", "most", "such", "so", "do", "does", "did", "set",
    "returns", "return", "returned", "value", "values", "valid", "used", "use", "uses", "using", "e", "g", "eg",
    "ie", "read", "write", "readonly", "null", "true", "false", "default", "format", "example", "one",
    "two", "see", "note", "string", "integer", "number", "boolean", "object", "array", "field",
})
