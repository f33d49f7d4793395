"""The folded rule state, kept in ``.cache/state.sqlite`` so an append reads what it needs.

Folding the whole log before every append makes a write O(log size): about 20 s on
a million entries. This cache stores the state the rules need (stream heads,
claims, sources, the event index, keys) after the first ``size`` entries, with
the byte offset where they end and the hash of the last of them. Opening it
checks the log still holds that line at that offset; then only the entries
appended since are folded, and an append reads just the rows it touches.

It is a cache: rebuildable, git-ignored, and never trusted by ``verify``, which
always folds the whole log. Anything unexpected (a missing, corrupt, foreign or
stale file; a log rewritten by a redaction or by hand) means a full fold and a
rebuilt cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import sqlite3
import sys
from collections.abc import Callable, Iterator, MutableMapping, MutableSet
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

import msgspec

from ledger import merkle, rules
from ledger.voids import VoidRange

SCHEMA_VERSION: Final = 8
FILE_NAME: Final = "state.sqlite"

V = TypeVar("V")
_MISSING: Final = object()
"""Known not to be in the table."""
_ABSENT: Final = object()
"""Not read yet."""

_TABLES: Final = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS heads (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS last_at (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS claims (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sources (k TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS redacted (k TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
"""
"""A row is a key and, but in the two sets, a value: a string as itself, a state as JSON."""


class Tail(msgspec.Struct, frozen=True):
    """Where the cached fold ends in the log, and what it must find there."""

    size: int
    end_offset: int
    last_line_sha256: str
    last_line_length: int
    edge: list[str]


class Meta(msgspec.Struct, frozen=True):
    version: int
    events_file: str
    origin: str | None
    trust_root: str | None
    owner: str | None
    scale: list[str]
    keys: dict[str, rules.KeyState]
    unexplained_redactions: dict[str, int]
    unerased: dict[str, int]
    void: list[VoidRange]
    tainted: list[str]
    tail: Tail


class KeyFilter:
    """The keys written to a table that began empty: a Bloom filter of 1 MiB, two probes.

    ``key not in`` it is certain, and spares a spilled fold the SQLite lookup of each
    new subject it meets (a new claim is looked up as a head, a time and a state),
    which were nearly all of its lookups: 0.9 a line at 1,000,000 lines. ``in`` is
    wrong for about one absent key in 250 at 280,000 keys (the new subjects of a
    1,000,000-entry log), one in 22 at a million: the lookup then answers. ``hash`` is
    salted per process, and so is the filter: it is never stored.
    """

    _MASK: Final = (1 << 23) - 1

    def __init__(self) -> None:
        self._bits = bytearray(1 << 20)

    def add(self, key: str) -> None:
        h = hash(key)
        a, b = h & self._MASK, (h >> 23) & self._MASK
        bits = self._bits
        bits[a >> 3] |= 1 << (a & 7)
        bits[b >> 3] |= 1 << (b & 7)

    def __contains__(self, key: str) -> bool:
        h = hash(key)
        a, b = h & self._MASK, (h >> 23) & self._MASK
        bits = self._bits
        return bool(bits[a >> 3] & (1 << (a & 7))) and bool(bits[b >> 3] & (1 << (b & 7)))


