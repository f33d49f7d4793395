"""The fold over the log that every write and every verification goes through.

:func:`violations` lists what is wrong with an entry at its position, given the
state of the log before it; :func:`apply` advances the state past it. Appending
refuses an entry with any violation; verification reports all of them and goes
on. Both are pure: the state is a plain object the caller owns.

Rules (DESIGN §2, §4, §7, §8), each with a stable name used in reports:

``genesis``      line 0 is a ``ledger.created`` signed by its owner; never again
``unknown-key``  the author was granted (or is the owner) before the entry
``key-revoked``  the author's key is not revoked at the entry's position
``role``         the author's role permits the kind
``subject``      the subject has the shape the kind requires
``stale-parent`` ``parent`` is the current head of the subject stream
``fork``         ...and a second entry on the same parent is a fork
``reference``    referenced claims, sources, events and attributions exist
``key-grant``    a grant names a strictly admitted key under its own fingerprint
``verdict``      ratings are on the scale; revisions are declared honestly
``redaction``    only bodies of claim/source events are redacted, once, in-stream
``time``         ``at`` is a real UTC time, non-decreasing per stream, not in the future
``duplicate-id`` no event id occurs twice
"""

from __future__ import annotations

import re
from collections.abc import Iterator, MutableMapping, MutableSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

import msgspec
from msgspec import UNSET

from ledger.errors import BadKey, RuleViolation, StaleParent, UnknownKey
from ledger.events import (
    AttributionWithdrawnBody,
    ClaimAssertedBody,
    Entry,
    EntryRedactedBody,
    KeyGrantedBody,
    KeyRevokedBody,
    LedgerCreatedBody,
    NoteAddedBody,
    Role,
    SourceAttributedBody,
    VerdictIssuedBody,
    VerdictVoidedBody,
)
from ledger.keys import PublicKey, parse_public_key
from ledger.voids import Undone, VoidRange, settle_grants, void_key

REVIEWER_KINDS: Final = frozenset(
    {
        "claim.asserted",
        "claim.corrected",
        "source.attributed",
        "attribution.withdrawn",
        "source.registered",
        "source.regraded",
        "note.added",
    }
)
EDITOR_KINDS: Final = REVIEWER_KINDS | {"verdict.issued", "verdict.voided", "claim.status"}
ADMIN_KINDS: Final = EDITOR_KINDS | {"key.granted", "key.revoked", "entry.redacted"}
ROLE_KINDS: Final[dict[str, frozenset[str]]] = {
    "reviewer": REVIEWER_KINDS,
    "editor": EDITOR_KINDS,
    "admin": ADMIN_KINDS,
}
CLAIM_STREAM_KINDS: Final = frozenset(
    {
        "claim.corrected",
        "source.attributed",
        "attribution.withdrawn",
        "verdict.issued",
        "verdict.voided",
        "claim.status",
    }
)
UNREDACTABLE: Final = frozenset({"ledger.created", "key.granted", "key.revoked", "entry.redacted"})

CLAIM_RE: Final = re.compile(r"clm_[a-z2-7]{12}")
SOURCE_RE: Final = re.compile(r"src_[a-z2-7]{12}")
FINGERPRINT_RE: Final = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")
DEFAULT_SKEW: Final = timedelta(days=1)


def _in_the_future(at: str, skew: timedelta) -> RuleViolation:
    """The skew said as --max-skew takes it (``24 h``), not as timedelta prints it."""
    hours = f"{skew.total_seconds() / 3600:g} h"
    return _violation("time", f"'at' {at} is in the future (allowed skew {hours})")


@dataclass(frozen=True)
class Grant:
    """One grant of a key: where, by whom (None: the genesis), and the name and role."""

    seq: int
    by: str | None
    name: str
    role: Role


