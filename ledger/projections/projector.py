"""Build and catch up the DuckDB projections of a ledger's log (DESIGN §9).

The log is the only source of truth; the projection is a disposable cache in
``<ledger>/.cache/projections.duckdb`` that is never trusted for verification.

- **Rebuild** is a bulk load. DuckDB reads the JSONL file itself (``read_csv`` of
  whole lines, then ``json_transform``) while, in parallel, Python decodes every
  line strictly with :func:`ledger.codec.decode_entry` and computes its id with
  :func:`ledger.entry.event_id`; the ids and offsets go to DuckDB as a few
  column batches, and the line lengths DuckDB read are checked against the
  offsets Python saw. A log that does not decode is never projected.
- **Catch-up** applies only the entries after the applied prefix, through the
  same SQL (``apply.sql``), after checking that the prefix is unchanged: the
  file is at least as long, the last applied entry is still at its offset with
  its id, and (by default) the digest of the prefix bytes is the one stored: the
  BLAKE3 of the BLAKE3s of its 8 MiB pieces, hashed on every core.
  Anything else (an edited, truncated, redacted or replaced log) rebuilds.
- ``meta`` records the tree size, Merkle root, byte offset and file digest in the
  same transaction as the rows, so a crash never leaves rows and position apart.

A missing, stale or corrupt cache is rebuilt without being asked; a read-only
ledger directory, or a cache locked by another process, falls back to an
in-memory database.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final, Literal, TypeVar, cast

import duckdb
from blake3 import blake3

from ledger import merkle
from ledger.codec import decode_entry
from ledger.entry import event_id
from ledger.errors import LedgerError, StorageError
from ledger.ledger import Ledger
from ledger.projections import _scan
from ledger.projections._loader import (
    CACHE_NAME,
    Held,
    Reapply,
    connect,
    first_line,
    is_damage,
    is_write_failure,
    mark_held,
    open_file,
    quiet_connect,
    stage_checked,
    stage_file,
    stage_lines,
    stat_file,
    unmark_held,
)
from ledger.projections._scan import Pieces, Scan, Tell, read_range

SCHEMA_VERSION: Final = 5
T = TypeVar("T")
_TABLES: Final = (
    "meta",
    "events",
    "scale",
    "claims",
    "attributions",
    "sources",
    "verdicts",
    "keys",
    "claim_order",
    "claim_list",
    "claim_states",
)
_INDEXES: Final = (
    ("events", "seq"),
    ("claims", "claim_id"),
    ("attributions", "claim_id"),
    ("sources", "source_id"),
    ("claim_states", "claim_id"),
)
"""ART indexes, made after the bulk load: the point lookups of one claim or entry."""


def _sql(name: str) -> str:
    return resources.files("ledger.projections").joinpath(name).read_text(encoding="utf-8")


def schema_sql() -> str:
    """The projections' tables, views and macros: their SQL, with what each column means."""
    return _sql("schema.sql")


STEP_KINDS: Final[dict[str, frozenset[str]]] = {
    "claims": frozenset(
        {"claim.asserted", "claim.corrected", "claim.status", "verdict.issued", "verdict.voided"}
    ),
    "attributions": frozenset({"source.attributed", "attribution.withdrawn"}),
    "sources": frozenset({"source.registered", "source.regraded"}),
    "verdicts": frozenset({"verdict.issued", "verdict.voided"}),
    "keys": frozenset({"ledger.created", "key.granted", "key.revoked"}),
    "redactions": frozenset({"entry.redacted"}),
    "scale": frozenset({"ledger.created"}),
}
"""The kinds whose entries each group of steps in ``apply.sql`` reads (``events`` and
``claim_list`` read every entry)."""
_EVERY_ENTRY: Final = frozenset({"events", "claim_list"})
_NEEDS_IDS: Final = frozenset({"redactions", "ids"})
"""Groups that read the events' ids: a rebuild that lets DuckDB read the file runs
them last, once the ids Python computed are set (``ids`` runs then only)."""
_STAGING: Final = (
    "claim_steps",
    "claim_order_steps",
    "attribution_steps",
    "source_steps",
    "verdict_steps",
    "key_steps",
    "claim_touched",
    "claim_links",
    "claim_list_steps",
)


