"""The v1 event vocabulary (DESIGN §2 and the normative body table of §4).

Each kind is one frozen msgspec Struct whose explicit tag string is the entry's
``kind``; it carries a typed, untagged body. A class rename never changes stored
bytes. A line holds either ``body`` (the full entry) or ``body_hash`` (the same
entry after redaction, DESIGN §2) — never both — so both are optional here and
the codec insists on exactly one.

Field constraints that the schema can state (patterns, ranges, enumerations) are
stated here, so that a decoded entry is already well-typed; rules that need the
log's state (authority, parents, references) live in :mod:`ledger.rules`.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, TypeAlias

import msgspec
from msgspec import UNSET, Meta, UnsetType

FORMAT_VERSION: Final = 1

# --- scalar shapes -------------------------------------------------------------

Salt = Annotated[str, Meta(pattern=r"^[A-Za-z0-9+/]{21}[AQgw]==\Z")]
"""Standard base64 of 16 bytes, with padding and zero trailing bits."""
EventId = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}\Z")]
Sha256Hex = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}\Z")]
Fingerprint = Annotated[str, Meta(pattern=r"^SHA256:[A-Za-z0-9+/]{43}\Z")]
Signature = Annotated[str, Meta(pattern=r"^[A-Za-z0-9+/]{85}[AQgw]==\Z")]
"""Standard base64 of 64 bytes, with padding and zero trailing bits."""
Timestamp = Annotated[
    str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")
]
Date = Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")]
ClaimId = Annotated[str, Meta(pattern=r"^clm_[a-z2-7]{12}\Z")]
SourceId = Annotated[str, Meta(pattern=r"^src_[a-z2-7]{12}\Z")]
SafeInt = Annotated[int, Meta(ge=-(2**53) + 1, le=2**53 - 1)]
"""I-JSON integers (RFC 7493 §2.2): exactly representable as a double."""
Credibility = Annotated[int, Meta(ge=1, le=6)]

Role = Literal["admin", "editor", "reviewer"]
Reliability = Literal["A", "B", "C", "D", "E", "F"]
SourceKind = Literal["article", "report", "interview", "dataset", "statement", "anonymous", "other"]
ClaimKind = Literal["factual", "opinion", "prediction"]
CorrectionKind = Literal["typo", "clarification", "substantive"]
Stance = Literal["supports", "disputes", "context"]
RevocationReason = Literal["retired", "compromised"]
Revision = Literal["correction", "update"]
ClaimStatus = Literal["open", "in_review", "published", "retracted"]


# --- bodies --------------------------------------------------------------------


class Body(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every body carries 16 random bytes so a redacted body cannot be guessed."""

    salt: Salt


