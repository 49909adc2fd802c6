"""Discovery: read a System's OpenAPI / Swagger document and propose what it offers, as a system profile.

``discover(path)`` -> :class:`SystemProfile` (entities with their operations, id and
poll fields, pagination, auth schemes, webhooks, rate-limit hints, status enums, each
with a confidence and evidence). ``preflight`` checks a payload against a profile's
write schema before a write.
"""

from doohickey.discover.build import discover, discover_document, discover_many, merge
from doohickey.discover.loader import SpecError, load_spec
from doohickey.discover.profile import EntityProfile, ProfileError, SystemProfile, load_profile

__all__ = ["EntityProfile", "ProfileError", "SpecError", "SystemProfile", "discover", "discover_document",
           "discover_many", "load_profile", "load_spec", "merge"]
