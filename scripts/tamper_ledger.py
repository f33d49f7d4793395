"""Damage a generated ledger in place with one defect of a class, and say what verify must find.

``python scripts/generate_ledger.py N DIR --tamper KIND`` generates DIR and then calls
:func:`tamper`; the kinds and the finding each must produce are listed in
docs/verify.md. Entries a tamper adds are correctly signed with the generator's real
(TEST-ONLY) keys wherever the defect is not the signature itself, so the rule under
test is what fails.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ledger import merkle, rules
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.codec import decode_entry, encode_entry
from ledger.entry import event_id, redacted, seal
from ledger.events import (
    ClaimAssertedBody,
    Entry,
    NoteAddedBody,
    Revision,
    VerdictIssuedBody,
)
from ledger.keys import SigningKey
from ledger.ledger import CHECKPOINT_NAME, Ledger, new_id, new_salt
from scripts.generate_ledger import INTRUDER, KEYS_BY_FINGERPRINT, OWNER

# --- tampering -----------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """The first error finding that verification must report for a tampered ledger.

    ``line`` is 1-based in ``file``; None for a finding about the checkpoint as a whole.
    """

    rule: str
    line: int | None
    file: str = "events.jsonl"


CHECKPOINT_FINDING: Final = Expected("checkpoint", None, CHECKPOINT_NAME)


class _Log:
    """A generated ledger's lines, decoded, for surgery."""

    def __init__(self, root: Path) -> None:
        self.ledger = Ledger.open(root)
        self.lines = self.ledger.events_path.read_bytes().split(b"\n")[:-1]
        self.entries: list[Entry] = [decode_entry(line) for line in self.lines]
        self.ids = [event_id(e) for e in self.entries]
        self.child = {e.parent: j for j, e in enumerate(self.entries) if e.parent is not None}

    def successor(self, index: int) -> int | None:
        """The index of the next entry in the same stream, if any."""
        return self.child.get(self.ids[index])

    def state_at(self, size: int) -> rules.LedgerState:
        state = rules.new_state()
        for entry, eid in zip(self.entries[:size], self.ids[:size], strict=True):
            rules.apply(state, entry, eid)
        return state

    def key(self, size: int, role: str, revoked: str | None = None) -> SigningKey:
        """A generator key with ``role`` in the given revocation state at position ``size``."""
        for key in self.state_at(size).keys.values():
            if key.role == role and key.revoked == revoked and key.fingerprint != OWNER_FP:
                return KEYS_BY_FINGERPRINT[key.fingerprint]
        raise ValueError(f"no {revoked or 'active'} {role} key at line {size + 1}")

    def pick(self, start: int, ok: Callable[[int], bool]) -> int:
        """The first index at or after ``start`` (then from line 2) where ``ok`` holds."""
        for index in itertools.chain(range(start, len(self.lines)), range(1, start)):
            if ok(index):
                return index
        raise ValueError("no entry of this ledger suits the tamper")

    def last_claim_entry(self) -> int:
        """The last entry in a claim stream that has a parent (so the stream has two entries)."""
        return next(
            i
            for i in range(len(self.entries) - 1, 0, -1)
            if self.entries[i].parent is not None and self.entries[i].subject.startswith("clm_")
        )

    def write(self, lines: list[bytes], resign: SigningKey | None = None) -> None:
        """Replace the log with ``lines``; with ``resign``, sign a matching checkpoint."""
        self.ledger.events_path.write_bytes(b"".join(line + b"\n" for line in lines))
        if resign is not None:
            leaves = [bytes.fromhex(event_id(decode_entry(line))) for line in lines]
            cp = Checkpoint(self.ledger.config.origin, len(leaves), merkle.root(leaves))
            self.ledger.checkpoint_path.write_text(sign_checkpoint(cp, resign))


OWNER_FP: Final = OWNER.key.public.fingerprint
Tamper = Callable[[_Log, int], Expected]
TAMPERS: dict[str, Tamper] = {}