@dataclass
class KeyState:
    """A key's authority as the log has established it so far."""

    fingerprint: str
    public: PublicKey
    name: str
    role: Role
    granted_seq: int
    """Where the key was admitted: its first grant (a grant again changes name and role)."""
    revoked: str | None = None
    revoked_seq: int | None = None
    void_after: str | None = None
    granted_by: str | None = None
    """Fingerprint of the admin who admitted the key (None for the owner)."""
    revoked_by: str | None = None
    grants: list[Grant] = field(default_factory=list)
    """Every grant, in order, once the key was granted again (empty until then): the name
    and role in force are the last grant's that no ``compromised`` revocation voided."""
    undone: list[Undone] = field(default_factory=list)
    """Revocations of the key that a ``compromised`` revocation of their signer undid:
    each stands again if that compromised revocation is itself undone."""


class ClaimState(msgspec.Struct, omit_defaults=True):
    """What the rules need to know about one claim.

    A Struct so the state cache stores it as compact JSON (a new claim is ``{}``).
    """

    attributed: set[str] = msgspec.field(default_factory=set)
    opaque_attributions: bool = False
    rating: str | None = None
    last_rating: str | None = None
    verdicts: int = 0
    rating_unknown: bool = False
    """A verdict's body was redacted: whether a later one changes the rating is unknown."""


class EventInfo(msgspec.Struct, frozen=True, array_like=True):
    """Where an event sits: enough to check references to it (cached as a JSON array)."""

    seq: int
    kind: str
    subject: str
    author: str


@dataclass
class LedgerState:
    """Everything the rules know after folding a prefix of the log."""

    origin: str | None = None
    trust_root: str | None = None
    owner: str | None = None
    scale: frozenset[str] = frozenset()
    size: int = 0
    keys: dict[str, KeyState] = field(default_factory=dict)
    # The large parts are mapping protocols: dicts when folding in memory, tables
    # read on demand when the state comes from the cache (ledger.statecache).
    heads: MutableMapping[str, str] = field(default_factory=dict)
    last_at: MutableMapping[str, str] = field(default_factory=dict)
    claims: MutableMapping[str, ClaimState] = field(default_factory=dict)
    sources: MutableSet[str] = field(default_factory=set)
    events: MutableMapping[str, EventInfo] = field(default_factory=dict)
    redacted: MutableSet[str] = field(default_factory=set)
    unexplained_redactions: dict[str, int] = field(default_factory=dict)
    unerased: dict[str, int] = field(default_factory=dict)
    """Targets of an ``entry.redacted`` whose line still carries its body: id -> line index."""
    void: list[VoidRange] = field(default_factory=list)
    tainted: set[str] = field(default_factory=set)
    """Subjects whose head was set by a duplicate entry (see :func:`_may_repeat`)."""


def new_state(*, origin: str | None = None, trust_root: str | None = None) -> LedgerState:
    """The state before line 0; ``origin`` and ``trust_root`` pin the genesis when given."""
    return LedgerState(origin=origin, trust_root=trust_root)


def parse_time(at: str) -> datetime | None:
    """The UTC time of an ``at`` shaped ``YYYY-MM-DDTHH:MM:SSZ``; None if not a real time."""
    try:
        return datetime.fromisoformat(at)
    except ValueError:
        return None


def _violation(rule: str, message: str, hint: str | None = None) -> RuleViolation:
    return RuleViolation(message, rule=rule, hint=hint)


def violations(
    state: LedgerState,
    entry: Entry,
    event_id: str,
    *,
    now: datetime | None = None,
    skew: timedelta = DEFAULT_SKEW,
) -> Iterator[RuleViolation]:
    """Every rule the entry breaks at position ``state.size``; nothing if it is valid.

    ``now`` enables the future-time check (``at`` more than ``skew`` ahead of it).
    """
    kind = entry.kind
    if state.size == 0 or kind == "ledger.created":
        yield from _genesis(state, entry)
        if state.size == 0:
            when = parse_time(entry.at)
            if when is None:
                yield _violation("time", f"'at' {entry.at} is not a real UTC time")
            elif now is not None and when > now + skew:
                yield _in_the_future(entry.at, skew)
            return
    else:
        yield from _authority(state, entry)
    yield from _stream(state, entry, event_id, now, skew)
    if entry.body is not UNSET:
        yield from _references(state, entry)


