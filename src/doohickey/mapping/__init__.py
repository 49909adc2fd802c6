"""Mapping: FieldMaps and Transforms (``map_record``), status tables, and suggestions (``suggest/``, ``values.py``).

``map_record(flow, data)`` is what the engine calls for every Event; ``TRANSFORMS``
is the registry of named transforms a FieldMap row may use.
"""

from doohickey.mapping.fieldmap import map_record
from doohickey.mapping.transforms import TRANSFORMS

__all__ = ["TRANSFORMS", "map_record"]
