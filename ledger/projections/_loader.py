"""Getting log lines into DuckDB: the cache file, the file reader and the staging tables.

Staging leaves a temp table ``raw(seq, id, byte_offset, line)`` holding exactly the
lines the strict Python pass (:class:`~ledger.projections._scan.Scan`) decoded,
which ``apply.sql`` then turns into rows. A rebuild of a large file lets DuckDB read
and apply it while Python checks it, and keeps the result only if both agree.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import duckdb

from ledger.codec import MAX_LINE_BYTES
from ledger.errors import NOT_A_LEDGER, io_error
from ledger.projections._scan import Scan, Tell

CACHE_NAME: Final = "projections.duckdb"
RACY_NS: Final = 2_000_000_000
"""A file modified this recently may change again within the same mtime tick."""
_BATCH: Final = 100_000
_SMALL_FILE: Final = 1 << 20
READ_FILE: Final = f"""
CREATE OR REPLACE TEMP TABLE raw_file AS
SELECT ordinality - 1 AS seq, line
FROM read_csv($1, columns = {{'line': 'VARCHAR'}}, delim = '\\x01', quote = '', escape = '',
              header = false, auto_detect = false, new_line = '\\n',
              max_line_size = {2 * MAX_LINE_BYTES + 16}) WITH ORDINALITY
"""


def stat_file(path: Path) -> list[int]:
    """(size, mtime_ns, inode, device); a just-modified file gets mtime -1 (never trusted)."""
    try:
        st = path.stat()
    except OSError as exc:
        raise io_error("read it", path, exc, missing=NOT_A_LEDGER) from None
    mtime = st.st_mtime_ns if time.time_ns() - st.st_mtime_ns > RACY_NS else -1
    return [st.st_size, mtime, st.st_ino, st.st_dev]


def stage_ids(con: duckdb.DuckDBPyConnection, scan: Scan) -> None:
    """``staged(seq, id, byte_offset)`` from the scan, in column batches (no row inserts)."""
    con.execute("CREATE OR REPLACE TEMP TABLE staged (seq BIGINT, id VARCHAR, byte_offset BIGINT)")
    for first in range(0, scan.count, _BATCH):
        ids, offsets, count = scan.batch(first, _BATCH)
        con.execute(
            "INSERT INTO staged SELECT $1 + i, substr($2, i * 64 + 1, 64), "
            "('0x' || substr($3, i * 16 + 1, 16))::BIGINT FROM range($4) AS t(i)",
            [scan.start_index + first, ids, offsets, count],
        )


def stage_lines(con: duckdb.DuckDBPyConnection, scan: Scan) -> None:
    """``raw`` from a scan that kept its lines (catch-up, or the fallback of a rebuild)."""
    stage_ids(con, scan)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE raw AS SELECT s.seq, s.id, s.byte_offset, l.line "
        "FROM staged AS s JOIN (SELECT $1 + ordinality - 1 AS seq, line "
        "FROM unnest($2::VARCHAR[]) WITH ORDINALITY AS t(line, ordinality)) AS l USING (seq)",
        [scan.start_index, scan.lines],
    )


DUCKDB_RAW: Final = """
CREATE OR REPLACE TEMP TABLE raw AS
SELECT seq, '' AS id,
       sum(strlen(line) + 1) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING) - strlen(line) - 1
           AS byte_offset,
       line
FROM raw_file
"""
"""``raw`` from DuckDB's own read: offsets from the line lengths, ids still to come."""


def stage_file(
    con: duckdb.DuckDBPyConnection, path: Path, apply: Callable[[], None], tell: Tell | None = None
) -> Scan:
    """Stage every complete line in ``raw`` and ``apply()`` it (the steps that need no ids).

    A large file is read and applied by DuckDB, in a thread, while Python checks it:
    the events get DuckDB's offsets and an empty id. Then, if DuckDB read exactly the
    lines Python decoded, at the offsets Python saw, the ids Python computed are set.
    Otherwise :class:`Reapply` is raised: the caller clears the tables and applies
    the lines Python decoded (:func:`stage_checked`). A small file is simply handed
    over by Python: a parallel reader costs more.
    """
    try:
        small = path.stat().st_size < _SMALL_FILE
    except OSError as exc:
        raise io_error("read it", path, exc, missing=NOT_A_LEDGER) from None
    if small:
        scan = Scan(path, keep_lines=True, tell=tell)
        scan.run()
        stage_lines(con, scan)
        apply()
        return scan
    reader = FileReader(con, path, apply)
    reader.start()
    scan = Scan(path, keep_lines=False, tell=tell)
    try:
        scan.run()
    except BaseException:
        reader.stop()
        raise
    reader.join()
    if reader.error is None:
        stage_ids(con, scan)
        row = con.execute(
            "SELECT (SELECT count(*) FROM events), count(*) FILTER "
            "(WHERE e.byte_offset IS DISTINCT FROM s.byte_offset) "
            "FROM staged AS s LEFT JOIN events AS e USING (seq)"
        ).fetchone()
        if row is not None and row == (scan.count, 0):
            con.execute("UPDATE events SET id = s.id FROM staged AS s WHERE events.seq = s.seq")
            return scan
    # DuckDB read something other than what Python checked (the file changed under
    # us, a torn last line, or the reader failed): apply the lines Python decoded.
    raise Reapply(scan.count)


class Reapply(Exception):
    """DuckDB's read of the file is not what Python decoded: clear the tables, apply again."""