def _genesis(state: LedgerState, entry: Entry) -> Iterator[RuleViolation]:
    if state.size > 0:
        yield _violation("genesis", "a ledger has exactly one ledger.created, on line 1")
        return
    body = entry.body
    if not isinstance(body, LedgerCreatedBody):
        yield _violation("genesis", f"line 1 must be ledger.created, not {entry.kind}")
        return
    if entry.subject != "ledger" or entry.parent is not None:
        yield _violation("genesis", "ledger.created has subject 'ledger' and no parent")
    try:
        owner = parse_public_key(body.owner)
    except BadKey as exc:
        yield _violation("key-grant", f"the owner key is not admissible: {exc.message}")
        return
    if owner.fingerprint != entry.author:
        yield _violation("genesis", "ledger.created is not signed by the owner key it names")
    if state.trust_root is not None and owner.fingerprint != state.trust_root:
        yield _violation(
            "genesis",
            f"the owner key {owner.fingerprint} is not the pinned trust root {state.trust_root}",
            hint="check --trust-root or ledger.toml; a replaced genesis is a different ledger",
        )
    if state.origin is not None and body.origin != state.origin:
        yield _violation("genesis", f"origin {body.origin!r} differs from {state.origin!r}")
    names = [step.name for step in body.scale]
    if not names or len(set(names)) != len(names):
        yield _violation("verdict", "the rating scale needs unique, non-empty names")


def _authority(state: LedgerState, entry: Entry) -> Iterator[RuleViolation]:
    key = state.keys.get(entry.author)
    if key is None:
        yield UnknownKey(
            f"signed by unknown key {entry.author}",
            rule="unknown-key",
            hint="only keys the ledger granted may sign: an admin grants one with "
            "'factledger key grant' before it signs",
        )
        return
    if key.revoked is not None:
        yield _violation(
            "key-revoked",
            f"signed by {key.name}'s key {entry.author}, revoked ({key.revoked}) at line "
            f"{(key.revoked_seq or 0) + 1}",
            hint="sign with a current key",
        )
    if entry.kind not in ROLE_KINDS[key.role]:
        yield _violation(
            "role",
            f"{key.name} is {'an' if key.role[0] in 'aeiou' else 'a'} {key.role} and may not "
            f"sign {entry.kind}",
            hint=f"ask {_WHO_MAY.get(entry.kind, 'the owner')} to sign it, or grant the key a "
            "wider role",
        )


_WHO_MAY: Final[dict[str, str]] = {
    kind: "an editor or admin" if kind in EDITOR_KINDS else "an admin"
    for kind in ADMIN_KINDS - REVIEWER_KINDS
}
"""Who may sign a kind that a reviewer may not (ledger.created: only the owner, once)."""


def _subject_ok(kind: str, subject: str) -> bool:
    if kind.startswith("key."):
        return FINGERPRINT_RE.fullmatch(subject) is not None
    if kind.startswith("source.") and kind != "source.attributed":
        return SOURCE_RE.fullmatch(subject) is not None
    if kind == "note.added":
        return bool(CLAIM_RE.fullmatch(subject) or SOURCE_RE.fullmatch(subject))
    if kind == "entry.redacted":
        return True
    return CLAIM_RE.fullmatch(subject) is not None


