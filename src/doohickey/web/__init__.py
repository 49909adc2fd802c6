"""doohickey.web."""
