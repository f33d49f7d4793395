"""Shared plumbing of the projection queries: cursors, positions, id prefixes, signers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Final, Literal, Protocol, TypeVar, cast

import duckdb
import msgspec

from ledger.errors import UsageError
from ledger.projections.views import Signed
from ledger.snapshot import format_time, parse_time

Kind = Literal["claim", "source", "event", "key"]
S = TypeVar("S", bound=msgspec.Struct)
T = TypeVar("T")


class Cursors(Protocol):
    """A Projection or a DuckDB connection: anything that hands out cursors."""

    def cursor(self) -> duckdb.DuckDBPyConnection: ...


Cur = duckdb.DuckDBPyConnection
AS_OF: Final = "seq_from <= $n AND (seq_to IS NULL OR seq_to > $n)"
_IDS: Final[dict[str, tuple[str, str]]] = {
    "claim": ("claims", "claim_id"),
    "source": ("sources", "source_id"),
    "event": ("events", "id"),
    "key": ("keys", "fingerprint"),
}
_SEQ: Final = re.compile(r"[0-9]{1,18}")
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LIKE_TIME: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")
"""A date and then a time: :func:`ledger.snapshot.parse_time` says whether it is one."""
AS_OF_HINT: Final = (
    "give a number (0 is the first entry), a date (2024-04-02) or a time with its zone "
    "(2024-04-02T09:15:00Z)"
)
SIGNED: Final = (
    'SELECT e.id, e.seq, e.kind, e.author, k.name, e."at" FROM events AS e '
    "LEFT JOIN keys_now AS k ON k.fingerprint = e.author "
)


def fetch_one(cur: Cur, sql: str, params: object = None) -> tuple[Any, ...] | None:
    return cur.execute(sql, params).fetchone()


def fetch_all(cur: Cur, sql: str, params: object = None) -> list[tuple[Any, ...]]:
    return cur.execute(sql, params).fetchall()


def build(cls: type[S], row: Iterable[Any], **extra: Any) -> S:
    """A result Struct from a row whose columns are in the Struct's field order."""
    return cls(**dict(zip(cls.__struct_fields__, row, strict=False)), **extra)


# --- positions and ids ---------------------------------------------------------


def size(src: Cursors) -> int:
    """Entries projected (the log's complete lines)."""
    with src.cursor() as cur:
        row = fetch_one(cur, "SELECT tree_size FROM meta")
    return int(row[0]) if row else 0


def last_seq(cur: Cur) -> int:
    row = fetch_one(cur, "SELECT tree_size FROM meta")
    return (int(row[0]) if row else 0) - 1


def cached(src: Cursors, key: str, load: Callable[[], T]) -> T:
    """``load()``, kept by a Projection until its next refresh (a bare connection keeps none)."""
    memo = getattr(src, "memo", None)
    return load() if memo is None else cast(T, memo(key, load))


def head(src: Cursors, cur: Cur) -> int:
    """The last position (-1 for no entries)."""
    return cached(src, "head", lambda: last_seq(cur))


def key_names(src: Cursors, cur: Cur) -> dict[str, str | None]:
    """Fingerprint to the key's current name (what ``keys_now`` says)."""
    return cached(
        src, "keys", lambda: dict(fetch_all(cur, "SELECT fingerprint, name FROM keys_now"))
    )


def scale_values(src: Cursors, cur: Cur) -> dict[str, int | None]:
    """Rating name to its value on the scale (the first step of that name)."""

    def load() -> dict[str, int | None]:
        rows = fetch_all(cur, "SELECT name, value FROM scale ORDER BY position DESC")
        return dict(rows)  # later steps first: the first one of a name wins

    return cached(src, "scale", load)


