"""Full verification and the pull-request gate (DESIGN §5, §8).

:func:`verify` streams the log once and reports **every** finding as a
:class:`~ledger.findings.Finding` (line, event id, rule, one-line explanation, hint)
instead of stopping at the first; the checks that need the whole fold are in
:mod:`ledger.findings`. The sequential rules are the same fold that appending
uses (:mod:`ledger.rules`); signature checks, which are position-independent,
run in worker processes in chunks for large logs while the main process folds.
Memory stays flat as the log grows: lines are read in chunks, the Merkle tree is
kept as its right edge, and from ``SPILL_MIN_BYTES`` of log the rule state's large
tables (stream heads, claims, sources, the event index) live in a scratch sqlite
file with a bounded number of rows in memory (:func:`ledger.statecache.scratch_state`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import sqlite3

from ledger import findings, log, merkle, prefix, rules, statecache
from ledger.checkpoint import Checkpoint
from ledger.codec import decode_entry
from ledger.entry import decode_signature
from ledger.errors import NOT_A_LEDGER, DecodeError, LedgerError, TornWrite, io_error
from ledger.events import EntryRedactedBody
from ledger.findings import RULES, Finding, Report, Since
from ledger.keys import PublicKey
from ledger.ledger import CHECKPOINT_NAME, LOCK_NAME, LedgerConfig, paused_gc
from ledger.sigcheck import Signatures
from ledger.trust import is_test_key

Progress = Callable[[int, int], None]

KEY_KINDS: Final = frozenset({"ledger.created", "key.granted", "key.revoked"})
PARALLEL_MIN_BYTES: Final = 4 << 20
"""Below this log size, process start-up costs more than parallel checking saves."""
SPILL_MIN_BYTES: Final = 96 << 20
"""From this log size the fold's large tables spill to a scratch file: memory stays flat.
Below it, folding in memory is faster (about 7 µs an entry) and needs no more memory:
the largest process peaks at 99 MiB for a 57 MiB log (117 MiB spilled) and 129 MiB for
an 88 MiB log, against 152 MiB spilled for 114 MiB and 178 MiB for 568 MiB."""


def verify(
    root: Path,
    *,
    config: LedgerConfig,
    trust_root: str | None = None,
    since: Since | None = None,
    now: datetime | None = None,
    skew: timedelta = rules.DEFAULT_SKEW,
    workers: int | None = None,
    progress: Progress | None = None,
    unsafe_allow_test_keys: bool = False,
    on_wait: Callable[[], None] | None = None,
) -> Report:
    """Verify the ledger in ``root`` whose policy is ``config``.

    ``trust_root`` overrides the pinned owner fingerprint; with ``since`` the
    policy and trust root come from that earlier state. ``on_wait`` is called once if a
    writer holds the lock (the log is read under a shared one). Raises only when the
    log cannot be read at all (:class:`StorageError`); everything else is a finding.
    """
    started = time.monotonic()
    policy = since.config if since is not None and since.config is not None else config
    pinned = trust_root or policy.trust_root
    report = Report(origin=policy.origin, trust_root=pinned)
    events_file = config.events
    if is_test_key(pinned) and not unsafe_allow_test_keys:
        report.findings.append(
            Finding(
                "trust-root",
                f"the trust root {pinned} is a published demo/test key, which anyone can sign with",
                hint="pin a real owner key; for the bundled demo pass --unsafe-allow-test-keys",
                file="ledger.toml",
            )
        )
    if since is not None and since.config is not None:
        findings.check_policy(since, config, report)
    old = findings.open_since(since, policy, report) if since is not None else None
    path = root / events_file
    total = _size_of(path)
    count = workers if workers is not None else (os.cpu_count() or 1)
    if total < PARALLEL_MIN_BYTES:
        count = 1

    def new_run(workers: int, scratch: Path | None = None, *, vouched: bool = True) -> _Run:
        skip = old.size if old and vouched else None
        run = _Run(policy.origin, pinned, events_file, now, skew, skip, workers, scratch)
        run.allow_test_keys = unsafe_allow_test_keys
        return run

    # Writers hold the lock exclusively: under a shared lock the log and the checkpoint
    # are read as one state, never mid-append.
    with log.shared(root / LOCK_NAME, on_wait=on_wait), paused_gc():
        run = _since_fast(path, old, new_run(1), total, progress) if old else None
        if run is None:
            with statecache.scratch_path(total >= SPILL_MIN_BYTES) as scratch:
                # The old checkpoint vouched for no line here: the prefix did not prove
                # itself (or was too large to try), so every signature is checked, and
                # an edited old line is reported as plain verify reports it.
                run = new_run(count, scratch, vouched=False)
                if old is not None:
                    run.remember_root_at(old.size)
                try:
                    for line in _lines(path, run):
                        run.fold(line)
                        if progress is not None and line.index % 8192 == 0:
                            progress(line.offset, total)
                finally:
                    run.finish_signatures()
                    run.close_scratch()
        checkpoint = _read_checkpoint(root)
    report.entries, report.root = run.state.size, merkle.edge_root(run.edge)
    report.void = list(run.state.void)
    report.findings.extend(run.findings)
    report.findings.extend(findings.test_key_grants(run.test_grants, run.state, run.redactors))
    report.findings.extend(findings.check_state(run.state, run.file))
    findings.check_checkpoint(
        checkpoint, findings.ledger_keys(run.state), report, root_with_tail=run.root_with_tail
    )
    if since is not None and old is not None:
        findings.check_since(since, old, run.edge_at, run.keys_at, run.file, report)
    report.findings.sort(key=lambda f: (f.line is None, f.line or 0))
    report.seconds = time.monotonic() - started
    return report


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise io_error("read it", path, exc, missing=NOT_A_LEDGER) from None


def _lines(path: Path, run: _Run, offset: int = 0, index: int = 0) -> Iterator[log.Line]:
    try:
        yield from log.scan(path, start_offset=offset, start_index=index)
    except TornWrite as exc:
        if exc.whole_entry:  # what the root would be with it: a checkpoint may count it
            leaf = merkle.leaf_hash(prefix.raw_leaf(exc.tail))
            run.root_with_tail = merkle.edge_root(merkle.append_leaf(run.edge, leaf))
        run.findings.append(
            Finding("torn-tail", exc.message, line=exc.line, hint=exc.hint, file=run.file)
        )


class _Run:
    """The state of one verification pass."""

    def __init__(
        self,
        origin: str,
        trust_root: str,
        file: str,
        now: datetime | None,
        skew: timedelta,
        skip_signatures_below: int | None,
        workers: int,
        scratch: Path | None = None,
    ) -> None:
        self.scratch: sqlite3.Connection | None = None
        if scratch is None:
            self.state = rules.new_state(origin=origin, trust_root=trust_root)
        else:
            self.state, self.scratch = statecache.scratch_state(
                scratch, origin=origin, trust_root=trust_root
            )
        self.file = file
        self.now, self.skew = now, skew
        self.edge = merkle.EMPTY_EDGE
        self.edge_at: dict[int, bytes] = {}
        self.watch: set[int] = set()
        self.findings: list[Finding] = []
        self.root_with_tail: bytes | None = None
        """The log ends in a whole entry without its newline, which the size does not
        count: the Merkle root with that entry as one more leaf."""
        self.test_grants: list[tuple[str, Finding]] = []
        """Grants of published demo/test keys, judged once the whole log is read."""
        self.redactors: set[str] = set()
        """Every key that signed an ``entry.redacted``."""
        self.skip_below = skip_signatures_below or 0
        self.keys_at: dict[int, list[PublicKey]] = {}
        self.signatures = Signatures(workers)
        self.allow_test_keys = False

    def close_scratch(self) -> None:
        """Close the scratch file; what the checks after the fold read stays in memory."""
        if self.scratch is not None:
            self.scratch.close()
            self.scratch = None

    def remember_root_at(self, size: int) -> None:
        """Keep the root (and the ledger keys) as they were at ``size`` entries."""
        self.watch.add(size)
        if size == 0:
            self.edge_at[0] = merkle.EMPTY_ROOT
            self.keys_at[0] = []

    def fold(self, line: log.Line) -> None:
        """Decode, judge and apply the line at position ``state.size``; extend the tree."""
        self._leaf(self.judge(line))

    def judge(self, line: log.Line) -> bytes:
        """Everything :meth:`fold` does but the tree: returns the line's leaf hash."""
        lineno = line.index + 1
        try:
            entry = decode_entry(line.data, lineno=lineno, path=self.file)
            hashed = prefix.line_digest(line.data)
            eid, message = hashed.event_id, hashed.signed_message
            sig = decode_signature(entry.sig)
        except DecodeError as exc:
            self.findings.append(
                Finding(exc.rule or "schema", exc.message, lineno, hint=exc.hint, file=self.file)
            )
            # The line still occupies its leaf: hash its bytes so sizes stay aligned.
            self.state.size += 1
            return merkle.leaf_hash(line.data)
        if entry.kind == "entry.redacted":
            self.redactors.add(entry.author)
        if entry.kind == "key.granted" and is_test_key(entry.subject) and not self.allow_test_keys:
            # judged at the end: a revocation later in the log may have contained it
            self.test_grants.append(
                (
                    entry.subject,
                    Finding(
                        "key-grant",
                        f"this grants a published demo/test key ({entry.subject}), which anyone "
                        "can sign with",
                        lineno,
                        eid,
                        hint="revoke it as compromised without --void-after, which voids all it "
                        "signed; for the bundled demo pass --unsafe-allow-test-keys",
                        file=self.file,
                    ),
                )
            )
        for problem in rules.violations(self.state, entry, eid, now=self.now, skew=self.skew):
            self.findings.append(
                Finding(
                    problem.rule or "rule",
                    problem.message,
                    lineno,
                    eid,
                    problem.hint,
                    file=self.file,
                )
            )
        key = self.state.keys.get(entry.author)
        if key is None and self.state.size == 0:
            key = _genesis_key(entry)
        # Under --since, the old checkpoint's root vouches for the prefix; its key
        # entries are still checked, so that checkpoint's signer is authenticated.
        if key is not None and (line.index >= self.skip_below or entry.kind in KEY_KINDS):
            self.signatures.add((line.index, eid, key.public.raw, message, sig))
        rules.apply(self.state, entry, eid)
        return bytes.fromhex(eid)

    def _leaf(self, leaf: bytes) -> None:
        self.edge = merkle.append_leaf(self.edge, leaf)
        if self.edge.size in self.watch:
            self.edge_at[self.edge.size] = merkle.edge_root(self.edge)
            self.keys_at[self.edge.size] = findings.ledger_keys(self.state)

    def finish_signatures(self) -> None:
        for index, eid in self.signatures.close():
            self.findings.append(
                Finding(
                    "signature",
                    "the signature does not verify for the stated author and header",
                    index + 1,
                    eid,
                    hint="the entry was altered after signing, or signed by another key",
                    file=self.file,
                )
            )


