"""doohickey.discover."""