def _tamper(name: str) -> Callable[[Tamper], Tamper]:
    def register(fn: Tamper) -> Tamper:
        TAMPERS[name] = fn
        return fn

    return register


def _flip(
    line: bytes, field_name: str, ok: Callable[[int], bool], mask: int, skip: int = 0
) -> bytes:
    """XOR ``mask`` into the first byte of ``field_name``'s string value, after ``skip``
    characters, for which ``ok`` holds."""
    start = line.index(b'"' + field_name.encode() + b'":"') + len(field_name) + 4 + skip
    pos = next(i for i in range(start, len(line)) if ok(line[i]))
    return line[:pos] + bytes([line[pos] ^ mask]) + line[pos + 1 :]


def _letter(byte: int) -> bool:
    return 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def _digit(byte: int) -> bool:
    return 0x30 <= byte <= 0x39


def _base32_letter(byte: int) -> bool:
    return 0x61 <= byte <= 0x78  # a..x: XOR 2 stays in a..z


def _seconds_digit(line: bytes) -> bytes:
    """Flip the low bit of the last digit of ``at``'s seconds: still a valid, real time."""
    pos = line.index(b'"at":"') + len(b'"at":"2024-01-01T00:00:0')
    return line[:pos] + bytes([line[pos] ^ 0x01]) + line[pos + 1 :]


_FLIPS: Final[dict[str, tuple[str, Callable[[Entry], bool], Callable[[bytes], bytes]]]] = {
    # A stream's first entry: a later time breaks no per-stream order, only the signature.
    "flip-at": (
        "signature",
        lambda e: e.parent is None and e.kind in ("claim.asserted", "source.registered"),
        _seconds_digit,
    ),
    "flip-author": (
        "unknown-key",
        lambda e: True,
        lambda ln: _flip(ln, "author", _letter, 0x20, skip=len("SHA256:")),
    ),
    "flip-body": (
        "signature",
        lambda e: e.kind in ("claim.asserted", "claim.corrected", "note.added"),
        lambda ln: _flip(ln, "text", _letter, 0x20),
    ),
    "flip-kind": (
        "schema",
        lambda e: e.kind == "note.added",
        lambda ln: ln.replace(b'"kind":"note.added"', b'"kind":"note.addee"'),
    ),
    "flip-parent": (
        "stale-parent",
        lambda e: e.parent is not None,
        lambda ln: _flip(ln, "parent", _digit, 0x01),
    ),
    "flip-sig": ("signature", lambda e: True, lambda ln: _flip(ln, "sig", _letter, 0x20)),
    # Mid-stream: the entry moves to another (unknown) claim whose head is not its parent.
    "flip-subject": (
        "stale-parent",
        lambda e: e.parent is not None and e.kind in rules.CLAIM_STREAM_KINDS,
        lambda ln: _flip(ln, "subject", _base32_letter, 0x02, skip=len("clm_")),
    ),
    "flip-v": ("schema", lambda e: True, lambda ln: ln.replace(b'"v":1}', b'"v":3}')),
}


def _flip_tamper(name: str) -> Tamper:
    rule, suits, change = _FLIPS[name]

    def tamper_field(lg: _Log, start: int) -> Expected:
        index = lg.pick(start, lambda i: suits(lg.entries[i]))
        lg.lines[index] = change(lg.lines[index])
        lg.write(lg.lines)
        return Expected(rule, index + 1)

    return tamper_field


for _name in _FLIPS:
    TAMPERS[_name] = _flip_tamper(_name)


def _salted_body_note(subject: str, parent: str | None, key: SigningKey, at: str) -> Entry:
    body = NoteAddedBody(
        salt=new_salt(random.Random(subject + at).randbytes),
        text="Added by the tamper tool: a well-formed, correctly signed note on this claim.",
        in_reply_to=None,
    )
    return seal(kind="note.added", subject=subject, parent=parent, at=at, body=body, key=key)


