"""doohickey.connectors.openapi."""
