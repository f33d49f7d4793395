"""The application service: open a ledger directory, fold its log, append, redact, repair.

Time and randomness are parameters (``now``, ``rng``) so fixtures and tests are
deterministic; the command line passes the real clock and ``os.urandom``.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import json
import os
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from ledger import checkpoint as cp
from ledger import log, merkle, rules, statecache
from ledger.codec import decode_entry, encode_entry
from ledger.entry import event_id, redacted, seal, seal_digest
from ledger.errors import (
    DecodeError,
    LedgerError,
    NotALedger,
    RuleViolation,
    StaleParent,
    StorageError,
    TornWrite,
    UsageError,
)
from ledger.events import (
    DEFAULT_SCALE,
    AnyBody,
    Entry,
    EntryRedactedBody,
    LedgerCreatedBody,
    ScaleStep,
)
from ledger.keys import SigningKey

CONFIG_NAME: Final = "ledger.toml"
CHECKPOINT_NAME: Final = "checkpoint"
LOCK_NAME: Final = ".factledger.lock"
CACHE_DIR: Final = ".cache"
GITIGNORE: Final = f"{CACHE_DIR}/\n{LOCK_NAME}\n*.torn-*\n"
FORMAT: Final = 1

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
    """RFC 3339 UTC with whole seconds, as every ``at`` is written."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_salt(rng: Rng) -> str:
    return base64.b64encode(rng(16)).decode()


def new_id(prefix: str, rng: Rng) -> str:
    """``clm_``/``src_`` + 12 random characters of lowercase base32."""
    return prefix + base64.b32encode(rng(8)).decode()[:12].lower()


@dataclass(frozen=True)
class LedgerConfig:
    """``ledger.toml``: the origin, the pinned trust root and the events file."""

    origin: str
    trust_root: str
    events: str = "events.jsonl"
    format: int = FORMAT

    def to_toml(self) -> str:
        return (
            f"format = {self.format}\n"
            f"origin = {json.dumps(self.origin)}\n"
            f"trust_root = {json.dumps(self.trust_root)}\n"
            f"events = {json.dumps(self.events)}\n"
        )

    @classmethod
    def parse(cls, text: str, *, path: str = CONFIG_NAME) -> LedgerConfig:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise DecodeError(f"not valid TOML: {exc}", path=path, rule="config") from None
        try:
            config = cls(
                origin=data["origin"],
                trust_root=data["trust_root"],
                events=data.get("events", "events.jsonl"),
                format=data.get("format", FORMAT),
            )
        except KeyError as exc:
            raise DecodeError(f"missing key {exc}", path=path, rule="config") from None
        if config.format != FORMAT:
            raise DecodeError(f"format {config.format} is not supported", path=path, rule="config")
        if not all(isinstance(v, str) for v in (config.origin, config.trust_root, config.events)):
            raise DecodeError("origin, trust_root and events are strings", path=path, rule="config")
        if "/" in config.events or config.events.startswith("."):
            raise DecodeError("events names a file beside ledger.toml", path=path, rule="config")
        return config


@dataclass(frozen=True)
class Draft:
    """An event to append: the signer supplies author, time, signature and (by default) parent.

    ``parent`` is the head the caller expects (optimistic concurrency); ``None``
    with ``expect_parent=True`` means "a new stream".
    """

    kind: str
    subject: str
    body: AnyBody
    parent: str | None = None
    expect_parent: bool = False


@dataclass(frozen=True)
class Appended:
    seq: int
    id: str
    entry: Entry


@dataclass
class Snapshot:
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