def _new_claim(key: SigningKey, at: str) -> Entry:
    rng = random.Random(f"tamper {at} {key.public.fingerprint}")
    body = ClaimAssertedBody(
        salt=new_salt(rng.randbytes),
        text="Added by the tamper tool: a well-formed claim that nobody recorded here.",
        kind="factual",
        claimant="Nobody",
        appearance=None,
        topics=[],
    )
    subject = new_id("clm_", rng.randbytes)
    return seal(kind="claim.asserted", subject=subject, parent=None, at=at, body=body, key=key)


@_tamper("swap-lines")
def _swap_lines(lg: _Log, start: int) -> Expected:
    """An entry and the next one of its stream trade places: the later one comes first."""
    i = lg.pick(start, lambda i: lg.successor(i) is not None)
    j = lg.successor(i)
    assert j is not None
    lg.lines[i], lg.lines[j] = lg.lines[j], lg.lines[i]
    lg.write(lg.lines)
    return Expected("stale-parent", i + 1)


@_tamper("swap-independent")
def _swap_independent(lg: _Log, start: int) -> Expected:
    """Two adjacent entries of unrelated streams trade places: only the Merkle root sees it."""

    def unrelated(i: int) -> bool:
        a, b = lg.entries[i], lg.entries[i + 1] if i + 1 < len(lg.entries) else None
        return (
            b is not None
            and a.subject != b.subject
            and a.subject.encode() not in lg.lines[i + 1]
            and lg.ids[i].encode() not in lg.lines[i + 1]
        )

    i = lg.pick(start, unrelated)
    lg.lines[i], lg.lines[i + 1] = lg.lines[i + 1], lg.lines[i]
    lg.write(lg.lines)
    return CHECKPOINT_FINDING


@_tamper("delete-line")
def _delete_line(lg: _Log, start: int) -> Expected:
    """A mid-stream entry vanishes: the next entry of its stream names a missing parent."""
    kinds = ("note.added", "source.attributed", "claim.corrected", "claim.status")

    def suits(i: int) -> bool:
        e, eid = lg.entries[i], lg.ids[i].encode()
        return (
            e.kind in kinds
            and e.parent is not None
            and lg.successor(i) is not None
            and sum(eid in line for line in lg.lines) == 1
        )

    i = lg.pick(start, suits)
    j = lg.successor(i)
    assert j is not None
    del lg.lines[i]
    lg.write(lg.lines)
    return Expected("stale-parent", j)


@_tamper("insert-resigned")
def _insert_resigned(lg: _Log, start: int) -> Expected:
    """A correctly signed note is slipped into a claim's history, checkpoint re-signed."""
    i = lg.pick(
        start,
        lambda i: lg.entries[i].subject.startswith("clm_") and lg.successor(i) is not None,
    )
    j = lg.successor(i)
    assert j is not None
    key = lg.key(i + 1, "reviewer")
    entry = _salted_body_note(lg.entries[i].subject, lg.ids[i], key, lg.entries[i].at)
    lg.lines.insert(i + 1, encode_entry(entry))
    lg.write(lg.lines, resign=key)
    return Expected("fork", j + 2)


@_tamper("duplicate-line")
def _duplicate_line(lg: _Log, start: int) -> Expected:
    i = lg.pick(start, lambda i: True)
    lg.lines.insert(i + 1, lg.lines[i])
    lg.write(lg.lines)
    return Expected("duplicate-id", i + 2)


@_tamper("replay-old-entry")
def _replay_old_entry(lg: _Log, start: int) -> Expected:
    i = lg.pick(start, lambda i: True)
    lg.lines.append(lg.lines[i])
    lg.write(lg.lines)
    return Expected("duplicate-id", len(lg.lines))


