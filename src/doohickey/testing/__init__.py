"""doohickey.testing."""
