"""The sync engine: moves every change durably, in order, exactly once, from a System to another.

Where things are: ``store`` (the one schema and migrations), ``events`` (recording and finding
Events), ``intake`` (webhooks and polling), ``runner`` (what happens to one Event, step by step),
``loop`` (running Events: order per record, parallel across records, outcomes and retries),
``retry``, ``pacing``, ``idmap`` (Bindings), ``ownership``, ``deadletter``, ``audit``, ``scheduler``,
``status``, ``commit`` (group commit), ``runtime`` (a plan running: twins, clients, web server),
``sandbox`` (the plan's twins in-process), ``demo``, and ``lease`` / ``workers`` (several worker
processes sharing one PostgreSQL store). See docs/engine.md.
"""