def _stream(
    state: LedgerState, entry: Entry, event_id: str, now: datetime | None, skew: timedelta
) -> Iterator[RuleViolation]:
    kind, subject = entry.kind, entry.subject
    if kind != "ledger.created" and not _subject_ok(kind, subject):
        yield _violation("subject", f"{subject!r} is not a valid subject for {kind}")
    head = state.heads.get(subject)
    if _may_repeat(state, entry, head) and event_id in state.events:
        first = state.events[event_id].seq + 1
        yield _violation("duplicate-id", f"event {event_id[:12]} already occurs on line {first}")
    if entry.parent != head:
        parent = state.events.get(entry.parent) if entry.parent else None
        if parent is not None and parent.subject == subject:
            yield _violation(
                "fork",
                f"{subject} already moved on from {entry.parent[:12] if entry.parent else ''}"
                f" (line {parent.seq + 1}); its head is {head[:12] if head else 'empty'}",
                hint="two changes were made from the same state; re-apply yours on the head",
            )
        else:
            yield StaleParent(
                f"parent {entry.parent[:12] if entry.parent else 'null'} is not the head of "
                f"{subject} ({head[:12] if head else 'empty stream'})",
                rule="stale-parent",
                hint="re-read the subject and retry against its head",
            )
    when = parse_time(entry.at)
    if when is None:
        yield _violation("time", f"'at' {entry.at} is not a real UTC time")
        return
    last = state.last_at.get(subject)
    if last is not None and entry.at < last:
        yield _violation("time", f"'at' {entry.at} is before the previous {subject} entry ({last})")
    if now is not None and when > now + skew:
        yield _in_the_future(entry.at, skew)


def _may_repeat(state: LedgerState, entry: Entry, head: str | None) -> bool:
    """Whether ``entry`` can be a repeat of an earlier one: else no id lookup is needed.

    A repeat names its original's parent, which stopped being the head when the
    original was appended; it is the head again only if a repeat of *it* came since,
    which taints the subject. So an entry whose parent is the head of an untainted
    subject is new, and the event index — on disk for large logs — is not read.
    """
    return entry.parent != head or entry.subject in state.tainted


def _references(state: LedgerState, entry: Entry) -> Iterator[RuleViolation]:
    body, subject, kind = entry.body, entry.subject, entry.kind
    claim = state.claims.get(subject)
    if kind in CLAIM_STREAM_KINDS and claim is None:
        yield _violation("reference", f"claim {subject} does not exist")
    if kind == "claim.asserted" and claim is not None:
        yield _violation(
            "subject",
            f"claim {subject} already exists",
            hint="record a change of wording with 'factledger claim correct'",
        )
    if kind == "source.registered" and subject in state.sources:
        yield _violation(
            "subject",
            f"source {subject} already exists",
            hint="change a grade with 'factledger source regrade'",
        )
    if kind == "source.regraded" and subject not in state.sources:
        yield _violation("reference", f"source {subject} does not exist")
    if isinstance(body, ClaimAssertedBody) and body.appearance is not None:
        if body.appearance.source not in state.sources:
            yield _violation("reference", f"source {body.appearance.source} does not exist")
    elif isinstance(body, SourceAttributedBody):
        if body.source not in state.sources:
            yield _violation("reference", f"source {body.source} does not exist")
    elif isinstance(body, AttributionWithdrawnBody):
        if claim and body.source not in claim.attributed and not claim.opaque_attributions:
            yield _violation(
                "reference", f"{body.source} is not attributed to {subject}; nothing to withdraw"
            )
    elif isinstance(body, VerdictIssuedBody):
        yield from _verdict(state, claim, body)
    elif kind == "verdict.voided" and claim and claim.rating is None and not claim.rating_unknown:
        yield _violation("verdict", f"{subject} has no current verdict to void")
    elif isinstance(body, NoteAddedBody):
        if subject not in state.claims and subject not in state.sources:
            yield _violation("reference", f"{subject} is neither a known claim nor a source")
        if body.in_reply_to is not None:
            target = state.events.get(body.in_reply_to)
            if target is None or target.subject != subject:
                yield _violation(
                    "reference", f"in_reply_to {body.in_reply_to[:12]} is no event of {subject}"
                )
    elif isinstance(body, KeyGrantedBody):
        yield from _grant(state, entry, body)
    elif isinstance(body, KeyRevokedBody):
        yield from _revoke(state, entry, body)
    elif isinstance(body, EntryRedactedBody):
        target = state.events.get(body.target)
        if target is None:
            yield _violation("redaction", f"redaction target {body.target[:12]} does not exist")
        elif target.subject != subject:
            yield _violation("redaction", "a redaction belongs to its target's subject stream")
        elif target.kind in UNREDACTABLE:
            yield _violation("redaction", f"an entry of kind {target.kind} cannot be redacted")
        elif body.target in state.redacted:
            yield _violation("redaction", f"{body.target[:12]} is already redacted")