@_tamper("truncate")
def _truncate(lg: _Log, start: int) -> Expected:
    """The last entries are gone; the checkpoint still covers them."""
    lg.write(lg.lines[:-3])
    return CHECKPOINT_FINDING


@_tamper("forged-checkpoint")
def _forged_checkpoint(lg: _Log, start: int) -> Expected:
    """The checkpoint is re-signed by a key the ledger never granted."""
    lg.write(lg.lines, resign=INTRUDER.key)
    return CHECKPOINT_FINDING


@_tamper("unknown-key")
def _unknown_key(lg: _Log, start: int) -> Expected:
    """A correctly signed claim by a key that was never granted is inserted mid-log."""
    i = lg.pick(start, lambda i: True)
    entry = _new_claim(INTRUDER.key, lg.entries[i - 1].at)
    lg.lines.insert(i, encode_entry(entry))
    lg.write(lg.lines)
    return Expected("unknown-key", i + 1)


def _append(lg: _Log, entry: Entry, resign: SigningKey) -> Expected:
    lg.lines.append(encode_entry(entry))
    lg.write(lg.lines, resign=resign)
    return Expected("", len(lg.lines))


@_tamper("revoked-key")
def _revoked_key(lg: _Log, start: int) -> Expected:
    """A retired key signs a note after its revocation (and re-signs the checkpoint)."""
    key = lg.key(len(lg.entries), "reviewer", revoked="retired")
    i = lg.last_claim_entry()
    subject = lg.entries[i].subject
    head = lg.state_at(len(lg.entries)).heads[subject]
    entry = _salted_body_note(subject, head, key, lg.entries[-1].at)
    return Expected("key-revoked", _append(lg, entry, key).line)


@_tamper("wrong-role")
def _wrong_role(lg: _Log, start: int) -> Expected:
    """A reviewer issues an otherwise well-formed verdict."""
    state = lg.state_at(len(lg.entries))
    key = lg.key(len(lg.entries), "reviewer")
    subject = lg.entries[lg.last_claim_entry()].subject
    claim = state.claims[subject]
    revision: Revision | None = None
    rating, changes = "true", False
    if claim.verdicts > 0:
        rating = "false" if claim.last_rating != "false" else "true"
        revision, changes = "update", True
    body = VerdictIssuedBody(
        salt=new_salt(random.Random(subject).randbytes),
        rating=rating,
        rationale="A reviewer may record claims and sources, not rate them.",
        revision=revision,
        changes_rating=changes,
    )
    entry = seal(
        kind="verdict.issued",
        subject=subject,
        parent=state.heads[subject],
        at=lg.entries[-1].at,
        body=body,
        key=key,
    )
    return Expected("role", _append(lg, entry, key).line)


@_tamper("stale-parent")
def _stale_parent(lg: _Log, start: int) -> Expected:
    """A note on one claim names another claim's head as its parent."""
    state = lg.state_at(len(lg.entries))
    key = lg.key(len(lg.entries), "reviewer")
    subject = lg.entries[lg.last_claim_entry()].subject
    other = next(s for s in reversed(list(state.heads)) if s.startswith("clm_") and s != subject)
    entry = _salted_body_note(subject, state.heads[other], key, lg.entries[-1].at)
    return Expected("stale-parent", _append(lg, entry, key).line)


@_tamper("fork")
def _fork(lg: _Log, start: int) -> Expected:
    """A note on a claim is chained to the claim's previous state, not its head."""
    key = lg.key(len(lg.entries), "reviewer")
    i = lg.last_claim_entry()
    entry = _salted_body_note(lg.entries[i].subject, lg.entries[i].parent, key, lg.entries[-1].at)
    return Expected("fork", _append(lg, entry, key).line)


def _rewrite(lg: _Log, start: int, rule: str, change: Callable[[bytes], bytes]) -> Expected:
    i = lg.pick(start, lambda i: True)
    lg.lines[i] = change(lg.lines[i])
    lg.write(lg.lines)
    return Expected(rule, i + 1)