class SqlMap(MutableMapping[str, V], Generic[V]):
    """A table read on demand, with writes kept until :meth:`flush`."""

    def __init__(
        self,
        con: sqlite3.Connection,
        table: str,
        load: Callable[[Any], V],
        *,
        json: bool,
        mutable: bool = False,
        keys_only: bool = False,
        spill_at: int | None = None,
        fresh: bool = False,
    ) -> None:
        """``load`` makes a value of the stored column ``v``.

        ``json``: the connection has ``json_each`` (:func:`has_json_each`), which
        :func:`put` writes with. ``mutable``: values are changed in place, so every
        value read is written back. ``keys_only``: a set's table, with no ``v``.
        ``spill_at``: keep at most about this many rows in memory; beyond it, write
        them back and forget the older half (memory stays flat while a log is folded).
        ``fresh``: the table is empty and only this map writes it, so a key it never
        wrote is known absent without a lookup (:class:`KeyFilter`).
        """
        self._con, self._table, self._load = con, table, load
        self._json, self._mutable, self._keys_only = json, mutable, keys_only
        self._limit = spill_at if spill_at is not None else sys.maxsize
        # A table folded in flat memory (verify) writes in small documents, or they would
        # raise its peak: 4,096 rows keep it where binding rows one by one kept it.
        self._chunk = PUT_CHUNK if spill_at is None else max(1024, spill_at // 16)
        self._select = f"SELECT {'1' if keys_only else 'v'} FROM {table} WHERE k = ?"
        self._seen: dict[str, Any] = {}
        self._dirty: set[str] = set()
        self._fresh = fresh
        self._written: KeyFilter | None = None
        """Made at the first write to the table, so a table never written costs nothing."""

    # get and __contains__ are the fold's hot path: no KeyError round trips.
    def get(self, key: str, default: Any = None) -> Any:
        value = self._seen.get(key, _ABSENT)
        if value is _ABSENT:
            value = self._fetch(key)
        return default if value is _MISSING else value

    def __contains__(self, key: object) -> bool:
        value = self._seen.get(key, _ABSENT)  # type: ignore[call-overload]
        if value is _ABSENT:
            value = self._fetch(str(key))
        return value is not _MISSING

    def __getitem__(self, key: str) -> V:
        value = self._seen.get(key, _ABSENT)
        if value is _ABSENT:
            value = self._fetch(key)
        if value is _MISSING:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def _fetch(self, key: str) -> Any:
        if self._fresh and (self._written is None or key not in self._written):
            value = _MISSING
        else:
            row = self._con.execute(self._select, (key,)).fetchone()
            value = _MISSING if row is None else self._load(row[0])
        self._seen[key] = value
        if len(self._seen) > self._limit:
            self._spill()
        return value

    def __setitem__(self, key: str, value: V) -> None:
        self._seen[key] = value
        self._dirty.add(key)
        if len(self._seen) > self._limit:
            self._spill()

    @property
    def resident(self) -> int:
        """Rows (and known absences) held in memory."""
        return len(self._seen)

    def _spill(self) -> None:
        self.flush()
        seen = self._seen
        for key in list(itertools.islice(seen, len(seen) // 2)):
            del seen[key]

    def __delitem__(self, key: str) -> None:
        self[key]
        self._seen[key] = _MISSING
        self._dirty.add(key)

    def __iter__(self) -> Iterator[str]:
        stored = (row[0] for row in self._con.execute(f"SELECT k FROM {self._table}"))
        fresh = [k for k in self._dirty if self._seen.get(k, _MISSING) is not _MISSING]
        seen = set(fresh)
        yield from fresh
        for key in stored:
            if key not in seen and self._seen.get(key) is not _MISSING:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def with_prefix(self, prefix: str, limit: int = 9) -> list[str]:
        """Keys starting with ``prefix`` (at most ``limit``), by an index range scan."""
        rows = self._con.execute(
            f"SELECT k FROM {self._table} WHERE k >= ? AND k < ? LIMIT ?",
            (prefix, prefix + "\U0010ffff", limit),
        )
        found = [row[0] for row in rows if self._seen.get(row[0]) is not _MISSING]
        found += [k for k in self._dirty if k.startswith(prefix) and k not in found]
        return [k for k in found if self._seen.get(k, None) is not _MISSING][:limit]

    def flush(self) -> None:
        keys = set(self._seen) if self._mutable else self._dirty
        gone, rows = [], {}
        for key in keys:
            value = self._seen.get(key, _MISSING)
            if value is _MISSING:
                if key in self._dirty:
                    gone.append((key,))
            else:
                rows[key] = value
        if self._fresh and rows:
            written = self._written = self._written or KeyFilter()
            for key in rows:
                written.add(key)
        self._con.executemany(f"DELETE FROM {self._table} WHERE k = ?", gone)
        put(
            self._con,
            self._table,
            rows,
            json=self._json,
            keys_only=self._keys_only,
            chunk=self._chunk,
        )
        self._dirty.clear()


class SqlSet(MutableSet[str]):
    """A one-column table as a set, with writes kept until :meth:`flush`."""

    def __init__(
        self,
        con: sqlite3.Connection,
        table: str,
        *,
        json: bool,
        spill_at: int | None = None,
        fresh: bool = False,
    ) -> None:
        self._map: SqlMap[bool] = SqlMap(
            con, table, _present, json=json, keys_only=True, spill_at=spill_at, fresh=fresh
        )

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._map

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def add(self, value: str) -> None:
        self._map[value] = True

    def discard(self, value: str) -> None:
        with contextlib.suppress(KeyError):
            del self._map[value]

    def with_prefix(self, prefix: str, limit: int = 9) -> list[str]:
        return self._map.with_prefix(prefix, limit)

    def flush(self) -> None:
        self._map.flush()


def _present(column: object) -> bool:
    return True


_ENCODE = msgspec.msgpack.Encoder()
_META = msgspec.msgpack.Decoder(Meta)
_JSON = msgspec.json.Encoder()
_JSON_SORTED = msgspec.json.Encoder(order="sorted")
_CLAIM = msgspec.json.Decoder(rules.ClaimState)
_EVENT = msgspec.json.Decoder(rules.EventInfo)
_NUL: Final = b"\\u0000"
"""A NUL as JSON escapes it: ``json_each`` would cut the string there."""

PUT_CHUNK: Final = 1 << 17
"""Most rows in one ``json_each`` document.

One document is fastest: its keys are sorted as it is encoded. A larger table is
sorted first and sent in parts, which costs a third more. While SQLite reads a
document, the process holds about five times its size: at this many rows, up to
about 120 MiB for the events (a row of 170 bytes), against about 45 MiB when the
rows were bound one by one; it stays there however large the table.
"""


def has_json_each(con: sqlite3.Connection) -> bool:
    """Whether this SQLite has ``json_each`` (built in since 3.38; often earlier)."""
    try:
        con.execute("SELECT key FROM json_each('{}')").fetchall()
    except sqlite3.OperationalError:
        return False
    return True


def put(
    con: sqlite3.Connection,
    table: str,
    rows: dict[str, Any],
    *,
    json: bool,
    keys_only: bool = False,
    chunk: int = PUT_CHUNK,
) -> None:
    """Insert or replace ``rows`` (key to value) in ``table``, in key order.

    Rows go in as JSON documents that ``json_each`` takes apart inside SQLite, in
    about half the time of binding a statement a row, which was most of a large
    save. A string value is stored as itself, any other as its JSON, the same
    either way; without ``json_each``, or for a document with a NUL in it, the
    rows are bound one by one instead.
    """
    if not rows:
        return
    into = f"INSERT OR REPLACE INTO {table} SELECT key{'' if keys_only else ', value'} "
    into += "FROM json_each(?)"  # in the document's order, which is the keys' (a sort
    # in SQL would cost a third of the insert: the order only makes it faster)
    if len(rows) <= chunk:
        parts: Iterator[dict[str, Any]] = iter((rows,))
        encode = _JSON_SORTED.encode
    else:
        ordered = sorted(rows)
        parts = ({k: rows[k] for k in ordered[i : i + chunk]} for i in range(0, len(rows), chunk))
        encode = _JSON.encode
    for part in parts:
        doc = encode(part)
        if json and _NUL not in doc:
            # As text: a newer SQLite reads a BLOB argument as its binary JSONB.
            text, doc = doc.decode(), b""
            con.execute(into, (text,))
            del text
        elif keys_only:
            con.executemany(
                f"INSERT OR REPLACE INTO {table} VALUES (?)", [(k,) for k in sorted(part)]
            )
        else:
            con.executemany(
                f"INSERT OR REPLACE INTO {table} VALUES (?, ?)",
                [(k, _column(part[k])) for k in sorted(part)],
            )


def _column(value: object) -> str:
    return value if isinstance(value, str) else _JSON.encode(value).decode()


class Store:
    """An open ``state.sqlite``: the state it holds and where it ends."""

    def __init__(self, con: sqlite3.Connection, state: rules.LedgerState, tail: Tail) -> None:
        self.con, self.state, self.tail = con, state, tail

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            if self.con.in_transaction:
                self.con.execute("ROLLBACK")
        self.con.close()


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None, timeout=10)
    # A new file only (a page size is fixed once the file has tables). The whole save of
    # a large state, a row per event and stream in key order, is shorter in 16 KiB pages
    # than in the default 4 KiB (a tenth, for 100,000 entries), and a lookup still reads
    # one page a level.
    con.execute("PRAGMA page_size = 16384")
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.executescript(_TABLES)
    return con


def line_digest(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def open_store(
    cache_dir: Path, events_file: str, read_tail: Callable[[int, int], bytes]
) -> Store | None:
    """The cached state if it is usable for this log, else None.

    ``read_tail(offset, length)`` returns the log's bytes there (b"" past its end).
    """
    path = cache_dir / FILE_NAME
    if not path.is_file():
        return None
    try:
        con = _connect(path)
        # One read transaction for the store's life: every table is read as of the same
        # commit, even while a writer commits a newer state (WAL keeps both).
        con.execute("BEGIN")
        row = con.execute("SELECT v FROM meta WHERE k = 'meta'").fetchone()
        meta = _META.decode(row[0]) if row else None
    except (sqlite3.Error, msgspec.DecodeError, msgspec.ValidationError):
        return None
    if meta is None or meta.version != SCHEMA_VERSION or meta.events_file != events_file:
        con.close()
        return None
    tail = meta.tail
    start = tail.end_offset - tail.last_line_length - 1
    found = read_tail(start, tail.last_line_length + 1)
    if (
        len(found) != tail.last_line_length + 1
        or not found.endswith(b"\n")
        or (line_digest(found[:-1]) != tail.last_line_sha256)
    ):
        con.close()
        return None
    state = _state_on(
        con,
        None,
        origin=meta.origin,
        trust_root=meta.trust_root,
        owner=meta.owner,
        scale=frozenset(meta.scale),
        size=tail.size,
        keys=dict(meta.keys),
        unexplained_redactions=dict(meta.unexplained_redactions),
        unerased=dict(meta.unerased),
        void=list(meta.void),
        tainted=set(meta.tainted),
    )
    return Store(con, state, tail)


def _state_on(
    con: sqlite3.Connection, spill_at: int | None, *, fresh: bool = False, **small: Any
) -> rules.LedgerState:
    """A state whose large parts are the tables of ``con`` (``fresh``: empty, and ours)."""
    json = has_json_each(con)
    kw: dict[str, Any] = {"json": json, "spill_at": spill_at}
    # The subjects' tables: the fold looks each new subject up in them. It looks up
    # events and redactions only by ids the log names, nearly always there.
    subjects: dict[str, Any] = {**kw, "fresh": fresh}
    return rules.LedgerState(
        heads=SqlMap(con, "heads", str, **subjects),
        last_at=SqlMap(con, "last_at", str, **subjects),
        claims=SqlMap(con, "claims", _CLAIM.decode, mutable=True, **subjects),
        sources=SqlSet(con, "sources", **subjects),
        events=SqlMap(con, "events", _EVENT.decode, **kw),
        redacted=SqlSet(con, "redacted", **kw),
        **small,
    )


@contextlib.contextmanager
def scratch_path(wanted: bool = True) -> Iterator[Path | None]:
    """A path for :func:`scratch_state` in a private temporary directory, removed after.

    None when not ``wanted``, or when there is no scratch space (fold in memory then).
    """
    if not wanted:
        yield None
        return
    import tempfile  # only verify needs it: not at every command's start-up

    try:
        directory = tempfile.TemporaryDirectory(prefix="factledger-state-")
    except OSError:
        yield None
        return
    with directory as name:
        yield Path(name) / FILE_NAME


SPILL_AT: Final = 1 << 16
"""Rows per table a scratch state keeps in memory (see :func:`scratch_state`)."""


def scratch_state(
    path: Path, *, origin: str | None, trust_root: str | None, spill_at: int | None = None
) -> tuple[rules.LedgerState, sqlite3.Connection]:
    """An empty state whose large parts spill to a new sqlite file at ``path``.

    For folding a whole log in flat memory (``verify``): each table keeps at most
    about ``spill_at`` rows in memory and the rest on disk. The file is scratch —
    no journal, no fsync, one uncommitted transaction; the caller deletes it.
    """
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA cache_size = -32768")
    con.executescript(_TABLES)
    con.execute("BEGIN")
    state = _state_on(con, spill_at or SPILL_AT, fresh=True, origin=origin, trust_root=trust_root)
    return state, con


def edge_of(tail: Tail) -> merkle.RightEdge:
    return merkle.RightEdge(tail.size, tuple(bytes.fromhex(h) for h in tail.edge))


def save(
    cache_dir: Path,
    events_file: str,
    state: rules.LedgerState,
    tail: Tail,
    store: Store | None,
) -> None:
    """Write the state after ``tail.size`` entries: incrementally into ``store``, else anew."""
    try:
        if store is not None:
            con = store.con
            if con.in_transaction:
                con.execute("COMMIT")  # end the read transaction: the writer holds the lock
            con.execute("BEGIN IMMEDIATE")
            for part in (
                state.heads,
                state.last_at,
                state.claims,
                state.sources,
                state.events,
                state.redacted,
            ):
                if isinstance(part, SqlMap | SqlSet):
                    part.flush()
        else:
            cache_dir.mkdir(parents=True, exist_ok=True)
            path = cache_dir / FILE_NAME
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            con = _connect(path)
            con.execute("BEGIN IMMEDIATE")
            _bulk(con, state)
        meta = Meta(
            SCHEMA_VERSION,
            events_file,
            state.origin,
            state.trust_root,
            state.owner,
            sorted(state.scale),
            dict(state.keys),
            dict(state.unexplained_redactions),
            dict(state.unerased),
            list(state.void),
            sorted(state.tainted),
            tail,
        )
        con.execute("INSERT OR REPLACE INTO meta VALUES ('meta', ?)", (_ENCODE.encode(meta),))
        con.execute("COMMIT")
        if store is None:
            con.close()
    except (sqlite3.Error, OSError):
        # A cache that cannot be written is only slower next time.
        with contextlib.suppress(sqlite3.Error, OSError, UnboundLocalError):
            con.execute("ROLLBACK")


def _bulk(con: sqlite3.Connection, state: rules.LedgerState) -> None:
    # Rows go in in key order (see put): inserting into a B-tree in order is about twice
    # as fast.
    json = has_json_each(con)
    for table, part in (
        ("heads", state.heads),
        ("last_at", state.last_at),
        ("claims", state.claims),
        ("events", state.events),
    ):
        put(con, table, part if isinstance(part, dict) else dict(part.items()), json=json)
    for table, members in (("sources", state.sources), ("redacted", state.redacted)):
        put(con, table, dict.fromkeys(members, True), json=json, keys_only=True)


def invalidate(cache_dir: Path) -> None:
    """Forget the cached state (after a rewrite of earlier lines, i.e. a redaction)."""
    for name in (FILE_NAME, FILE_NAME + "-wal", FILE_NAME + "-shm"):
        with contextlib.suppress(FileNotFoundError):
            (cache_dir / name).unlink()
