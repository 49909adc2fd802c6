"""Writing accepted suggestions as a draft FieldMap file for a person to review.

The FieldMap file format is ``rows: [{from, to, transform?, note?}]``. The draft opens
with a comment header saying it is a draft and how it was produced, and every row
carries a ``note`` with its score and reasons so the reviewer sees why it was proposed;
rows between two enumerations also show the proposed status table.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from doohickey.errors import MappingError
from doohickey.mapping.suggest.match import Suggestions
from doohickey.mapping.values import field_values, match_values


def _status_hint(result: Suggestions, source: str, target: str) -> str:
    """For two enumerations, the proposed status table, so the reviewer sees the values too."""
    s_field, t_field = result.source.get(source), result.target.get(target)
    src, dst = field_values(s_field), field_values(t_field)
    if not src or not dst or not (s_field.enum or t_field.enum):
        return ""  # two plain booleans need no table
    table = match_values(src, dst)
    pairs = ", ".join(f"{a} -> {b}" for a, b in table.table().items())
    unmapped = f"; unmapped: {', '.join(table.unmapped)}" if table.unmapped else ""
    return f" | status values (see `doohickey map values`): {pairs or 'none matched'}{unmapped}"


def draft_rows(result: Suggestions) -> list[dict[str, str]]:
    """The accepted matches as FieldMap rows, in source-schema order, with score and reasons as the note."""
    order = {f.path: i for i, f in enumerate(result.source.fields)}
    rows = []
    for c in sorted(result.accepted, key=lambda c: order.get(c.source, 0)):
        note = f"score {c.score:.2f}: {'; '.join(c.reasons)}{_status_hint(result, c.source, c.target)}"
        rows.append({"from": c.source, "to": c.target, "note": note})
    return rows


def render_draft(result: Suggestions) -> str:
    """The draft FieldMap YAML text, header comment included."""
    accepted = {c.source for c in result.accepted}
    unmatched = [f.path for f in result.source.fields if f.path not in accepted]
    scores = [c.score for c in result.accepted]
    header = [
        "# DRAFT FieldMap proposed by `doohickey map suggest`: review every row before use.",
        f"# source: {result.source.name} ({result.source.origin or 'schema'})",
        f"# target: {result.target.name} ({result.target.origin or 'schema'})",
        f"# threshold {result.threshold}; {len(result.accepted)} rows accepted"
        + (f", scores {min(scores):.2f}..{max(scores):.2f}" if scores else ""),
        "# Each row's note gives its score (0..1) and the reasons; add transforms where types or formats differ.",
    ]
    if unmatched:
        header.append(f"# {len(unmatched)} source fields left unmapped (no target above the threshold):")
        header += [f"#   {p}" for p in unmatched]
    body = yaml.safe_dump({"rows": draft_rows(result)}, sort_keys=False, allow_unicode=True, width=1000)
    return "\n".join(header) + "\n" + body


def write_draft(path: str | Path, result: Suggestions) -> int:
    """Write the draft FieldMap to ``path``; returns the number of rows written."""
    p = Path(path)
    try:
        p.write_text(render_draft(result), encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"cannot write the draft FieldMap to {p}: {exc}") from exc
    return len(result.accepted)