@_tamper("non-canonical")
def _non_canonical(lg: _Log, start: int) -> Expected:
    """The same JSON value, re-encoded with a space after every comma."""

    def spaced(line: bytes) -> bytes:
        return json.dumps(json.loads(line), sort_keys=True, separators=(", ", ":")).encode()

    return _rewrite(lg, start, "canonical", spaced)


@_tamper("reordered-keys")
def _reordered_keys(lg: _Log, start: int) -> Expected:
    """The same JSON value, keys in reverse order, no whitespace."""

    def reverse(line: bytes) -> bytes:
        value = json.loads(line)
        return json.dumps(dict(reversed(value.items())), separators=(",", ":")).encode()

    return _rewrite(lg, start, "canonical", reverse)


@_tamper("duplicate-key")
def _duplicate_key(lg: _Log, start: int) -> Expected:
    """``"v":1`` occurs twice in one object."""
    return _rewrite(lg, start, "canonical", lambda ln: b'{"v":1,' + ln[1:])


@_tamper("bad-base64")
def _bad_base64(lg: _Log, start: int) -> Expected:
    """The signature's last character sets non-zero trailing bits: same bytes, other text.

    The schema's pattern for signatures refuses it before base64 decoding is reached,
    so verification reports the rule ``schema``.
    """
    canonical_last = {ord("A"): b"B", ord("Q"): b"R", ord("g"): b"h", ord("w"): b"x"}

    def loosen(line: bytes) -> bytes:
        pos = line.index(b'==","subject"') - 1
        return line[:pos] + canonical_last[line[pos]] + line[pos + 1 :]

    return _rewrite(lg, start, "schema", loosen)


@_tamper("urlsafe-base64")
def _urlsafe_base64(lg: _Log, start: int) -> Expected:
    """The signature written in the URL-safe alphabet (``-`` and ``_``)."""
    i = lg.pick(start, lambda i: any(c in lg.entries[i].sig[:-3] for c in "+/"))
    sig = lg.entries[i].sig
    url = sig.replace("+", "-").replace("/", "_").encode()
    lg.lines[i] = lg.lines[i].replace(sig.encode(), url)
    lg.write(lg.lines)
    return Expected("schema", i + 1)


@_tamper("torn-tail")
def _torn_tail(lg: _Log, start: int) -> Expected:
    """The last line lost its newline and some bytes: a write that did not finish."""
    data = b"".join(line + b"\n" for line in lg.lines[:-1]) + lg.lines[-1][:-17]
    lg.ledger.events_path.write_bytes(data)
    return Expected("torn-tail", len(lg.lines))


@_tamper("redaction-without-event")
def _redaction_without_event(lg: _Log, start: int) -> Expected:
    """A body is removed (header form) without any ``entry.redacted`` naming it."""
    kinds = ("note.added", "claim.corrected")
    i = lg.pick(start, lambda i: lg.entries[i].kind in kinds)
    lg.lines[i] = encode_entry(redacted(lg.entries[i]))
    lg.write(lg.lines)
    return Expected("redaction", i + 1)


KINDS: Final = tuple(TAMPERS)


def tamper(root: Path, kind: str, *, line: int | None = None) -> Expected:
    """Damage the generated ledger in ``root`` in place with one defect of class ``kind``.

    The defect goes at or after ``line`` (1-based; default: the middle of the log)
    where the kind allows; kinds that append go at the end. Returns the first error
    finding verification must report.
    """
    if kind not in TAMPERS:
        raise ValueError(f"unknown tamper kind {kind!r}; one of: {', '.join(KINDS)}")
    lg = _Log(root)
    if lg.entries[0].author != OWNER_FP:
        raise ValueError(f"{root} was not written by this generator (owner {OWNER_FP})")
    start = max(1, (line - 1) if line is not None else len(lg.lines) // 2)
    return TAMPERS[kind](lg, start)
