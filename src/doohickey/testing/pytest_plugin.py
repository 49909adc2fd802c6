"""pytest plugin: lets a project's own test suite run doohickey scenarios by name."""
