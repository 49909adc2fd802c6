"""Reconciliation: prove that Systems still match (diff, repair, history, reports) and customer matching.

- :mod:`.diff`: the bounded-memory comparison of one Entity (key -> signature), its Transforms and Discrepancies;
- :mod:`.readers`: page readers over connector Clients, bulk exports and SQL;
- :mod:`.reconciler`: a run (compare, repair from the owner, re-check, record) and the engine's interfaces
  (:class:`~.reconciler.BindingLookup`, :class:`~.reconciler.Repair`);
- :mod:`.history`: stored runs and discrepancies; :mod:`.report`: HTML, CSV and JSON;
- :mod:`.schedule`: the plan's due entries, run and alerted on (called by `doohickey run`);
- :mod:`.matching`: customer identity (find the existing customer, list duplicates).
"""