def rows_of(cur: Cur, sql: str, params: object = None) -> list[dict[str, Any]]:
    """The rows as dicts of column name to value."""
    cur.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def at_position(cur: Cur, as_of: int | str | None, head: int | None = None) -> int:
    """The checked position for ``as_of``; ``head`` is the last seq when already read."""
    if head is None:
        head = last_seq(cur)
    if head < 0:
        raise UsageError("the ledger has no entries")
    if as_of is None:
        return head
    if isinstance(as_of, str):
        text = as_of.strip()
        if not text:  # not position 0, which "".lstrip("0") or "0" would make it
            raise UsageError(
                "the position is empty",
                hint=AS_OF_HINT,
            )
        digits = (text.lstrip("0") or "0") if text.isascii() else text
        if _SEQ.fullmatch(digits):  # ASCII digits: str.isdigit also takes "²" and "٣"
            as_of = int(digits)
        elif text.isascii() and text.isdigit():
            shown = text if len(text) <= 20 else f"{text[:20]}…"
            raise UsageError(f"position {shown} is outside the log (0 to {head})")
        elif _DATE.fullmatch(text):
            return _seq_at(cur, _end_of_day(text), head, text)
        elif _LIKE_TIME.match(text):
            return _seq_at(cur, _utc_bound(text), head, text)
        else:
            raise UsageError(f"{as_of!r} is neither a sequence number nor a date", hint=AS_OF_HINT)
    if not 0 <= as_of <= head:
        raise UsageError(f"position {as_of} is outside the log (0 to {head})")
    return as_of


def _utc_bound(text: str) -> str:
    """A typed time as the ``at`` it bounds: UTC, whole seconds (a fraction is dropped:
    every ``at`` is whole seconds, so 10:00:00.5 bounds what 10:00:00 does)."""
    try:
        return format_time(parse_time(text))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _end_of_day(date: str) -> str:
    """The last ``at`` of a UTC day ``YYYY-MM-DD``."""
    try:
        datetime.strptime(date, "%Y-%m-%d")
    except ValueError:
        raise UsageError(f"{date!r} is not a real date", hint=AS_OF_HINT) from None
    return f"{date}T23:59:59Z"


def _seq_at(cur: Cur, bound: str, head: int, typed: str) -> int:
    """The position as of ``bound``, an ``at`` (UTC, whole seconds) the user typed as ``typed``."""
    # The longest prefix of the log stated at or before the bound: an entry backdated
    # after later ones must not make every date after its own mean "now".
    row = fetch_one(cur, 'SELECT min(seq) FROM events WHERE "at" > $1', [bound])
    if row is None or row[0] is None:
        return head
    if int(row[0]) == 0:
        first = fetch_one(cur, 'SELECT "at" FROM events WHERE seq = 0', [])
        raise UsageError(
            f"the log is empty as of {typed}: its first entry (#0) is stated at "
            f"{first[0] if first else 'a later time'}, and a date reads the log up to the "
            "first entry stated after it",
            hint="an entry backdated with --at is seen from its position in the log on: "
            "give that position (--as-of N; 'factledger log' lists them)",
        )
    return int(row[0]) - 1


def position(src: Cursors, as_of: int | str | None = None) -> int:
    """The log position for ``as_of``: a sequence number, a date or a time (None: latest).

    A date means the end of that UTC day; the position is the end of the longest
    prefix of the log whose author-stated times are all at or before it (times may
    go back: a backdated entry does not pull a later date to the end of the log).
    """
    with src.cursor() as cur:
        return at_position(cur, as_of)


def resolve(src: Cursors, prefix: str, kind: Kind = "claim") -> str:
    """The one id of ``kind`` that starts with ``prefix``, as git resolves short hashes."""
    table, column = _IDS[kind]
    text = prefix.strip()
    if not text:
        raise UsageError(f"give a {kind} id (any unique prefix)")
    with src.cursor() as cur:
        rows = fetch_all(
            cur,
            f"SELECT DISTINCT {column} FROM {table} WHERE starts_with({column}, $1) "
            f"ORDER BY 1 LIMIT 4",
            [text],
        )
    if text in (r[0] for r in rows):
        return text
    if not rows:
        raise UsageError(
            f"no {kind} matches {text!r}", hint="check the id, or list them with 'factledger query'"
        )
    if len(rows) > 1:
        shown = ", ".join(r[0] for r in rows[:3]) + (", ..." if len(rows) > 3 else "")
        raise UsageError(f"{text!r} is ambiguous: {shown}", hint="type more characters")
    return str(rows[0][0])


# --- signed events ---------------------------------------------------------------


def signers(cur: Cur, seqs: Iterable[int | None]) -> dict[int, Signed]:
    wanted = sorted({s for s in seqs if s is not None})
    if not wanted:
        return {}
    rows = fetch_all(cur, SIGNED + "WHERE e.seq IN (SELECT unnest($1::BIGINT[]))", [wanted])
    return {r[1]: build(Signed, r) for r in rows}


def body_fields(body: str | None) -> dict[str, Any]:
    """A projected body as a dict, without its salt."""
    data: dict[str, Any] = msgspec.json.decode(body) if body else {}
    data.pop("salt", None)
    return data
