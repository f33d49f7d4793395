"""The application service: open a ledger directory, fold its log, append, redact, repair.

Time and randomness are parameters (``now``, ``rng``) so fixtures and tests are
deterministic; the command line passes the real clock and ``os.urandom``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

from msgspec import UNSET

from ledger import checkpoint as cp
from ledger import log, merkle, prefix, rules, statecache
from ledger.codec import decode_entry, encode_entry
from ledger.config import CONFIG_NAME, LedgerConfig
from ledger.entry import event_id, redacted, seal
from ledger.errors import (
    DecodeError,
    InconsistentTree,
    LedgerError,
    NotALedger,
    TornWrite,
    UsageError,
    io_error,
)
from ledger.events import (
    DEFAULT_SCALE,
    Entry,
    EntryRedactedBody,
    LedgerCreatedBody,
    ScaleStep,
)
from ledger.keys import SigningKey
from ledger.snapshot import (
    Appended,
    Clock,
    Draft,
    Rng,
    Snapshot,
    format_time,
    new_id,
    new_salt,
    paused_gc,
    utc_now,
)
from ledger.writer import Refused, Writer, require_current_key, seal_drafts

CHECKPOINT_NAME: Final = "checkpoint"
LOCK_NAME: Final = ".factledger.lock"
CACHE_DIR: Final = ".cache"
GITIGNORE: Final = f"{CACHE_DIR}/\n{LOCK_NAME}\n*.torn-*\n.*.tmp\n"
GITATTRIBUTES: Final = "events.jsonl -text merge=binary\ncheckpoint -text merge=binary\n"
"""Git must keep the log byte-exact (no line-ending conversion) and never text-merge it:
two branches' appends are combined by ``factledger merge``."""
FOLD_TOLD_EVERY: Final = 16384
"""Lines between two progress reports of a fold (:attr:`Ledger.on_fold`)."""