class ScaleStep(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One rating on the ledger's scale; ``value`` None marks an off-scale rating."""

    name: str
    value: SafeInt | None


class LedgerCreatedBody(Body, frozen=True, kw_only=True):
    origin: str
    description: str
    owner: str
    owner_name: str
    scale: list[ScaleStep]


class KeyGrantedBody(Body, frozen=True, kw_only=True):
    key: str
    name: str
    role: Role


class KeyRevokedBody(Body, frozen=True, kw_only=True):
    reason: RevocationReason
    void_after: EventId | None
    note: str


class SourceRegisteredBody(Body, frozen=True, kw_only=True):
    title: str
    kind: SourceKind
    publisher: str | None
    url: str | None
    published: Date | None
    reliability: Reliability
    archive_url: str | None
    content_sha256: Sha256Hex | None


class SourceRegradedBody(Body, frozen=True, kw_only=True):
    reliability: Reliability
    reason: str


class Appearance(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the claim was made: a source, a short quote and a locator in it."""

    source: SourceId
    quote: str
    locator: str


class ClaimAssertedBody(Body, frozen=True, kw_only=True):
    text: str
    kind: ClaimKind
    claimant: str
    appearance: Appearance | None
    topics: list[str]


class ClaimCorrectedBody(Body, frozen=True, kw_only=True):
    text: str
    correction: CorrectionKind
    reason: str


class SourceAttributedBody(Body, frozen=True, kw_only=True):
    source: SourceId
    stance: Stance
    quote: str | None
    locator: str | None
    retrieved: Date | None
    credibility: Credibility | None


class AttributionWithdrawnBody(Body, frozen=True, kw_only=True):
    source: SourceId
    reason: str


class VerdictIssuedBody(Body, frozen=True, kw_only=True):
    rating: str
    rationale: str
    revision: Revision | None
    changes_rating: bool


class VerdictVoidedBody(Body, frozen=True, kw_only=True):
    reason: str


class ClaimStatusBody(Body, frozen=True, kw_only=True):
    status: ClaimStatus
    reason: str | None


class NoteAddedBody(Body, frozen=True, kw_only=True):
    text: str
    in_reply_to: EventId | None


class EntryRedactedBody(Body, frozen=True, kw_only=True):
    target: EventId
    reason: str


AnyBody: TypeAlias = (
    LedgerCreatedBody
    | KeyGrantedBody
    | KeyRevokedBody
    | SourceRegisteredBody
    | SourceRegradedBody
    | ClaimAssertedBody
    | ClaimCorrectedBody
    | SourceAttributedBody
    | AttributionWithdrawnBody
    | VerdictIssuedBody
    | VerdictVoidedBody
    | ClaimStatusBody
    | NoteAddedBody
    | EntryRedactedBody
)


# --- entries -------------------------------------------------------------------


class Entry(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", forbid_unknown_fields=True
):
    """One line of ``events.jsonl``: the envelope of DESIGN §2.

    Exactly one of ``body`` and ``body_hash`` is set: ``body_hash`` only on a line
    rewritten by a redaction.
    """

    v: int
    subject: str
    parent: EventId | None
    at: Timestamp
    author: Fingerprint
    sig: Signature
    body_hash: Sha256Hex | UnsetType = UNSET
    body: AnyBody | UnsetType = UNSET

    @property
    def kind(self) -> str:
        """The entry's kind: its tag string."""
        return _KIND_OF[type(self)]

    @property
    def redacted(self) -> bool:
        return self.body is UNSET


class LedgerCreated(Entry, tag="ledger.created", frozen=True, kw_only=True):
    """Genesis: names the ledger, its owner key (an admin) and its rating scale."""

    body: LedgerCreatedBody | UnsetType = UNSET


class KeyGranted(Entry, tag="key.granted", frozen=True, kw_only=True):
    """An admin admits a key with a role. Subject: the key's fingerprint."""

    body: KeyGrantedBody | UnsetType = UNSET


class KeyRevoked(Entry, tag="key.revoked", frozen=True, kw_only=True):
    """An admin withdraws a key's authority. Subject: the key's fingerprint."""

    body: KeyRevokedBody | UnsetType = UNSET


class SourceRegistered(Entry, tag="source.registered", frozen=True, kw_only=True):
    """A source enters the ledger with its Admiralty reliability grade (A–F)."""

    body: SourceRegisteredBody | UnsetType = UNSET


class SourceRegraded(Entry, tag="source.regraded", frozen=True, kw_only=True):
    """A source's reliability grade changes, with the reason."""

    body: SourceRegradedBody | UnsetType = UNSET


class ClaimAsserted(Entry, tag="claim.asserted", frozen=True, kw_only=True):
    """A claim is recorded: its text, who made it and where."""

    body: ClaimAssertedBody | UnsetType = UNSET


class ClaimCorrected(Entry, tag="claim.corrected", frozen=True, kw_only=True):
    """The claim's recorded wording changes; the old version stays in the log."""

    body: ClaimCorrectedBody | UnsetType = UNSET


class SourceAttributed(Entry, tag="source.attributed", frozen=True, kw_only=True):
    """A source is linked to a claim with a stance and a credibility (1–6)."""

    body: SourceAttributedBody | UnsetType = UNSET


class AttributionWithdrawn(Entry, tag="attribution.withdrawn", frozen=True, kw_only=True):
    """A source's link to a claim is withdrawn, with the reason."""

    body: AttributionWithdrawnBody | UnsetType = UNSET


class VerdictIssued(Entry, tag="verdict.issued", frozen=True, kw_only=True):
    """A rating on the ledger's scale, with its rationale."""

    body: VerdictIssuedBody | UnsetType = UNSET


class VerdictVoided(Entry, tag="verdict.voided", frozen=True, kw_only=True):
    """The current verdict no longer stands."""

    body: VerdictVoidedBody | UnsetType = UNSET


class ClaimStatusSet(Entry, tag="claim.status", frozen=True, kw_only=True):
    """The claim moves through open, in_review, published or retracted."""

    body: ClaimStatusBody | UnsetType = UNSET


class NoteAdded(Entry, tag="note.added", frozen=True, kw_only=True):
    """A reviewer's comment on a claim or source."""

    body: NoteAddedBody | UnsetType = UNSET


class EntryRedacted(Entry, tag="entry.redacted", frozen=True, kw_only=True):
    """An admin removes a body; the target line keeps only its header."""

    body: EntryRedactedBody | UnsetType = UNSET


AnyEntry: TypeAlias = (
    LedgerCreated
    | KeyGranted
    | KeyRevoked
    | SourceRegistered
    | SourceRegraded
    | ClaimAsserted
    | ClaimCorrected
    | SourceAttributed
    | AttributionWithdrawn
    | VerdictIssued
    | VerdictVoided
    | ClaimStatusSet
    | NoteAdded
    | EntryRedacted
)

ENTRY_TYPES: Final[tuple[type[Entry], ...]] = (
    LedgerCreated,
    KeyGranted,
    KeyRevoked,
    SourceRegistered,
    SourceRegraded,
    ClaimAsserted,
    ClaimCorrected,
    SourceAttributed,
    AttributionWithdrawn,
    VerdictIssued,
    VerdictVoided,
    ClaimStatusSet,
    NoteAdded,
    EntryRedacted,
)

BODY_TYPES: Final[dict[str, type[Body]]] = {
    "ledger.created": LedgerCreatedBody,
    "key.granted": KeyGrantedBody,
    "key.revoked": KeyRevokedBody,
    "source.registered": SourceRegisteredBody,
    "source.regraded": SourceRegradedBody,
    "claim.asserted": ClaimAssertedBody,
    "claim.corrected": ClaimCorrectedBody,
    "source.attributed": SourceAttributedBody,
    "attribution.withdrawn": AttributionWithdrawnBody,
    "verdict.issued": VerdictIssuedBody,
    "verdict.voided": VerdictVoidedBody,
    "claim.status": ClaimStatusBody,
    "note.added": NoteAddedBody,
    "entry.redacted": EntryRedactedBody,
}

ENTRY_BY_KIND: Final[dict[str, type[Entry]]] = {
    str(t.__struct_config__.tag): t for t in ENTRY_TYPES
}
_KIND_OF: Final[dict[type[Entry], str]] = {t: k for k, t in ENTRY_BY_KIND.items()}

KINDS: Final[tuple[str, ...]] = tuple(BODY_TYPES)

DEFAULT_SCALE: Final[tuple[ScaleStep, ...]] = (
    ScaleStep(name="true", value=5),
    ScaleStep(name="mostly-true", value=4),
    ScaleStep(name="half-true", value=3),
    ScaleStep(name="mostly-false", value=2),
    ScaleStep(name="false", value=1),
    ScaleStep(name="unproven", value=None),
)
