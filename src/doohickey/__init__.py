"""doohickey: one executable integration plan for eCommerce integrations.

The plan (``integration.yaml``) is checked for risks, configures the sync engine,
drives named test cases against sandbox twins and tells reconciliation what must match.
"""

__version__ = "0.1.0"
