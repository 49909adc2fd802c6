"""doohickey.connectors.tryton."""