def _add_lines(path: Path, text: str) -> None:
    """Make ``path`` hold every line of ``text``: the file as it is (its line endings,
    mode, and the file a symlink names), plus the lines it lacks."""
    target = path.resolve()
    mode: int | None = None  # a new file: as the umask makes it
    try:
        old = target.read_bytes().decode("utf-8")
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        old = ""
    except (OSError, UnicodeDecodeError):
        return  # a file of the user's that we cannot read is left as it is
    have = {line.strip() for line in old.splitlines()}
    eol = "\r\n" if "\r\n" in old else "\n"
    missing = "".join(f"{line}{eol}" for line in text.splitlines() if line not in have)
    if missing:
        joined = old if not old or old.endswith("\n") else old + eol
        log.write_atomic(target, (joined + missing).encode())
        if mode is not None:
            with contextlib.suppress(OSError):
                os.chmod(target, mode)  # an existing file keeps its mode, whatever the umask


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
        self.on_fold: Callable[[int, int], None] | None = None
        """Told ``(offset, end)`` every :data:`FOLD_TOLD_EVERY` lines of a fold, and
        ``(end, end)`` after one it told of: a fold without a usable state cache reads
        the whole log (about 20 s at a million entries)."""

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
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotALedger(
                f"{root} is not a ledger (no {CONFIG_NAME})",
                hint="create one with 'factledger init DIR --origin ORIGIN --key KEYFILE'",
            ) from None
        except OSError as exc:
            raise io_error("read it", path, exc) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:  # read, but not a config: a finding, not exit 3
            line = data.count(b"\n", 0, exc.start) + 1
            raise DecodeError(
                f"not UTF-8 text (byte {exc.start})", path=str(path), line=line, rule="config"
            ) from None
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
        stated = rules.parse_time(at) if at is not None else None
        if stated is not None and stated > now() + rules.DEFAULT_SKEW:
            raise UsageError(
                f"the genesis time {at} is in the future: verify refuses a time more than a "
                "day ahead",
                hint="give the time the ledger is created, or leave --at out for now",
            )
        config = LedgerConfig(origin=origin, trust_root=key.public.fingerprint)
        ledger = cls(root, config)
        for path in (ledger.events_path, ledger.checkpoint_path):
            if path.exists():
                raise UsageError(
                    f"{path} already exists: init never replaces a file",
                    hint="choose an empty directory, or move it away",
                )
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
            ledger.events_path.touch(exist_ok=False)
        except OSError as exc:
            raise io_error("create it", root, exc) from None
        with log.locked(ledger.lock_path):
            log.append(ledger.events_path, [encode_entry(genesis)], expected_size=0)
            leaf = bytes.fromhex(event_id(genesis))
            ledger.write_checkpoint(1, merkle.root([leaf]), key)
            log.write_atomic(root / CONFIG_NAME, config.to_toml().encode())
            for name, text in ((".gitignore", GITIGNORE), (".gitattributes", GITATTRIBUTES)):
                _add_lines(root / name, text)
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
        if snap.store is not None and not self._agrees_with_checkpoint(snap):
            # The cache checks only where the log ends; a reordered history (a rebase,
            # a reset to another clone's merge) can end the same way. Fold it afresh.
            snap.close()
            return self.load(now=now, use_cache=False)
        if snap.size == 0:
            raise DecodeError("the log is empty", path=self.config.events, rule="genesis")
        return snap

    def _agrees_with_checkpoint(self, snap: Snapshot) -> bool:
        """False when the checkpoint covers exactly this log but with another root."""
        try:
            text = self.checkpoint_path.read_text(encoding="utf-8")
            body = cp.parse_body(text.partition("\n\n")[0] + "\n")
        except (OSError, UnicodeDecodeError, LedgerError):
            return True  # no usable checkpoint to compare with: verify reports it
        return body.size != snap.size or body.root == snap.root()

    def _fold(self, snap: Snapshot, now: datetime | None) -> None:
        path = self.config.events
        tell, told, end, first = self.on_fold, False, 0, snap.size
        if tell is not None:
            with contextlib.suppress(OSError):
                end = self.events_path.stat().st_size
        try:
            for line in log.scan(
                self.events_path, start_offset=snap.end_offset, start_index=snap.size
            ):
                if tell is not None and line.index % FOLD_TOLD_EVERY == 0 and line.index > first:
                    tell(line.offset, max(end, line.offset))
                    told = True
                entry = decode_entry(line.data, lineno=line.index + 1, path=path)
                eid = event_id(entry)
                for problem in rules.violations(snap.state, entry, eid, now=now):
                    problem.path, problem.line = path, line.index + 1
                    raise problem
                snap.add(entry, eid)
                snap.end_offset = line.offset + len(line.data) + 1
                snap.last_line = line.data
        finally:
            if told and tell is not None:  # the end, refused or not: a terminal line clears
                tell(snap.end_offset, snap.end_offset)

    def _read_at(self, offset: int, length: int) -> bytes:
        if offset < 0:
            return b""
        try:
            with self.events_path.open("rb") as handle:
                handle.seek(offset)
                return handle.read(length)
        except OSError:
            return b""

    def reading(
        self, *, on_wait: Callable[[], None] | None = None
    ) -> contextlib.AbstractContextManager[None]:
        """A shared lock for a reader that must see the log and checkpoint as one state.

        Never call it while holding the writer's lock (the two would wait on each other).
        ``on_wait`` is called once if a writer holds it.
        """
        return log.shared(self.lock_path, on_wait=on_wait)

    def save_cache(self, snap: Snapshot) -> None:
        """Keep ``snap``'s state in ``.cache/`` for the next writer (call under the lock)."""
        with paused_gc():  # a row per event and stream, and no cycles: see paused_gc
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
            writer = Writer(self, self._load_extending_checkpoint(), now)
            try:
                yield writer
            finally:
                try:
                    writer.close()
                finally:
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
        on_wait: Callable[[], None] | None = None,
    ) -> Appended:
        """Append ``entry.redacted`` and rewrite the target line to its header form.

        Both happen in one atomic replacement of the log (temp file, fsync, rename).
        ``on_wait`` is called once if another writer holds the lock.
        """
        with log.locked(self.lock_path, on_wait=on_wait):
            snap = self._load_extending_checkpoint()
            info = snap.state.events.get(target)
            if info is None:
                raise UsageError(f"no event {target[:12]} in this ledger")
            body = EntryRedactedBody(salt=new_salt(rng), target=target, reason=reason)
            draft = Draft("entry.redacted", info.subject, body)
            (done,) = seal_drafts(snap, [draft], key, at or format_time(now()), now())
            snap.close()
            self.erase({target}, append=[encode_entry(done.entry)])
            self.write_checkpoint(snap.size, snap.root(), key)
        return done

    def _load_extending_checkpoint(self) -> Snapshot:
        """The folded log, for a write: refused unless it extends the signed checkpoint.

        A write re-signs the checkpoint over the whole log. Over a log that lost its
        last entries, or had one changed, that signature would make the damage verify
        and erase the evidence of it; so the write stops first and nothing is written.
        The checkpoint's body is compared whoever signed it: a log cut back past the
        grant of the key that signed the checkpoint must not make it count as unsigned.
        A checkpoint that is missing or not one (for this origin) is left to ``verify``.
        """
        snap = self.load()
        try:
            old = self._checkpoint_body()
            if old is None or (old.size == snap.size and old.root == snap.root()):
                return snap
            what = (
                f"the log has {snap.size} entries but its signed checkpoint covers {old.size}: "
                "entries were removed"
                if old.size > snap.size
                else None
            )
            if what is None and old.root != self._root_before(snap, old.size):
                what = (
                    f"the log's first {old.size} entries are not the ones its signed "
                    "checkpoint covers: an entry was changed, reordered or replaced"
                )
            if what is not None:
                raise InconsistentTree(
                    what,
                    path=self.config.events,
                    rule="checkpoint",
                    hint="nothing was written; run 'factledger verify', then restore the log "
                    "from git history (e.g. 'git checkout -- events.jsonl')",
                )
        except BaseException:
            snap.close()
            raise
        return snap

    def _checkpoint_body(self) -> cp.Checkpoint | None:
        """The checkpoint's origin, size and root, unverified; None if there is none."""
        try:
            text = self.checkpoint_path.read_text(encoding="utf-8")
            return cp.parse_body(text.partition("\n\n")[0] + "\n", origin=self.config.origin)
        except (OSError, UnicodeDecodeError, LedgerError):
            return None

    def _root_before(self, snap: Snapshot, size: int) -> bytes:
        """The root of the log's first ``size`` entries (fewer than it has)."""
        store = snap.store
        if store is not None and store.tail.size == size:  # a crash after the fsync
            return merkle.edge_root(statecache.edge_of(store.tail))
        return self._root_at(size)

    def write_checkpoint(self, size: int, root: bytes, key: SigningKey) -> None:
        """Sign and atomically replace the checkpoint for ``size`` entries with ``root``."""
        note = cp.sign_checkpoint(cp.Checkpoint(self.config.origin, size, root), key)
        log.write_atomic(self.checkpoint_path, note.encode())

    def erase(self, targets: set[str], *, append: Sequence[bytes] = ()) -> int:
        """Rewrite the lines of ``targets`` to header form (and add ``append``), atomically.

        The caller holds the lock. Ids, signatures and the Merkle tree are unchanged;
        the cached fold is dropped, since byte offsets move. Returns lines rewritten.
        """
        data = bytearray()
        rewritten = 0
        for line, entry in self.entries():
            if entry.body is not UNSET and event_id(entry) in targets:
                data += encode_entry(redacted(entry)) + b"\n"
                rewritten += 1
            else:
                data += line.data + b"\n"
        for extra in append:
            data += extra + b"\n"
        if rewritten or append:
            statecache.invalidate(self.cache_dir)
            log.write_atomic(self.events_path, bytes(data))
        return rewritten

    def resign_checkpoint(
        self, key: SigningKey, *, on_wait: Callable[[], None] | None = None
    ) -> bool:
        """Re-sign a checkpoint that a crash left behind the log; True if it was behind.

        Only when the signed checkpoint is a prefix of the log — the root of the log's
        first ``size`` entries equals its root — which is what an append killed between
        its fsync and the checkpoint's rename leaves. Anything else is not a crash:
        :class:`InconsistentTree`, and nothing is written.
        """
        with log.locked(self.lock_path, on_wait=on_wait):
            snap = self.load()
            try:
                # The old checkpoint may be signed by a key revoked since: it was the
                # ledger's then. The new one is signed by a current key.
                keys = [k.public for k in snap.state.keys.values()]
                require_current_key(snap.state, key)
                note = self.checkpoint_path.read_bytes()
                old = cp.open_checkpoint(note, self.config.origin, keys)
                if old.size == snap.size and old.root == snap.root():
                    return False
                if old.size > snap.size or self._root_at(old.size) != old.root:
                    raise InconsistentTree(
                        f"the checkpoint ({old.size} entries) is not a prefix of the log "
                        f"({snap.size}): this is not what a crash leaves",
                        hint="run 'factledger verify' and restore the log from git history",
                    )
                self.write_checkpoint(snap.size, snap.root(), key)
                return True
            except OSError as exc:
                raise io_error("read it", self.checkpoint_path, exc) from None
            finally:
                snap.close()

    def _root_at(self, size: int) -> bytes:
        """The root of the log's first ``size`` lines, hashed from their bytes (a line that
        is not canonical hashes to another leaf, so the root differs)."""
        edge = merkle.EMPTY_EDGE
        if size:
            for line in log.scan(self.events_path):
                edge = merkle.append_leaf(edge, prefix.leaf_hash(line.data))
                if edge.size == size:
                    break
        return merkle.edge_root(edge)

    def repair(self, *, on_wait: Callable[[], None] | None = None) -> Path | None:
        """Move a torn tail aside into a backup file; return it, or None if the log is whole.

        A tail that is a complete, valid entry missing only its newline is kept:
        the newline is added instead. Complete lines are never touched. Temporary
        checkpoint files a killed writer left behind are removed. ``on_wait`` is called
        once if another writer holds the lock.
        """
        with log.locked(self.lock_path, on_wait=on_wait):
            for stale in self.root.glob(f".{CHECKPOINT_NAME}.*.tmp"):
                with contextlib.suppress(OSError):
                    stale.unlink()
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


def _truncate(path: Path, size: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise io_error("truncate it", path, exc) from None


def open_ledger(path: Path | None) -> Ledger:
    """Open the ledger at ``path``, else ``$FACTLEDGER_DIR``, else the nearest one upward."""
    if path is None and (env := os.environ.get("FACTLEDGER_DIR")):
        path = Path(env)
    return Ledger.open(path if path is not None else find_ledger())


__all__ = [
    "CACHE_DIR",
    "CHECKPOINT_NAME",
    "CONFIG_NAME",
    "Appended",
    "Clock",
    "Draft",
    "Ledger",
    "LedgerConfig",
    "Refused",
    "Rng",
    "Snapshot",
    "Writer",
    "find_ledger",
    "format_time",
    "new_id",
    "new_salt",
    "open_ledger",
    "paused_gc",
    "seal_drafts",
    "utc_now",
]