def find_ledger(start: Path | None = None) -> Path:
    """The nearest directory upward from ``start`` holding ``ledger.toml``, as git finds .git."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    raise NotALedger(
        f"no {CONFIG_NAME} in {here} or any parent directory",
        hint="pass --ledger DIR, set FACTLEDGER_DIR, or create one with 'factledger init'",
    )


class Ledger:
    """A ledger directory (DESIGN §1)."""

    def __init__(self, root: Path, config: LedgerConfig) -> None:
        self.root = root
        self.config = config

    # --- paths -------------------------------------------------------------------

    @property
    def events_path(self) -> Path:
        return self.root / self.config.events

    @property
    def checkpoint_path(self) -> Path:
        return self.root / CHECKPOINT_NAME

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_NAME

    @property
    def cache_dir(self) -> Path:
        return self.root / CACHE_DIR

    # --- opening and creating -----------------------------------------------------

    @classmethod
    def open(cls, root: Path) -> Ledger:
        path = root / CONFIG_NAME
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotALedger(
                f"{root} is not a ledger (no {CONFIG_NAME})",
                hint="create one with 'factledger init DIR --origin ORIGIN --key KEYFILE'",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise StorageError(f"could not read {path}: {exc}", path=str(path)) from None
        return cls(root, LedgerConfig.parse(text, path=str(path)))

    @classmethod
    def init(
        cls,
        root: Path,
        *,
        origin: str,
        key: SigningKey,
        owner_name: str,
        description: str = "",
        scale: Sequence[ScaleStep] = DEFAULT_SCALE,
        at: str | None = None,
        now: Clock = utc_now,
        rng: Rng = os.urandom,
    ) -> Ledger:
        """Create the directory's ledger: ``ledger.toml``, the genesis entry and a checkpoint."""
        if not origin or any(c.isspace() or ord(c) < 0x20 for c in origin) or "+" in origin:
            raise UsageError(
                f"origin {origin!r} must be non-empty, without spaces or '+'",
                hint="use a name like example.org/claims",
            )
        if (root / CONFIG_NAME).exists():
            raise UsageError(f"{root} already holds a ledger", hint="choose an empty directory")
        config = LedgerConfig(origin=origin, trust_root=key.public.fingerprint)
        ledger = cls(root, config)
        body = LedgerCreatedBody(
            salt=new_salt(rng),
            origin=origin,
            description=description,
            owner=key.public.openssh_line(),
            owner_name=owner_name,
            scale=list(scale),
        )
        genesis = seal(
            kind="ledger.created",
            subject="ledger",
            parent=None,
            at=at or format_time(now()),
            body=body,
            key=key,
        )
        try:
            root.mkdir(parents=True, exist_ok=True)
            if ledger.events_path.exists():
                raise UsageError(
                    f"{ledger.events_path} already exists", hint="choose an empty directory"
                )
            ledger.events_path.touch()
        except OSError as exc:
            raise StorageError(f"could not create {root}: {exc.strerror}", path=str(root)) from None
        with log.locked(ledger.lock_path):
            log.append(ledger.events_path, [encode_entry(genesis)], expected_size=0)
            leaf = bytes.fromhex(event_id(genesis))
            ledger.write_checkpoint(1, merkle.root([leaf]), key)
            log.write_atomic(root / CONFIG_NAME, config.to_toml().encode())
            gitignore = root / ".gitignore"
            if not gitignore.exists():
                log.write_atomic(gitignore, GITIGNORE.encode())
        return ledger

    # --- reading ------------------------------------------------------------------

    def entries(self) -> Iterable[tuple[log.Line, Entry]]:
        """Decode every complete line strictly, in order (raises on the first bad one)."""
        path = str(self.events_path.name)
        for line in log.scan(self.events_path):
            yield line, decode_entry(line.data, lineno=line.index + 1, path=path)

    def load(self, *, now: datetime | None = None, use_cache: bool = True) -> Snapshot:
        """Fold the log through the rules; the first problem raises.

        With ``use_cache``, start from the state cached in ``.cache/`` when the log
        still ends where it did (:mod:`ledger.statecache`) and fold only what was
        appended since. The cache is never used by :mod:`ledger.verify`, which
        reports every problem of the whole log.
        """
        store = None
        if use_cache:
            store = statecache.open_store(self.cache_dir, self.config.events, self._read_at)
        if store is not None:
            snap = Snapshot(
                store.state,
                statecache.edge_of(store.tail),
                store.tail.end_offset,
                store=store,
                cached_last_line=(store.tail.last_line_sha256, store.tail.last_line_length),
            )
        else:
            state = rules.new_state(origin=self.config.origin, trust_root=self.config.trust_root)
            snap = Snapshot(state)
        try:
            with paused_gc():
                self._fold(snap, now)
        except BaseException:
            snap.close()
            raise
        if snap.size == 0:
            raise DecodeError("the log is empty", path=self.config.events, rule="genesis")
        return snap

    def _fold(self, snap: Snapshot, now: datetime | None) -> None:
        path = self.config.events
        for line in log.scan(self.events_path, start_offset=snap.end_offset, start_index=snap.size):
            entry = decode_entry(line.data, lineno=line.index + 1, path=path)
            eid = event_id(entry)
            for problem in rules.violations(snap.state, entry, eid, now=now):
                problem.path, problem.line = path, line.index + 1
                raise problem
            snap.add(entry, eid)
            snap.end_offset = line.offset + len(line.data) + 1
            snap.last_line = line.data

    def _read_at(self, offset: int, length: int) -> bytes:
        if offset < 0:
            return b""
        try:
            with self.events_path.open("rb") as handle:
                handle.seek(offset)
                return handle.read(length)
        except OSError:
            return b""

    def save_cache(self, snap: Snapshot) -> None:
        """Keep ``snap``'s state in ``.cache/`` for the next writer (call under the lock)."""
        statecache.save(self.cache_dir, self.config.events, snap.state, snap.tail(), snap.store)

    # --- writing ------------------------------------------------------------------

    def append(
        self,
        drafts: Sequence[Draft] | Callable[[Snapshot], Sequence[Draft]],
        key: SigningKey,
        *,
        at: str | None = None,
        now: Clock = utc_now,
        on_wait: Callable[[], None] | None = None,
    ) -> list[Appended]:
        """Sign and append ``drafts`` under one lock and one fsync (DESIGN §6).

        Every draft is checked against the rules at its position; if any is refused,
        nothing is written. ``drafts`` may be a function of the folded log, called
        under the lock, so that ids typed as prefixes resolve against what is written.
        """
        with self.writer(now=now, on_wait=on_wait) as writer:
            if callable(drafts):
                drafts = drafts(writer.snapshot)
            return writer.append(drafts, key, at=at)

    @contextlib.contextmanager
    def writer(
        self, *, now: Clock = utc_now, on_wait: Callable[[], None] | None = None
    ) -> Iterator[Writer]:
        """Hold the lock and the folded log across many appends (imports, generators).

        Each :meth:`Writer.append` is one fsync; the checkpoint is re-signed once,
        when the block ends, by the last key that appended.
        """
        with log.locked(self.lock_path, on_wait=on_wait):
            writer = Writer(self, self.load(), now)
            try:
                yield writer
            finally:
                writer.close()
                writer.snapshot.close()

    def redact(
        self,
        target: str,
        reason: str,
        key: SigningKey,
        *,
        at: str | None = None,
        now: Clock = utc_now,
        rng: Rng = os.urandom,
    ) -> Appended:
        """Append ``entry.redacted`` and rewrite the target line to its header form.

        Both happen in one atomic replacement of the log (temp file, fsync, rename).
        """
        with log.locked(self.lock_path):
            snap = self.load()
            info = snap.state.events.get(target)
            if info is None:
                raise UsageError(f"no event {target[:12]} in this ledger")
            body = EntryRedactedBody(salt=new_salt(rng), target=target, reason=reason)
            draft = Draft("entry.redacted", info.subject, body)
            (done,) = seal_drafts(snap, [draft], key, at or format_time(now()), now())
            data = bytearray()
            for line, entry in self.entries():
                if line.index == info.seq:
                    data += encode_entry(redacted(entry)) + b"\n"
                else:
                    data += line.data + b"\n"
            data += encode_entry(done.entry) + b"\n"
            snap.close()
            statecache.invalidate(self.cache_dir)
            log.write_atomic(self.events_path, bytes(data))
            self.write_checkpoint(snap.size, snap.root(), key)
        return done

    def write_checkpoint(self, size: int, root: bytes, key: SigningKey) -> None:
        """Sign and atomically replace the checkpoint for ``size`` entries with ``root``."""
        note = cp.sign_checkpoint(cp.Checkpoint(self.config.origin, size, root), key)
        log.write_atomic(self.checkpoint_path, note.encode())

    def repair(self) -> Path | None:
        """Move a torn tail aside into a backup file; return it, or None if the log is whole.

        A tail that is a complete, valid entry missing only its newline is kept:
        the newline is added instead. Complete lines are never touched.
        """
        with log.locked(self.lock_path):
            end = 0
            try:
                for line in log.scan(self.events_path):
                    end = line.offset + len(line.data) + 1
                return None
            except TornWrite:
                pass
            tail = log.read_tail(self.events_path, end)
            try:
                decode_entry(tail)
            except LedgerError:
                backup = log.write_new(self.root / f"{self.config.events}.torn-{end}", tail)
                _truncate(self.events_path, end)
                return backup
            log.append(self.events_path, [b""], expected_size=end + len(tail))
            return None