def _verdict(
    state: LedgerState, claim: ClaimState | None, body: VerdictIssuedBody
) -> Iterator[RuleViolation]:
    if body.rating not in state.scale:
        yield _violation(
            "verdict",
            f"rating {body.rating!r} is not on the ledger's scale",
            hint=f"use one of: {', '.join(sorted(state.scale))}",
        )
    if claim is None:
        return
    if claim.verdicts == 0:
        if body.revision is not None or body.changes_rating:
            yield _violation(
                "verdict", "a first verdict has revision null and changes_rating false"
            )
        return
    if body.revision is None:
        yield _violation(
            "verdict",
            "a later verdict declares its revision ('correction' or 'update')",
            hint="pass --revision correction|update",
        )
    changes = body.rating != (claim.rating or claim.last_rating)
    if not claim.rating_unknown and body.changes_rating != changes:
        yield _violation(
            "verdict", f"changes_rating is {body.changes_rating} but should be {changes}"
        )


def _grant(state: LedgerState, entry: Entry, body: KeyGrantedBody) -> Iterator[RuleViolation]:
    try:
        key = parse_public_key(body.key)
    except BadKey as exc:
        yield _violation("key-grant", f"granted key is not admissible: {exc.message}")
        return
    if key.fingerprint != entry.subject:
        yield _violation("key-grant", "a key.granted entry's subject is the key's fingerprint")
    known = state.keys.get(key.fingerprint)
    if known is not None and known.revoked is not None:
        yield _violation(
            "key-grant",
            f"key {key.fingerprint} was revoked; a revoked key is never granted again",
            hint="generate a new key with 'factledger key new'",
        )


def _revoke(state: LedgerState, entry: Entry, body: KeyRevokedBody) -> Iterator[RuleViolation]:
    key = state.keys.get(entry.subject)
    if key is None:
        yield _violation("reference", f"key {entry.subject} was never granted")
        return
    if key.revoked is not None:
        yield _violation("key-revoked", f"key {entry.subject} is already revoked")
    if body.void_after is not None:
        if body.reason != "compromised":
            yield _violation("key-revoked", "void_after is only for a compromised key")
        target = state.events.get(body.void_after)
        if target is None or target.author != entry.subject:
            yield _violation(
                "reference", f"void_after {body.void_after[:12]} is no entry signed by this key"
            )


