"""doohickey.mapping.suggest."""
