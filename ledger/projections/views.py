"""Typed results of :mod:`ledger.projections.queries`: frozen msgspec Structs.

They encode to JSON with ``msgspec.json.encode`` (the CLI's ``--json``) and carry
no behaviour. Every "who signed it" is a :class:`Signed`: the event id, its log
position, its author's fingerprint and key name, and the author-stated time.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class Signed(msgspec.Struct, frozen=True, kw_only=True):
    """The signed event behind a value."""

    id: str
    seq: int
    kind: str
    author: str
    author_name: str | None
    at: str


class FieldBlame(msgspec.Struct, frozen=True, kw_only=True):
    """Which signed event set one field of a claim (``git blame`` for claims)."""

    field: str
    value: Any
    event: Signed
    redacted: bool = False


class Appearance(msgspec.Struct, frozen=True, kw_only=True):
    source_id: str
    source_title: str | None
    quote: str | None
    locator: str | None


class VerdictView(msgspec.Struct, frozen=True, kw_only=True):
    """A verdict: its rating on the ledger's scale and its rationale."""

    rating: str | None
    rating_value: int | None
    rationale: str | None
    revision: str | None
    changes_rating: bool | None
    redacted: bool
    signed: Signed


class AttributionView(msgspec.Struct, frozen=True, kw_only=True):
    """A source linked to a claim, with the source's title and grade at the same position."""

    source_id: str | None
    source_title: str | None
    source_grade: str | None
    stance: str | None
    quote: str | None
    locator: str | None
    retrieved: str | None
    credibility: int | None
    withdrawn: bool
    withdraw_reason: str | None
    redacted: bool
    signed: Signed | None
    withdrawn_by: Signed | None = None


class ClaimState(msgspec.Struct, frozen=True, kw_only=True):
    """A claim as of a log position: every field, where it came from and who signed it."""

    claim_id: str
    as_of: int
    version_seq: int
    text: str | None
    kind: str | None
    claimant: str | None
    topics: list[str]
    status: str | None
    status_reason: str | None
    appearance: Appearance | None
    verdict: VerdictView | None
    attributions: list[AttributionView]
    blame: list[FieldBlame]
    redacted: list[str]
    """Fields whose signing event's body was redacted (their value is unknown)."""


class ClaimRow(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the claims list."""

    claim_id: str
    text: str | None
    claimant: str | None
    status: str | None
    verdict: str | None
    verdict_redacted: bool
    """The current verdict's body was redacted: ``verdict`` is None, but there is one."""
    sources: int
    last_seq: int
    last_at: str


class ClaimPage(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    offset: int
    limit: int
    as_of: int
    rows: list[ClaimRow]


class DiffOp(msgspec.Struct, frozen=True, kw_only=True):
    """A run of words that is unchanged, inserted or deleted."""

    op: Literal["equal", "insert", "delete"]
    text: str


class Change(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    old: Any
    new: Any


class HistoryStep(msgspec.Struct, frozen=True, kw_only=True):
    """One event of a claim's stream and what it changed."""

    event: Signed
    text: str | None
    """The claim's text after this step."""
    diff: list[DiffOp]
    """Word-level diff of the text against the previous step (empty: text unchanged)."""
    changes: list[Change]
    detail: dict[str, Any]
    """The event's own body fields worth showing (reason, rationale, source...)."""
    redacted: bool
    redaction_reason: str | None


class SourceView(msgspec.Struct, frozen=True, kw_only=True):
    source_id: str
    as_of: int
    title: str | None
    kind: str | None
    publisher: str | None
    url: str | None
    published: str | None
    grade: str | None
    grade_reason: str | None
    redacted: bool
    registered: Signed | None
    graded: Signed | None


class SourceAttribution(msgspec.Struct, frozen=True, kw_only=True):
    """A claim a source is attributed to."""

    claim_id: str
    claim_text: str | None
    stance: str | None
    quote: str | None
    locator: str | None
    credibility: int | None
    withdrawn: bool
    withdraw_reason: str | None
    seq: int


class DayCount(msgspec.Struct, frozen=True, kw_only=True):
    """Events per day (author-stated UTC dates), for the timeline strip."""

    day: str
    events: int
    first_seq: int
    last_seq: int


class EventView(msgspec.Struct, frozen=True, kw_only=True):
    """One projected entry. ``body`` is None on a redacted line."""

    seq: int
    id: str
    kind: str
    subject: str
    parent: str | None
    at: str
    author: str
    author_name: str | None
    body: dict[str, Any] | None
    body_hash: str | None
    redacted: bool
    redaction_reason: str | None
    byte_offset: int
    byte_length: int


class ReviewRow(msgspec.Struct, frozen=True, kw_only=True):
    """A claim with a current verdict, as the ClaimReview export needs it."""

    claim_id: str
    text: str | None
    claimant: str | None
    rating: str | None
    rating_value: int | None
    rationale: str | None
    verdict_at: str
    verdict_id: str
    appearance_url: str | None
    appearance_title: str | None
    verdict_seq: int = -1
    verdict_author: str = ""
    text_seq: int | None = None
    text_author: str | None = None


class ScaleStep(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    value: int | None


__all__ = [
    "Appearance",
    "AttributionView",
    "Change",
    "ClaimPage",
    "ClaimRow",
    "ClaimState",
    "DayCount",
    "DiffOp",
    "EventView",
    "FieldBlame",
    "HistoryStep",
    "ReviewRow",
    "ScaleStep",
    "Signed",
    "SourceAttribution",
    "SourceView",
    "VerdictView",
]
