"""doohickey.reconcile."""
