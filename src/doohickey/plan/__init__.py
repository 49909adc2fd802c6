"""doohickey.plan."""
