"""The reconciliation diff: compare one Entity across two Systems in bounded memory.

The owner side (the System that is the source of truth) is read first, page by
page. For each record only a compact *signature* is kept, keyed by the match key:
the tuple of the normalised compared values (or, for wide records, a 64-bit
content hash of them plus the values of fields compared with a tolerance). The
other side is then read page by page and looked up by key. Whole records are
never held, so memory grows with ``rows x (key + signature)``, not with record size.

Per page the work runs column by column (``map`` over C callables) instead of
row by row, which is what keeps a million-row stock comparison in about a second.

Discrepancy kinds:

- **missing**: in the owner, not in the other System, and older than the grace period;
- **orphan**: in the other System with no owner record;
- **mismatch**: both hold it but compared fields differ beyond tolerance (both values kept);
- **duplicate**: two records on one side resolve to the same owner key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from itertools import compress, islice, repeat
from typing import Any

from doohickey.errors import DoohickeyError

_ABSENT = object()
_CENT = Decimal("0.01")


class ReconcileError(DoohickeyError):
    """A reconciliation cannot run: bad configuration or a value its transform cannot read."""


class Kind(StrEnum):
    """The kinds of Discrepancy, in the order a report shows them (worst first)."""

    MISSING = "missing"
    DUPLICATE = "duplicate"
    MISMATCH = "mismatch"
    ORPHAN = "orphan"


KIND_RANK = {kind: rank for rank, kind in enumerate(Kind)}


# --- transforms: named, pure normalisers applied to both sides before comparing ---------------------------


def t_identity(value: Any) -> Any:
    """The value unchanged."""
    return value


def t_text(value: Any) -> str:
    """A trimmed string; ``None`` is the empty string (APIs disagree on absent vs empty)."""
    return "" if value is None else str(value).strip()


def t_casefold(value: Any) -> str:
    """A trimmed, case-folded string."""
    return t_text(value).casefold()


def t_email(value: Any) -> str:
    """An email address trimmed and case-folded (``Jane.Doe@Example.com`` == ``jane.doe@example.com``)."""
    return t_text(value).casefold()


def t_int(value: Any) -> int | None:
    """An integer from an int, an integral decimal/float or a numeric string; refuses 2.5 rather than truncate."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    number = Decimal(str(value).strip())
    if number != number.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def t_money(value: Any) -> Decimal | None:
    """An amount rounded half-up to 2 decimals (``"10.5"`` == ``10.50``); never goes through float."""
    if value is None or value == "":
        return None
    return Decimal(str(value).strip()).quantize(_CENT, rounding=ROUND_HALF_UP)


def t_decimal(value: Any) -> Decimal | None:
    """An exact decimal with trailing zeros removed (``1.50`` == ``1.5``)."""
    if value is None or value == "":
        return None
    return Decimal(str(value).strip()).normalize()


def t_bool(value: Any) -> bool | None:
    """A boolean from a bool, 0/1 or the words true/false/yes/no."""
    if value is None or isinstance(value, bool):
        return value
    word = str(value).strip().casefold()
    if word in {"1", "true", "yes", "y", "t"}:
        return True
    if word in {"0", "false", "no", "n", "f", ""}:
        return False
    raise ValueError(f"{value!r} is not a boolean")


@dataclass(frozen=True)
class Transform:
    """A named normaliser; ``fast`` is a C callable tried on a whole column first (it raises on anything odd)."""

    name: str
    fn: Callable[[Any], Any]
    fast: Callable[[Any], Any] | None = None


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("identity", t_identity),
        Transform("text", t_text),
        Transform("trim", t_text),
        Transform("casefold", t_casefold),
        Transform("email", t_email),
        Transform("int", t_int, fast=operator.index),
        Transform("money", t_money),
        Transform("decimal", t_decimal),
        Transform("bool", t_bool),
    )
}


def transform(name: str) -> Transform:
    """The Transform called ``name``, or a clear error listing the known ones."""
    try:
        return TRANSFORMS[name]
    except KeyError:
        raise ReconcileError(f"unknown reconcile transform {name!r}; known: {', '.join(sorted(TRANSFORMS))}") from None


