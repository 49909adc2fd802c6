"""doohickey.connectors.shopify."""
