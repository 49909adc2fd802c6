"""doohickey.connectors."""
