"""doohickey.twins."""