def _genesis_key(entry: object) -> rules.KeyState | None:
    from ledger.events import LedgerCreatedBody
    from ledger.keys import parse_public_key

    body = getattr(entry, "body", None)
    if not isinstance(body, LedgerCreatedBody):
        return None
    try:
        public = parse_public_key(body.owner)
    except LedgerError:
        return None
    return rules.KeyState(public.fingerprint, public, body.owner_name, "admin", 0)


FAST_TAIL_MAX: Final = 64 << 20
"""Above this many new bytes, ``--since`` folds the whole log (the fast path holds the tail)."""


def _since_fast(
    path: Path, old: Checkpoint, run: _Run, total: int, progress: Progress | None
) -> _Run | None:
    """Check a change against ``old`` by hashing its prefix (:mod:`ledger.prefix`).

    Returns None, to fall back to the full fold, whenever the prefix does not prove
    itself (its root differs, a line it needs does not decode, an erasure is not
    where it should be): the full fold then reports exactly what is wrong.
    """
    try:
        end, void_after = prefix.locate(path, old.size)
    except LookupError:
        return None
    if total - end > FAST_TAIL_MAX:
        return None
    wanted = prefix.plan(log.read_tail(path, end).split(b"\n")[:-1], void_after)
    state, anomalies = run.state, 0

    def fold(line: log.Line, eid: bytes, key: bool) -> None:
        nonlocal anomalies
        state.size = line.index
        if key:
            anomalies += run.judge(line) != eid
            return
        try:
            entry = decode_entry(line.data)
        except DecodeError:
            anomalies += 1
            return
        body = entry.body
        if isinstance(body, EntryRedactedBody) and body.target not in state.unexplained_redactions:
            anomalies += 1  # its target still carries a body, or never was
        rules.apply(state, entry, eid.hex())

    def note(line: log.Line, eid: bytes) -> None:
        nonlocal anomalies
        try:
            entry = decode_entry(line.data)
        except DecodeError:
            anomalies += 1
            return
        info = rules.EventInfo(line.index, entry.kind, entry.subject, entry.author)
        state.events.setdefault(eid.hex(), info)

    def step(offset: int) -> None:
        if progress is not None:
            progress(offset, total)

    try:
        edge, _ = prefix.hash_prefix(path, end, wanted, fold=fold, note=note, progress=step)
        state.size = old.size
        run.edge = merkle.RightEdge(old.size, tuple(edge))
        if anomalies or merkle.edge_root(run.edge) != old.root:
            return None
        run.edge_at[old.size], run.keys_at[old.size] = old.root, findings.ledger_keys(state)
        for line in _lines(path, run, end, old.size):
            run.fold(line)
    finally:
        run.finish_signatures()
    return run


def _read_checkpoint(root: Path) -> bytes | None:
    path = root / CHECKPOINT_NAME
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise io_error("read it", path, exc) from None


__all__ = ["RULES", "Finding", "Report", "Since", "verify"]