# --- what is compared ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRule:
    """One compared field: its path on each side, the transform, and a numeric tolerance (0 = exact)."""

    name: str
    transform: str = "identity"
    tolerance: Decimal | float | int = 0
    owner_path: str | None = None
    other_path: str | None = None

    @property
    def owner(self) -> str:
        """Path of the field in owner rows."""
        return self.owner_path or self.name

    @property
    def other(self) -> str:
        """Path of the field in the other System's rows."""
        return self.other_path or self.name


@dataclass(frozen=True)
class DiffSpec:
    """What a diff compares for one Entity.

    ``key`` names the natural-key paths in owner rows (``other_key`` in the other's,
    defaulting to the same); an empty key means "match by the owner's external id"
    (``_id``), with the other side translated through Bindings by the caller.
    ``grace`` keeps records younger than it from being reported missing.
    ``digest`` stores a content hash instead of the values (automatic above 4 fields).
    """

    entity: str
    fields: tuple[FieldRule, ...]
    key: tuple[str, ...] = ("_id",)
    other_key: tuple[str, ...] | None = None
    key_transform: str = "identity"
    owner_id: str = "_id"
    other_id: str = "_id"
    updated: str = "_updated_at"
    grace: dt.timedelta = dt.timedelta(0)
    digest: bool | None = None
    max_details: int = 50_000

    def uses_digest(self) -> bool:
        """Whether signatures are content hashes (wide records) rather than the values themselves."""
        return self.digest if self.digest is not None else len(self.fields) > 4


# --- results -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldDiff:
    """One field that differs: the owner's value and the other System's value (normalised)."""

    name: str
    owner: Any
    other: Any

    @property
    def delta(self) -> Any:
        """``other - owner`` for numbers, else ``None``."""
        numbers = (self.owner, self.other)
        if all(isinstance(v, int | Decimal | float) and not isinstance(v, bool) for v in numbers):
            return self.other - self.owner
        return None


@dataclass(frozen=True)
class Discrepancy:
    """What reconciliation found about one record: its kind, key, ids on both sides and differing fields."""

    kind: Kind
    entity: str
    key: str
    owner_id: str | None = None
    other_ids: tuple[str, ...] = ()
    fields: tuple[FieldDiff, ...] = ()
    side: str = "other"
    note: str = ""

    @property
    def magnitude(self) -> float:
        """How bad it is within its kind: the largest absolute numeric delta, else the number of fields."""
        deltas = [abs(float(f.delta)) for f in self.fields if f.delta is not None]
        return max(deltas, default=float(len(self.fields)))

    def sort_key(self) -> tuple[int, float, str]:
        """Worst first: by kind (missing, duplicate, mismatch, orphan), then larger drift first."""
        return (KIND_RANK[self.kind], -self.magnitude, self.key)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (values as strings where they are Decimals)."""
        return {
            "kind": str(self.kind),
            "entity": self.entity,
            "key": self.key,
            "owner_id": self.owner_id,
            "other_ids": list(self.other_ids),
            "side": self.side,
            "note": self.note,
            "fields": [
                {"name": f.name, "owner": _plain(f.owner), "other": _plain(f.other), "delta": _plain(f.delta)}
                for f in self.fields
            ],
        }


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


@dataclass
class DiffResult:
    """Counts by kind (exact) and the discrepancies, worst first (capped at ``DiffSpec.max_details``)."""

    entity: str
    counts: dict[str, int]
    discrepancies: list[Discrepancy]
    owner_rows: int = 0
    other_rows: int = 0
    matched: int = 0
    pending: int = 0
    unkeyed: int = 0
    truncated: int = 0
    needs_owner_values: list[Discrepancy] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Number of discrepancies of every kind."""
        return sum(self.counts.values())

    @property
    def clean(self) -> bool:
        """True when nothing differs."""
        return self.total == 0


# --- the diff itself ---------------------------------------------------------------------------------------


def _getter(path: str, columns: Sequence[str] | None) -> Callable[[Any], Any]:
    if columns is not None:
        try:
            return operator.itemgetter(list(columns).index(path))
        except ValueError:
            raise ReconcileError(f"column {path!r} is not in the page's columns {list(columns)}") from None
    if "." not in path:
        return operator.methodcaller("get", path)
    parts = path.split(".")

    def dotted(row: Mapping[str, Any]) -> Any:
        value: Any = row
        for part in parts:
            value = value.get(part) if isinstance(value, Mapping) else None
        return value

    return dotted


def _key_text(key: Any) -> str:
    return "/".join(map(str, key)) if isinstance(key, tuple) else str(key)