def stage_checked(con: duckdb.DuckDBPyConnection, path: Path, tell: Tell | None = None) -> Scan:
    """``raw`` from exactly the lines Python decodes (after a :class:`Reapply`)."""
    for name in ("raw_file", "raw", "staged"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    scan = Scan(path, keep_lines=True, tell=tell)
    scan.run()
    stage_lines(con, scan)
    return scan


class FileReader(threading.Thread):
    """DuckDB reads the log's lines into ``raw_file`` and applies them while Python checks."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, path: Path, apply: Callable[[], None]
    ) -> None:
        super().__init__(name="factledger-read-json", daemon=True)
        self._con = con
        self._path = path
        self._apply = apply
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self._con.execute(READ_FILE, [str(self._path)])
            self._con.execute(DUCKDB_RAW)
            self._con.execute("DROP TABLE raw_file")
            self._apply()
        except duckdb.Error as exc:
            self.error = exc

    def stop(self) -> None:
        """Interrupt every statement the thread still runs, until it ends."""
        while self.is_alive():
            self._con.interrupt()
            self.join(0.05)


_WRITE_FAILURES: Final = (
    "No space left",
    "Disk quota",
    "Read-only file system",
    "Could not write",
    "Failed to commit",
)


def is_write_failure(exc: duckdb.Error) -> bool:
    """Errors of a cache file that cannot be written (a full disk, a quota), which no
    rebuild of the file would mend."""
    text = str(exc)
    return any(failure in text for failure in _WRITE_FAILURES)


def is_damage(exc: duckdb.Error) -> bool:
    """Errors a damaged cache file raises (as opposed to a wrong query)."""
    damage = (duckdb.IOException, duckdb.InternalException, duckdb.SerializationException)
    return isinstance(exc, damage) or type(exc) is duckdb.Error


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def quiet_connect(database: str, **options: Any) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect``, with DuckDB's progress bar off.

    DuckDB draws that bar on stdout, where ``--json`` rows go and where the TUI
    draws, whenever it takes Python to be interactive (``python -c``, a REPL): a
    long rebuild would put it between a script's rows. Its cursors inherit the
    setting. A long rebuild's progress is factledger's to tell, on stderr
    (:attr:`Projection.on_build`).
    """
    con = duckdb.connect(database, **options)
    con.execute("SET enable_progress_bar = false")
    return con


LOCK_WAIT = 3.0
"""How long a process waits for another to let go of the cache file (DuckDB lets one
process at a time open it): a command-line read holds it for well under a second, and
a terminal UI for as long as it is open, so waiting longer would only delay the fallback."""
_HOLDER: Final = re.compile(r"\(PID (\d+)\)")


def _is_lock_conflict(message: str) -> bool:
    """DuckDB's error for a file another process holds (not, say, a damaged "block")."""
    return "Could not set lock on file" in message or "Conflicting lock" in message


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".holder")


def _held_by(path: Path) -> str | None:
    """The process id a long-lived holder of the cache file wrote beside it, if any."""
    try:
        return _marker(path).read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def mark_held(path: Path) -> Path | None:
    """Say beside the cache file that this process holds it for long (a terminal UI),
    so that others fall back at once instead of waiting :data:`LOCK_WAIT` for it."""
    marker = _marker(path)
    try:
        marker.write_text(f"{os.getpid()}\n", encoding="ascii")
    except OSError:
        return None
    return marker


def unmark_held(path: Path) -> None:
    """Undo :func:`mark_held` for the cache file ``path``, if this process marked it."""
    if _held_by(path) == str(os.getpid()):
        with contextlib.suppress(OSError):
            _marker(path).unlink()


class Held(Exception):
    """Another process holds the cache file (DuckDB lets one process at a time open it)."""


def open_file(path: Path, **options: Any) -> duckdb.DuckDBPyConnection:
    """Connect to the cache file, waiting up to :data:`LOCK_WAIT` seconds for another
    process to let go of it, or not at all when that process said it holds it for long
    (:func:`mark_held`). Raises :class:`Held` saying which, or DuckDB's own error."""
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            return quiet_connect(str(path), **options)
        except duckdb.Error as exc:
            message = first_line(exc)
            if not _is_lock_conflict(message):
                raise
            found = _HOLDER.search(message)
            pid = found.group(1) if found else None
            if pid is not None and pid == _held_by(path):
                raise Held(f"a terminal UI (PID {pid}) has {path} open") from None
            if time.monotonic() >= deadline:
                by = f" (PID {pid})" if pid else ""
                raise Held(
                    f"another process{by} has had {path} open for over {LOCK_WAIT:g} s"
                ) from None
            time.sleep(0.05)


def connect(cache_dir: Path) -> tuple[duckdb.DuckDBPyConnection, Path | None, str | None]:
    """Open (or create) the cache file (:func:`open_file`); fall back to memory when it
    cannot be written or another process holds it."""
    path = cache_dir / CACHE_NAME
    try:
        cache_dir.mkdir(exist_ok=True)
        if not os.access(cache_dir, os.W_OK):
            raise PermissionError(f"{cache_dir} is not writable")
    except OSError as exc:
        return quiet_connect(":memory:"), None, f"cache directory not writable ({exc})"
    for attempt in (1, 2):
        try:
            return open_file(path), path, None
        except Held as held:
            return quiet_connect(":memory:"), None, str(held)
        except duckdb.Error as exc:
            if attempt == 2:
                return quiet_connect(":memory:"), None, first_line(exc)
            # Not a DuckDB file, or a damaged one: it is only a cache.
            for stale in (path, path.with_name(path.name + ".wal")):
                with contextlib.suppress(OSError):
                    stale.unlink()
    raise AssertionError("unreachable")  # pragma: no cover
