"""Making a system profile's entities available to the mapping suggester as ``system.entity`` schemas.

``register_profile("erp", profile)`` lets ``doohickey map suggest shop.order erp.order``
(and :func:`doohickey.mapping.suggest.schema` lookups) resolve ``erp.<entity>`` from the
profile: its read fields, or its write fields for ``erp.<entity>.write``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from doohickey.discover.profile import SystemProfile

if TYPE_CHECKING:
    from doohickey.mapping.suggest.schema import Schema

_PROFILES: dict[str, SystemProfile] = {}


def register_profile(system: str, profile: SystemProfile) -> None:
    """Resolve ``<system>.<entity>`` (and ``<system>.<entity>.write``) names from ``profile``."""
    from doohickey.mapping.suggest import schema as suggest_schema

    _PROFILES[system.lower()] = profile
    suggest_schema.add_resolver(resolve)


def resolve(name: str) -> Schema | None:
    """The suggester's Schema for ``system.entity[.write]`` from a registered profile, or ``None``."""
    from doohickey.mapping.suggest.schema import Field, Schema

    parts = name.lower().split(".")
    if len(parts) not in (2, 3) or parts[0] not in _PROFILES:
        return None
    entity = _PROFILES[parts[0]].entities.get(parts[1])
    if entity is None:
        return None
    write = len(parts) == 3 and parts[2] == "write"
    fields = entity.write_fields if write else entity.fields
    return Schema(system=parts[0], entity=parts[1], origin=f"profile {', '.join(_PROFILES[parts[0]].sources)}",
                  fields=[Field(path=f.path, type=f.type or "string", description=f.description,
                                enum=tuple(str(v) for v in f.enum)) for f in fields])
