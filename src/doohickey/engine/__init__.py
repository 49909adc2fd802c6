"""doohickey.engine."""