def apply(state: LedgerState, entry: Entry, event_id: str) -> None:
    """Advance ``state`` past ``entry`` (at position ``state.size``).

    Robust to invalid entries, so verification can go on after a finding.
    """
    seq, kind, subject, body = state.size, entry.kind, entry.subject, entry.body
    state.size += 1
    if not _may_repeat(state, entry, state.heads.get(subject)):
        state.events[event_id] = EventInfo(seq, kind, subject, entry.author)
    elif event_id in state.events:
        state.tainted.add(subject)
    else:
        state.events[event_id] = EventInfo(seq, kind, subject, entry.author)
    state.heads[subject] = event_id
    state.last_at[subject] = max(entry.at, state.last_at.get(subject, entry.at))
    if body is UNSET:
        state.unexplained_redactions[event_id] = seq
        _apply_redacted(state, kind, subject)
        return
    if isinstance(body, EntryRedactedBody) and body.target not in state.unexplained_redactions:
        target = state.events.get(body.target)
        if target is not None and body.target not in state.redacted:
            state.unerased[body.target] = target.seq
    if isinstance(body, LedgerCreatedBody):
        if seq == 0:
            _apply_genesis(state, entry, body)
    elif isinstance(body, KeyGrantedBody):
        _apply_grant(state, body, seq, entry.author)
    elif isinstance(body, KeyRevokedBody):
        _apply_revoke(state, entry, body, seq)
    elif kind == "source.registered":
        state.sources.add(subject)
    elif kind == "claim.asserted":
        state.claims.setdefault(subject, ClaimState())
    elif (claim := state.claims.get(subject)) is not None:
        _apply_claim(claim, body)
    if isinstance(body, EntryRedactedBody):
        state.redacted.add(body.target)
        state.unexplained_redactions.pop(body.target, None)


def _apply_redacted(state: LedgerState, kind: str, subject: str) -> None:
    if kind == "source.registered":
        state.sources.add(subject)
    elif kind == "claim.asserted":
        state.claims.setdefault(subject, ClaimState())
    elif (claim := state.claims.get(subject)) is None:
        return
    elif kind == "source.attributed":
        claim.opaque_attributions = True
    elif kind == "verdict.issued":
        claim.verdicts += 1
        claim.rating = claim.last_rating = None
        claim.rating_unknown = True
    elif kind == "verdict.voided":
        claim.rating = None


def _apply_genesis(state: LedgerState, entry: Entry, body: LedgerCreatedBody) -> None:
    try:
        owner = parse_public_key(body.owner)
    except BadKey:
        return
    state.owner = owner.fingerprint
    state.origin = state.origin or body.origin
    state.scale = frozenset(step.name for step in body.scale)
    state.keys[owner.fingerprint] = KeyState(
        owner.fingerprint, owner, body.owner_name, "admin", granted_seq=0
    )


def _apply_grant(state: LedgerState, body: KeyGrantedBody, seq: int, author: str) -> None:
    try:
        key = parse_public_key(body.key)
    except BadKey:
        return
    known = state.keys.get(key.fingerprint)
    if known is not None and known.revoked is not None:
        return
    if known is not None:
        # A grant again renames the key or changes its role; where and by whom it was
        # admitted stays, so a compromised admin's grants are still traced to it.
        if not known.grants:
            known.grants.append(Grant(known.granted_seq, known.granted_by, known.name, known.role))
        known.grants.append(Grant(seq, author, body.name, body.role))
        known.name, known.role = body.name, body.role
        return
    state.keys[key.fingerprint] = KeyState(
        key.fingerprint, key, body.name, body.role, seq, granted_by=author
    )


def _apply_revoke(state: LedgerState, entry: Entry, body: KeyRevokedBody, seq: int) -> None:
    key = state.keys.get(entry.subject)
    if key is None or key.revoked is not None:
        return
    key.revoked, key.revoked_seq, key.void_after = body.reason, seq, body.void_after
    key.revoked_by = entry.author
    if body.reason == "compromised":
        after = state.events.get(body.void_after) if body.void_after else None
        void_key(state, key.fingerprint, after.seq if after else -1, seq)
        settle_grants(state)


def _apply_claim(claim: ClaimState, body: object) -> None:
    if isinstance(body, SourceAttributedBody):
        claim.attributed.add(body.source)
    elif isinstance(body, AttributionWithdrawnBody):
        claim.attributed.discard(body.source)
    elif isinstance(body, VerdictIssuedBody):
        claim.rating = claim.last_rating = body.rating
        claim.verdicts += 1
        claim.rating_unknown = False
    elif isinstance(body, VerdictVoidedBody):
        claim.rating = None