class Diff:
    """An incremental, bounded-memory comparison of one Entity: feed all owner pages, then the other's.

    ::

        diff = Diff(spec, now=clock.now())
        for page in owner_pages: diff.add_owner(page)
        for page in other_pages: diff.add_other(page)
        result = diff.finish()

    Rows are mappings, or sequences when ``columns`` names their positions (SQL, CSV).
    ``resolve`` maps each other-side key to the owner key (Bindings); returning ``None`` makes an orphan.
    """

    def __init__(
        self,
        spec: DiffSpec,
        *,
        now: dt.datetime | None = None,
        resolve: Callable[[Any], Any] | None = None,
    ) -> None:
        if not spec.fields:
            raise ReconcileError(f"reconcile {spec.entity}: no fields to compare")
        self.spec = spec
        self._resolve = resolve
        self._digest = spec.uses_digest()
        self._transforms = [transform(f.transform) for f in spec.fields]
        self._key_tf = transform(spec.key_transform)
        self._tolerant = [i for i, f in enumerate(spec.fields) if f.tolerance]
        self._exact = [i for i, f in enumerate(spec.fields) if not f.tolerance]
        self._cutoff = (now - spec.grace) if (now is not None and spec.grace) else None
        self._owner: dict[Any, Any] = {}
        self._seen: dict[Any, str] = {}
        self._seen_keys: set[Any] = set()  # other-side keys whose id is the key itself (no id column)
        self._recent: set[Any] = set()
        self._found: list[Discrepancy] = []
        self._counts: Counter[str] = Counter()
        self._owner_rows = 0
        self._unkeyed = 0
        self._other_rows = 0
        self._matched = 0
        self._phase = "owner"

    # -- column helpers

    def _column(self, rows: Sequence[Any], path: str, columns: Sequence[str] | None, tf: Transform,
                side: str, keys: Sequence[Any] | None = None) -> list[Any]:
        raw = list(map(_getter(path, columns), rows))
        if tf.fast is not None:
            try:
                return list(map(tf.fast, raw))
            except (TypeError, ValueError):
                pass
        if tf.fn is t_identity:
            return raw
        out = []
        for i, value in enumerate(raw):
            try:
                out.append(tf.fn(value))
            except (ValueError, TypeError, ArithmeticError, InvalidOperation) as exc:
                where = f" record {_key_text(keys[i])}" if keys is not None else f" row {i + 1} of the page"
                raise ReconcileError(
                    f"reconcile {self.spec.entity}: {side}{where}: field {path!r} value {value!r} "
                    f"cannot be read as {tf.name} ({exc})") from None
        return out

    def _keys(self, rows: Sequence[Any], paths: Sequence[str], columns: Sequence[str] | None, side: str) -> list[Any]:
        cols = [self._column(rows, p, columns, self._key_tf, side) for p in paths]
        return cols[0] if len(cols) == 1 else list(zip(*cols, strict=True))

    def _signatures(self, rows: Sequence[Any], columns: Sequence[str] | None, side: str,
                    keys: Sequence[Any]) -> list[Any]:
        paths = [f.owner if side == "owner" else f.other for f in self.spec.fields]
        cols = [self._column(rows, p, columns, tf, side, keys) for p, tf in zip(paths, self._transforms, strict=True)]
        if self._digest:
            exact = [cols[i] for i in self._exact]
            hashed = [_digest(t) for t in zip(*exact, strict=True)] if exact else [b""] * len(rows)
            return list(zip(hashed, *(cols[i] for i in self._tolerant), strict=True))
        return cols[0] if len(cols) == 1 else list(zip(*cols, strict=True))

    # -- owner side

    def add_owner(self, rows: Sequence[Any], columns: Sequence[str] | None = None) -> None:
        """Take one page of owner records: keep key -> signature only."""
        if self._phase != "owner":
            raise ReconcileError("reconcile: every owner page must be added before the other System's pages")
        if not rows:
            return
        keys = self._keys(rows, self.spec.key, columns, "owner")
        self._owner_rows += len(rows)
        if None in keys or "" in keys:
            # A record without its key cannot be compared; it is counted, not folded into one "None" record.
            kept = [i for i, k in enumerate(keys) if k is not None and k != ""]
            self._unkeyed += len(keys) - len(kept)
            rows, keys = [rows[i] for i in kept], [keys[i] for i in kept]
            if not rows:
                return
        sigs = self._signatures(rows, columns, "owner", keys)
        owner = self._owner
        before = len(owner)
        owner.update(zip(keys, sigs, strict=True))
        growth = len(owner) - before
        if growth != len(keys):
            # Rare: some key was already there. Dicts keep insertion order and an update in place keeps
            # the old position, so the keys this page added are exactly the last ``growth`` ones.
            added = set(islice(reversed(owner), growth))
            self._owner_duplicates(keys, rows, columns, added)
        if self._cutoff is not None:
            self._note_recent(rows, columns, keys)

    def _owner_duplicates(self, keys: list[Any], rows: Sequence[Any], columns: Sequence[str] | None,
                          added: set[Any]) -> None:
        ids = list(map(_getter(self.spec.owner_id, columns), rows))
        first: dict[Any, str] = {}
        for key, ident in zip(keys, ids, strict=True):
            if key not in added or key in first:
                self._add(Discrepancy(Kind.DUPLICATE, self.spec.entity, _key_text(key), owner_id=str(ident),
                                      side="owner", note="two owner records share this key"))
            first.setdefault(key, str(ident))

    def _note_recent(self, rows: Sequence[Any], columns: Sequence[str] | None, keys: list[Any]) -> None:
        stamps = map(_getter(self.spec.updated, columns), rows)
        cutoff = self._cutoff
        for key, stamp in zip(keys, stamps, strict=True):
            if stamp is not None and _as_time(stamp) > cutoff:  # type: ignore[operator]
                self._recent.add(key)

    # -- other side

    def add_other(self, rows: Sequence[Any], columns: Sequence[str] | None = None) -> None:
        """Take one page of the other System's records and compare them with the owner's signatures."""
        self._phase = "other"
        if not rows:
            return
        keys = self._keys(rows, self.spec.other_key or self.spec.key, columns, "other")
        if self._resolve is not None:
            keys = list(map(self._resolve, keys))
        sigs = self._signatures(rows, columns, "other", keys)
        ids = self._other_ids(rows, columns, keys)
        olds = list(map(self._owner.pop, keys, repeat(_ABSENT)))
        absent = list(map(operator.is_, olds, repeat(_ABSENT)))
        if any(absent):
            first_in_page = {k: i for i, k in reversed(list(enumerate(keys)))}
            for i in compress(range(len(keys)), absent):
                first = first_in_page[keys[i]]
                self._unmatched(keys[i], ids[i], ids[first] if first < i else self._earlier(keys[i]))
        mismatched = 0
        for i in compress(range(len(keys)), map(operator.ne, olds, sigs)):
            if not absent[i]:
                mismatched += self._compare(keys[i], ids[i], olds[i], sigs[i], rows[i], columns)
        # Popping matched keys and remembering them in a second map measured faster than marking them in place.
        if ids is keys:
            self._seen_keys.update(keys)  # a set is about twice as fast to fill as a dict
        else:
            self._seen.update(zip(keys, ids, strict=True))
        self._matched += len(keys) - sum(absent) - mismatched
        self._other_rows += len(rows)

    def _earlier(self, key: Any) -> str | None:
        """The id of an earlier other-side record with this key, if one was seen."""
        earlier = self._seen.get(key)
        return earlier if earlier is not None or key not in self._seen_keys else _key_text(key)

    def _other_ids(self, rows: Sequence[Any], columns: Sequence[str] | None, keys: list[Any]) -> list[str]:
        """The other System's external ids; the key's text where rows carry no id column."""
        if columns is not None and self.spec.other_id not in columns:
            return keys if keys and isinstance(keys[0], str) else [_key_text(k) for k in keys]
        raw = list(map(_getter(self.spec.other_id, columns), rows))
        return [_key_text(k) if i is None else str(i) for i, k in zip(raw, keys, strict=True)]

    def _unmatched(self, key: Any, ident: str, earlier: str | None) -> None:
        if key is None:
            self._add(Discrepancy(Kind.ORPHAN, self.spec.entity, ident, other_ids=(ident,),
                                  note="not bound to any owner record"))
            return
        if earlier is not None:
            self._add(Discrepancy(Kind.DUPLICATE, self.spec.entity, _key_text(key), other_ids=(earlier, ident),
                                  note="two records resolve to one owner record"))
        else:
            self._add(Discrepancy(Kind.ORPHAN, self.spec.entity, _key_text(key), other_ids=(ident,),
                                  note="no owner record with this key"))

    def _compare(self, key: Any, ident: str, old: Any, new: Any, row: Any, columns: Sequence[str] | None) -> bool:
        spec = self.spec
        if self._digest:
            diffs = self._field_diffs(self._tolerant, old[1:], new[1:])
            if old[0] == new[0] and not diffs:
                return False
            if old[0] != new[0]:
                # Only a hash of the owner's exact fields is kept: record the other's values now; the caller
                # reads the owner's record afterwards (see ``needs_owner_values``) and keeps the differing fields.
                diffs = [FieldDiff(f.name, None, tf.fn(_getter(f.other, columns)(row)))
                         for f, tf in zip(spec.fields, self._transforms, strict=True)]
            self._add(Discrepancy(Kind.MISMATCH, spec.entity, _key_text(key), other_ids=(ident,),
                                  fields=tuple(diffs), note="owner values to be fetched" if old[0] != new[0] else ""))
            return True
        olds = old if len(spec.fields) > 1 else (old,)
        news = new if len(spec.fields) > 1 else (new,)
        diffs = self._field_diffs(range(len(spec.fields)), olds, news)
        if diffs:
            self._add(Discrepancy(Kind.MISMATCH, spec.entity, _key_text(key), other_ids=(ident,), fields=tuple(diffs)))
        return bool(diffs)

    def _field_diffs(self, indexes: Iterable[int], olds: Sequence[Any], news: Sequence[Any]) -> list[FieldDiff]:
        out = []
        for i, a, b in zip(indexes, olds, news, strict=False):
            rule = self.spec.fields[i]
            if a == b:
                continue
            if rule.tolerance and within_tolerance(a, b, rule.tolerance):
                continue
            out.append(FieldDiff(rule.name, a, b))
        return out

    # -- end

    def _add(self, d: Discrepancy) -> None:
        self._counts[str(d.kind)] += 1
        if len(self._found) < self.spec.max_details:
            self._found.append(d)

    def finish(self) -> DiffResult:
        """Report the owner records never seen on the other side, and return the result worst first."""
        pending = 0
        for key in self._owner:
            if key in self._recent:
                pending += 1
                continue
            self._add(Discrepancy(Kind.MISSING, self.spec.entity, _key_text(key),
                                  owner_id=_key_text(key) if self.spec.key == (self.spec.owner_id,) else None,
                                  note="in the owner, not in the other system"))
        self._owner.clear()
        self._seen.clear()
        self._seen_keys.clear()
        self._found.sort(key=Discrepancy.sort_key)
        counts = {str(k): self._counts.get(str(k), 0) for k in Kind}
        total = sum(counts.values())
        pending_values = [d for d in self._found if d.note == "owner values to be fetched"]
        return DiffResult(self.spec.entity, counts, self._found, owner_rows=self._owner_rows,
                          other_rows=self._other_rows, matched=self._matched, pending=pending, unkeyed=self._unkeyed,
                          truncated=max(0, total - len(self._found)), needs_owner_values=pending_values)


def _digest(values: tuple[Any, ...]) -> bytes:
    return hashlib.blake2b(repr(values).encode(), digest_size=8).digest()


def within_tolerance(a: Any, b: Any, tolerance: Decimal | float | int) -> bool:
    """Whether two numbers differ by at most ``tolerance`` (exactly, in decimal); non-numbers never are."""
    try:
        return abs(Decimal(str(a)) - Decimal(str(b))) <= Decimal(str(tolerance))
    except (InvalidOperation, TypeError, ValueError):
        return False


def _as_time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def diff_pages(spec: DiffSpec, owner_pages: Iterable[Sequence[Any]], other_pages: Iterable[Sequence[Any]], *,
               columns: tuple[Sequence[str] | None, Sequence[str] | None] = (None, None),
               now: dt.datetime | None = None, resolve: Callable[[Any], Any] | None = None) -> DiffResult:
    """Diff two sides given as iterables of pages (each a list of rows); the synchronous convenience form."""
    diff = Diff(spec, now=now, resolve=resolve)
    for page in owner_pages:
        diff.add_owner(page, columns[0])
    for page in other_pages:
        diff.add_other(page, columns[1])
    return diff.finish()