def _steps() -> list[tuple[str, str]]:
    """``apply.sql`` split at its ``-- step: <group>, ...`` markers: (group, SQL)."""
    out = []
    for part in _sql("apply.sql").split("\n-- step: ")[1:]:
        title, sql = part.split("\n", 1)
        out.append((title.split(",")[0].split(" ")[0], sql))
    return out


@dataclass(frozen=True)
class Refresh:
    """What :meth:`Projection.refresh` did."""

    action: Literal["unchanged", "caught-up", "rebuilt"]
    applied: int
    """Entries applied by this refresh."""
    size: int
    """Entries in the projection now (the log's complete lines)."""
    reason: str | None = None
    """Why a rebuild was needed."""
    rewritten: bool = False
    """The rebuild was needed because the log changed other than by appending (lines
    projected before were cut, replaced or edited): what was read from it is gone."""


@dataclass(frozen=True)
class _Meta:
    schema_version: int
    tree_size: int
    root: str
    byte_offset: int
    last_id: str | None
    last_offset: int | None
    prefix_digest: str
    pieces: list[str]
    edge: list[str]
    file_stat: list[int]


class Projection:
    """The projections of one ledger: a DuckDB connection kept caught up with its log.

    Use :meth:`cursor` for each query (one per thread); :meth:`refresh` to catch up.
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, events_path: Path, path: Path | None, note: str | None
    ) -> None:
        self._con = con
        self.events_path = events_path
        self.path = path
        """The cache file, or ``None`` for an in-memory projection."""
        self.note = note
        """Why the projection is in memory, when it is."""
        self.read_only = False
        self._lock = threading.Lock()
        self._memo: dict[str, tuple[int, object]] = {}
        self._memo_lock = threading.Lock()
        self._generation = 0
        self._marked: Path | None = None
        """The cache file this process said it holds for long (:func:`mark_held`)."""
        self.on_build: Tell | None = None
        """Told how far a rebuild's or catch-up's pass over the log is, and ``(end, end)``
        when DuckDB is left to write the tables (a rebuild of a million entries takes
        about 30 s); nothing is told of a short pass."""

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor: give each thread and each query its own."""
        return self._con.cursor()

    def close(self) -> None:
        # The marker goes first: once the file is let go of, another terminal UI may
        # open it and write its own, which this one must not remove.
        self._unmark()
        self._con.close()

    def _unmark(self) -> None:
        if self._marked is not None:
            unmark_held(self._marked)
            self._marked = None

    def memo(self, key: str, load: Callable[[], T]) -> T:
        """``load()``, kept until the next refresh or rebuild (for small tables read often).

        A value loaded while a refresh committed is not kept: it may predate it.
        """
        generation = self._generation
        hit = self._memo.get(key)
        if hit is not None and hit[0] == generation:
            return cast(T, hit[1])
        value = load()
        with self._memo_lock:
            if self._generation == generation:
                self._memo[key] = (generation, value)
        return value

    def _forget(self) -> None:
        with self._memo_lock:
            self._generation += 1
            self._memo.clear()

    def __enter__(self) -> Projection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- catching up ----------------------------------------------------------

    def refresh(self, *, full_check: bool = True) -> Refresh:
        """Apply new entries, or rebuild when the applied prefix changed.

        ``full_check`` also compares the digest of the applied prefix (one read of
        it); without it only the cheap check runs (size, last entry and its id).
        """
        if self.read_only:
            raise LedgerError("a read-only projection cannot be refreshed")
        with self._lock:
            try:
                return self._refresh_mending(full_check)
            except duckdb.Error as exc:
                if self.path is None or not is_write_failure(exc):
                    raise
                return self._in_memory(exc)
            finally:
                self._forget()

    def _refresh_mending(self, full_check: bool) -> Refresh:
        """:meth:`_refresh`, or a rebuild into a new file when the cache file is damaged."""
        try:
            return self._refresh(full_check)
        except duckdb.Error as exc:
            if self.path is None or is_write_failure(exc) or not is_damage(exc):
                raise
            self._recreate()
            return self._rebuild(f"the cache was unreadable ({first_line(exc)})")

    def _in_memory(self, exc: duckdb.Error) -> Refresh:
        """Go on in memory when the cache file cannot be written (a full disk), as when
        its directory is read-only; the file keeps what it last committed."""
        assert self.path is not None
        self.note = f"could not write {self.path} ({first_line(exc)})"
        self._unmark()
        with contextlib.suppress(duckdb.Error):
            self._con.close()
        self._con, self.path = quiet_connect(":memory:"), None
        return self._rebuild(self.note)

    def holds(self, start: int, end: int) -> bool:
        """Whether bytes ``[start, end)`` of the log still read as they did when projected.

        Only the pieces they fall in are read and hashed against the digests the
        projection recorded (the last, shorter piece through the prefix digest): a few
        milliseconds, where the full check reads the whole prefix. False for bytes past
        the projected prefix, and for a log that can no longer be read there.
        """
        cursor = self.cursor()  # its own: a refresh may hold the lock for a rebuild
        try:
            meta = self._meta(cursor)
        finally:
            cursor.close()
        if meta is None or meta.schema_version != SCHEMA_VERSION or end > meta.byte_offset:
            return False
        size = _scan.PIECE
        complete = meta.byte_offset // size
        if len(meta.pieces) < complete:
            return False
        try:
            for piece in range(start // size, max(end - 1, start) // size + 1):
                if piece < complete:
                    data = read_range(self.events_path, piece * size, (piece + 1) * size)
                    if blake3(data).hexdigest() != meta.pieces[piece]:
                        return False
                    continue
                tail = blake3(read_range(self.events_path, complete * size, meta.byte_offset))
                done = [bytes.fromhex(h) for h in meta.pieces[:complete]]
                return Pieces(done, tail).hexdigest() == meta.prefix_digest
        except StorageError:
            return False
        return True

    def rebuild(self, reason: str = "asked for") -> Refresh:
        """Rebuild every table from the log, in one transaction."""
        with self._lock:
            try:
                return self._rebuild(reason)
            finally:
                self._forget()

    def _refresh(self, full_check: bool) -> Refresh:
        meta = self._meta()
        if meta is None:
            return self._rebuild("no projection yet")
        if meta.schema_version != SCHEMA_VERSION:
            self._recreate()
            return self._rebuild(f"schema version {meta.schema_version} is not {SCHEMA_VERSION}")
        stat = stat_file(self.events_path)
        if stat == meta.file_stat and stat[1] != -1:
            return Refresh("unchanged", 0, meta.tree_size)
        if stat[0] < meta.byte_offset:
            return self._rebuild("the log is shorter than the projected prefix", rewritten=True)
        if not self._last_entry_holds(meta):
            return self._rebuild(
                "the last projected entry is no longer where it was", rewritten=True
            )
        done = None if full_check else [bytes.fromhex(h) for h in meta.pieces]
        pieces = Pieces.of(self.events_path, meta.byte_offset, done)
        if full_check and pieces.hexdigest() != meta.prefix_digest:
            return self._rebuild("the projected prefix of the log changed", rewritten=True)
        edge = merkle.RightEdge(meta.tree_size, tuple(bytes.fromhex(h) for h in meta.edge))
        scan = Scan(
            self.events_path,
            start_offset=meta.byte_offset,
            start_index=meta.tree_size,
            edge=edge,
            pieces=pieces,
            keep_lines=True,
            tell=self.on_build,
            last=(meta.last_id, meta.last_offset)
            if meta.last_id and meta.last_offset is not None
            else None,
        )
        scan.run()
        if not scan.count and (stat[1] == -1 or stat == meta.file_stat):
            return Refresh("unchanged", 0, meta.tree_size)  # nothing worth writing down
        if scan.redacts_earlier():
            # A redaction rewrote a line already projected: a body of 71 bytes is
            # replaced by a body_hash of as many, so no offset moved and the cheap check
            # above passed. The projected body (and all that rests on it) must go.
            return self._rebuild("a new redaction rewrote an entry already projected")
        con = self._con
        con.begin()
        try:
            if scan.count:
                stage_lines(con, scan)
                self._apply(meta.tree_size)
            self._write_meta(scan, stat)
            con.commit()
        except BaseException:
            _roll_back(con)
            raise
        action: Literal["unchanged", "caught-up"] = "caught-up" if scan.count else "unchanged"
        return Refresh(action, scan.count, scan.size)

    def _last_entry_holds(self, meta: _Meta) -> bool:
        """The cheap check: the last applied entry is still at its offset, with its id."""
        if meta.last_offset is None or meta.last_id is None:
            return meta.byte_offset == 0
        try:
            with self.events_path.open("rb") as handle:
                handle.seek(meta.last_offset)
                data = handle.read(meta.byte_offset - meta.last_offset)
        except OSError:
            return False
        if not data.endswith(b"\n"):
            return False
        try:
            return event_id(decode_entry(data[:-1])) == meta.last_id
        except LedgerError:
            return False

    # --- rebuilding -----------------------------------------------------------

    def _rebuild(self, reason: str, *, rewritten: bool = False) -> Refresh:
        con = self._con
        stat = stat_file(self.events_path)
        con.begin()
        try:
            self._create()
            try:
                scan = stage_file(con, self.events_path, self._apply_unsigned, self.on_build)
                self._apply(0, only=_NEEDS_IDS)
            except Reapply:  # start again, in a new transaction: the reader's may be aborted
                con.rollback()
                con.begin()
                self._create()
                scan = stage_checked(con, self.events_path, self.on_build)
                self._apply(0)
            for name in ("raw", "staged", *_STAGING):
                con.execute(f"DROP TABLE IF EXISTS {name}")
            for table, column in _INDEXES:
                con.execute(f"CREATE INDEX {table}_{column} ON {table} ({column})")
            self._write_meta(scan, stat)
            con.commit()
        except BaseException:
            _roll_back(con)
            raise
        return Refresh("rebuilt", scan.count, scan.size, reason, rewritten)

    def _create(self) -> None:
        """Empty tables, views and macros (dropping what was there)."""
        con = self._con
        for name in ("claims", "attributions", "sources", "verdicts", "keys"):
            con.execute(f"DROP MACRO TABLE IF EXISTS {name}_as_of")
            con.execute(f"DROP VIEW IF EXISTS {name}_now")
        for name in _TABLES:
            con.execute(f"DROP TABLE IF EXISTS {name}")
        for statement in con.extract_statements(schema_sql()):
            con.execute(statement)

    def _apply_unsigned(self) -> None:
        """Every step that does not need the events' ids (a rebuild sets those last)."""
        self._apply(0, skip=_NEEDS_IDS)

    def _apply(
        self, start: int, *, skip: frozenset[str] = frozenset(), only: frozenset[str] | None = None
    ) -> None:
        con = self._con
        con.execute("SET VARIABLE apply_start = $1", [start])
        kinds: set[str] = set(STEP_KINDS["redactions"]) if only else set()
        for group, sql in _steps():
            if group in skip or (only is not None and group not in only):
                continue
            if group == "ids" and only is None:
                continue
            if group not in _EVERY_ENTRY | {"ids"} and not kinds & STEP_KINDS[group]:
                continue
            for statement in con.extract_statements(sql):
                con.execute(statement)
            if group == "events":
                rows = con.execute(
                    "SELECT DISTINCT kind, redacted FROM events WHERE seq >= $1", [start]
                ).fetchall()
                kinds = {r[0] for r in rows} | (
                    {"entry.redacted"} if any(r[1] for r in rows) else set()
                )
        if only is None:
            for name in ("raw", "staged", *_STAGING):
                con.execute(f"DROP TABLE IF EXISTS {name}")

    # --- meta -------------------------------------------------------------------

    def _meta(self, con: duckdb.DuckDBPyConnection | None = None) -> _Meta | None:
        """The meta row, read on ``con`` (default: the projection's own connection)."""
        con = self._con if con is None else con
        try:
            row = con.execute(
                "SELECT schema_version, tree_size, root, byte_offset, last_id, last_offset, "
                "prefix_digest, pieces, edge, file_stat FROM meta"
            ).fetchone()
        except duckdb.CatalogException:
            return None
        except duckdb.BinderException:  # another schema's columns: its version, if it has one
            try:
                found = con.execute("SELECT schema_version FROM meta").fetchone()
            except duckdb.Error:
                found = None
            version = found[0] if found and isinstance(found[0], int) else -1
            if version == SCHEMA_VERSION:  # this version's number on other columns
                version = -1
            return _Meta(version, 0, "", 0, None, None, "", [], [], [])
        return None if row is None else _Meta(*row)

    def _write_meta(self, scan: Scan, stat: list[int]) -> None:
        con = self._con
        con.execute("DELETE FROM meta")
        con.execute(
            "INSERT INTO meta VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            [
                SCHEMA_VERSION,
                scan.size,
                merkle.edge_root(scan.edge).hex(),
                scan.end,
                scan.last_id,
                scan.last_offset,
                scan.pieces.hexdigest(),
                [d.hex() for d in scan.pieces.done],
                [h.hex() for h in scan.edge.hashes],
                stat,
            ],
        )

    def _recreate(self) -> None:
        """Delete an unusable cache file and start an empty one in its place."""
        assert self.path is not None
        with contextlib.suppress(duckdb.Error):
            self._con.close()
        for stale in (self.path, self.path.with_name(self.path.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        self._con = quiet_connect(str(self.path))

    def lock_down(self) -> None:
        """Make the connection read-only for arbitrary SQL (``factledger query``)."""
        if self.path is not None:
            self._con.close()
            try:
                self._con = open_file(
                    self.path, read_only=True, config={"enable_external_access": False}
                )
            except (Held, duckdb.Error) as exc:
                why = str(exc) if isinstance(exc, Held) else first_line(exc)
                raise StorageError(
                    f"could not reopen {self.path} read-only: {why}", hint="retry"
                ) from None
        else:
            self._con.execute("SET enable_external_access = false")
        self.read_only = True


def _roll_back(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back a failed refresh, if DuckDB has not already (a commit that failed, an
    interrupted statement): the failure, not "no transaction is active", is the news."""
    with contextlib.suppress(duckdb.Error):
        con.rollback()


def open_projection(
    ledger: Ledger,
    *,
    refresh: bool = True,
    full_check: bool = True,
    read_only: bool = False,
    in_memory: bool = False,
    on_build: Tell | None = None,
    long_lived: bool = False,
) -> Projection:
    """Open the ledger's projections, caught up with its log unless ``refresh`` is false.

    ``read_only`` refuses writes and file access (for arbitrary SQL); ``in_memory``
    skips the cache file; ``on_build`` becomes :attr:`Projection.on_build`. DuckDB lets
    one process at a time open the cache file: another waits for it a little, then
    reads a projection of its own in memory; ``long_lived`` (a terminal UI, open for
    hours) says so beside the file, so that others do not wait for it.
    """
    note: str | None = "asked for"
    path: Path | None = None
    if in_memory:
        con = quiet_connect(":memory:")
    else:
        con, path, note = connect(ledger.cache_dir)
    projection = Projection(con, ledger.events_path, path, note)
    projection.on_build = on_build
    if long_lived and path is not None:
        projection._marked = path if mark_held(path) else None
    try:
        if refresh:
            projection.refresh(full_check=full_check)
        if read_only:
            projection.lock_down()
    except BaseException:
        projection.close()
        raise
    return projection


__all__ = [
    "CACHE_NAME",
    "SCHEMA_VERSION",
    "Projection",
    "Refresh",
    "open_projection",
    "schema_sql",
]