def seal_drafts(
    snap: Snapshot,
    drafts: Sequence[Draft],
    key: SigningKey,
    stamp: str,
    wall: datetime,
) -> list[Appended]:
    """Sign each draft on the current head of its subject, check it, and fold it into ``snap``.

    Raises on the first refused draft; ``snap`` has then advanced past the drafts
    before it, so a caller that goes on must fold the log again.
    """
    out: list[Appended] = []
    for draft in drafts:
        head = snap.state.heads.get(draft.subject)
        if draft.expect_parent and draft.parent != head:
            raise StaleParent(
                f"{draft.subject} has moved on: its head is {head[:12] if head else 'empty'},"
                f" not {draft.parent[:12] if draft.parent else 'empty'}",
                rule="stale-parent",
                hint="re-read it ('factledger show') and retry against the new head",
            )
        entry, digest = seal_digest(
            kind=draft.kind, subject=draft.subject, parent=head, at=stamp, body=draft.body, key=key
        )
        eid = digest.event_id
        for problem in rules.violations(snap.state, entry, eid, now=wall):
            raise problem
        out.append(Appended(snap.size, eid, entry))
        snap.add(entry, eid)
    return out


class Refused(RuleViolation):
    """Entries signed elsewhere that the rules refuse at their new positions."""

    def __init__(self, problems: list[tuple[int, str, RuleViolation]]) -> None:
        first = problems[0][2]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"position {problems[0][0]}: {first.message}{more}", rule=first.rule, hint=first.hint
        )
        self.problems = problems


