"""The HTTP surface of a running plan: webhook endpoints and a small JSON API (see ``app.py``)."""
