"""doohickey.mapping."""