class Writer:
    """Appends under a held lock, keeping the folded log between batches."""

    def __init__(self, ledger: Ledger, snapshot: Snapshot, now: Clock) -> None:
        self.ledger = ledger
        self.snapshot = snapshot
        self.now = now
        self.last_key: SigningKey | None = None

    def append(
        self, drafts: Sequence[Draft], key: SigningKey, *, at: str | None = None
    ) -> list[Appended]:
        """Sign, check and write ``drafts`` with one fsync: all of them or none."""
        wall = self.now()
        try:
            sealed = seal_drafts(self.snapshot, drafts, key, at or format_time(wall), wall)
        except BaseException:
            # The fold advanced past the refused batch's first drafts: fold again.
            self.reload()
            raise
        self._write([encode_entry(item.entry) for item in sealed])
        self.last_key = key
        return sealed

    def _write(self, lines: list[bytes]) -> None:
        if lines:
            snap = self.snapshot
            snap.end_offset = log.append(
                self.ledger.events_path, lines, expected_size=snap.end_offset
            )
            snap.last_line = lines[-1]

    def reload(self) -> None:
        """Fold again from what is on disk (after a refused batch moved the fold on)."""
        self.snapshot.close()
        self.snapshot = self.ledger.load()

    def append_signed(self, entries: Sequence[Entry], key: SigningKey) -> list[Appended]:
        """Append entries signed elsewhere (a merge), unchanged; ``key`` re-signs the checkpoint.

        Every entry is checked at its new position; if any is refused, nothing is
        written and :class:`Refused` lists every problem, not just the first.
        """
        snap, wall = self.snapshot, self.now()
        out: list[Appended] = []
        problems: list[tuple[int, str, RuleViolation]] = []
        for entry in entries:
            eid = event_id(entry)
            problems.extend(
                (snap.size, eid, p) for p in rules.violations(snap.state, entry, eid, now=wall)
            )
            out.append(Appended(snap.size, eid, entry))
            snap.add(entry, eid)
        if problems:
            self.reload()
            raise Refused(problems)
        self._write([encode_entry(item.entry) for item in out])
        self.last_key = key
        return out

    def close(self) -> None:
        """Re-sign the checkpoint if anything was appended, and keep the state cached."""
        snap = self.snapshot
        if self.last_key is not None:
            self.ledger.write_checkpoint(snap.size, snap.root(), self.last_key)
        if self.last_key is not None or snap.store is None:
            self.ledger.save_cache(snap)


def _truncate(path: Path, size: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StorageError(f"could not truncate {path}: {exc.strerror}", path=str(path)) from None


def open_ledger(path: Path | None) -> Ledger:
    """Open the ledger at ``path``, else ``$FACTLEDGER_DIR``, else the nearest one upward."""
    if path is None and (env := os.environ.get("FACTLEDGER_DIR")):
        path = Path(env)
    return Ledger.open(path if path is not None else find_ledger())


__all__ = [
    "Appended",
    "Draft",
    "Ledger",
    "LedgerConfig",
    "Refused",
    "Snapshot",
    "Writer",
    "find_ledger",
    "format_time",
    "new_id",
    "new_salt",
    "open_ledger",
    "paused_gc",
]
