"""The values the application service passes around: drafts, appended entries, snapshots.

Also the small helpers that make time and randomness parameters (DESIGN: ``now``
and ``rng`` are handed in, so fixtures and tests are deterministic).
"""

from __future__ import annotations

import base64
import contextlib
import gc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import msgspec

from ledger import merkle, rules, statecache
from ledger.events import AnyBody, Entry

Rng = Callable[[int], bytes]
Clock = Callable[[], datetime]


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while folding a large log.

    The fold keeps millions of long-lived objects (the event index, stream heads);
    each full collection would rescan them all, so folding would slow as the log
    grows. The fold makes no reference cycles, so nothing is lost by waiting.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(when: datetime) -> str:
    """RFC 3339 UTC with whole seconds, as every ``at`` is written.

    ``isoformat``, not ``strftime``: the C library's ``%Y`` does not pad a year before
    1000 to four digits, and the schema requires them.
    """
    utc = when.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    return utc.isoformat() + "Z"


def parse_time(text: str) -> datetime:
    """An RFC 3339 time with a zone (``Z`` or an offset), as an aware UTC datetime.

    Raises ValueError with a one-line reason. The one parser of times a user types:
    ``--at`` (which also refuses a fraction of a second), ``--as-of`` and the TUI's jump.
    """
    try:
        when = datetime.fromisoformat(text)
        utc = when.astimezone(UTC)  # an offset past year 1 or 9999 overflows here
    except (ValueError, OverflowError):
        raise ValueError(f"{text!r} is not an RFC 3339 time like 2024-04-02T09:15:00Z") from None
    if when.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; add Z for UTC")
    return utc


def new_salt(rng: Rng) -> str:
    return base64.b64encode(rng(16)).decode()


def new_id(prefix: str, rng: Rng) -> str:
    """``clm_``/``src_`` + 12 random characters of lowercase base32."""
    return prefix + base64.b32encode(rng(8)).decode()[:12].lower()


class Draft(msgspec.Struct, frozen=True):
    """An event to append: the signer supplies author, time, signature and (by default) parent.

    ``parent`` is the head the caller expects (optimistic concurrency); ``None``
    with ``expect_parent=True`` means "a new stream".
    """

    kind: str
    subject: str
    body: AnyBody
    parent: str | None = None
    expect_parent: bool = False


class Appended(msgspec.Struct, frozen=True):
    seq: int
    id: str
    entry: Entry


class Snapshot(msgspec.Struct):
    """The log folded: rule state, the Merkle tree's right edge and where the file ends."""

    state: rules.LedgerState
    edge: merkle.RightEdge = merkle.EMPTY_EDGE
    end_offset: int = 0
    last_line: bytes = b""
    """The last complete line folded (the cache checks the log still holds it)."""
    store: statecache.Store | None = None
    """The cached state this snapshot reads from, when it came from the cache."""
    cached_last_line: tuple[str, int] | None = None

    @property
    def size(self) -> int:
        return self.edge.size

    def root(self) -> bytes:
        return merkle.edge_root(self.edge)

    def add(self, entry: Entry, eid: str) -> None:
        """Advance past an entry already checked against the rules."""
        rules.apply(self.state, entry, eid)
        self.edge = merkle.append_leaf(self.edge, bytes.fromhex(eid))

    def tail(self) -> statecache.Tail:
        if self.last_line or self.cached_last_line is None:
            digest, length = statecache.line_digest(self.last_line), len(self.last_line)
        else:
            digest, length = self.cached_last_line
        edge = [h.hex() for h in self.edge.hashes]
        return statecache.Tail(self.size, self.end_offset, digest, length, edge)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
