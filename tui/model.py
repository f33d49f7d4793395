"""What the terminal UI shows, as plain frozen values with no I/O (pure).

The workers of :mod:`tui.screens.main` build these from the projection queries and
the verifier (:mod:`tui.reader`) and hand them to the widgets in messages. Keeping
them pure lets the rules about *what* is shown — which version's diff, which event
the cursor changed, which badge an entry gets — be tested without a terminal.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from ledger.findings import Finding, Report
from ledger.projections import (
    ClaimState,
    DayCount,
    DiffOp,
    EventView,
    HistoryStep,
    ScaleStep,
)
from ledger.voids import is_void
from tui.catalog import Proof

Badge = Literal["verified", "void", "finding", "unchecked"]
STATUSES: Final = ("open", "in_review", "published", "retracted")
CLAIM_KINDS: Final = frozenset(
    {
        "claim.asserted",
        "claim.corrected",
        "claim.status",
        "verdict.issued",
        "verdict.voided",
        "source.attributed",
        "attribution.withdrawn",
        "note.added",
        "entry.redacted",
    }
)
"""Kinds whose subject may be a claim: a note and a redaction may also be a source's."""


def claim_of(kind: str, subject: str) -> str | None:
    """The claim an entry touched, if it touched one (a source's note is no claim's)."""
    return subject if kind in CLAIM_KINDS and subject.startswith("clm_") else None


@dataclass(frozen=True)
class Filters:
    """What narrows the claims list: ``/`` search text and the ``f`` filters."""

    text: str | None = None
    status: str | None = None
    verdict: str | None = None
    author: str | None = None
    source: str | None = None

    def with_text(self, text: str | None) -> Filters:
        return replace(self, text=text or None)

    @property
    def active(self) -> bool:
        return any((self.text, self.status, self.verdict, self.author, self.source))

    def describe(self) -> str:
        """``status=published verdict=true "haqqani"``; empty when nothing filters."""
        parts = [
            f"{name}={value}"
            for name, value in (
                ("status", self.status),
                ("verdict", self.verdict),
                ("author", self.author),
                ("source", self.source),
            )
            if value
        ]
        if self.text:
            parts.append(f'"{self.text}"')
        return " ".join(parts)


@dataclass(frozen=True)
class Checkpoint:
    """The checkpoint file's body (its signature is verification's business)."""

    size: int
    root: bytes


@dataclass(frozen=True)
class LedgerInfo:
    """What is known once the ledger is open: shown in the header and the timeline strip."""

    origin: str
    size: int
    checkpoint: Checkpoint | None
    timeline: tuple[DayCount, ...]
    scale: tuple[ScaleStep, ...]
    test_keys: bool
    """The pinned trust root is a published demo/test key."""
    unsafe_allow_test_keys: bool
    note: str | None = None
    """Why the projection is held in memory, when it is."""

    @property
    def head(self) -> int:
        return self.size - 1

    def day_of(self, position: int) -> DayCount | None:
        """The timeline bucket holding ``position`` (no query: the strip moves at once)."""
        firsts = [d.first_seq for d in self.timeline]
        i = bisect.bisect_right(firsts, position) - 1
        if i < 0:
            return None
        day = self.timeline[i]
        return day if day.first_seq <= position <= day.last_seq else None


@dataclass(frozen=True)
class ClaimView:
    """One claim as of the cursor, with its whole history and the diff to show."""

    claim_id: str
    position: int
    state: ClaimState | None
    """``None`` when the claim was not asserted yet at ``position``."""
    history: tuple[HistoryStep, ...]
    text_step: HistoryStep | None
    """The step that wrote the current text."""
    diff: tuple[DiffOp, ...]
    """The current text against the previous version (empty for the first version)."""
    versions: int
    """How many versions of the text exist as of ``position``."""
    at_cursor: HistoryStep | None
    """The claim's step at exactly ``position``: what the cursor's event changed."""


@dataclass(frozen=True)
class Verification:
    """A finished verification and the per-entry badges it implies."""

    report: Report
    bad_lines: frozenset[int] = field(default_factory=frozenset)
    void_verdicts: Mapping[str, tuple[tuple[int, int | None], ...]] = field(default_factory=dict)
    """Per claim, the positions ``[from, to)`` at which its current verdict is one a
    ``compromised`` revocation voided (``to`` ``None``: from then on)."""
    beside: bytes | None = None
    """:func:`tui.reader.beside_log` of the files read besides the log, the same before
    and after the run (``None``: they changed during it, or were not noted)."""

    @classmethod
    def of(
        cls,
        report: Report,
        void_verdicts: Mapping[str, tuple[tuple[int, int | None], ...]] | None = None,
        beside: bytes | None = None,
    ) -> Verification:
        bad = frozenset(
            f.line for f in report.findings if f.severity == "error" and f.line is not None
        )
        return cls(report, bad, dict(void_verdicts or {}), beside)

    @property
    def ok(self) -> bool:
        return self.report.ok

    @property
    def findings(self) -> list[Finding]:
        return self.report.findings

    def badge(self, seq: int, author: str | None = None) -> Badge:
        """``finding`` if an error names the entry's line; ``void`` if it checked but a
        ``compromised`` revocation of its ``author``'s key voided it; ``verified`` if it
        was checked and neither; ``unchecked`` for entries the run did not cover."""
        if self.faulted(seq):
            return "finding"
        if not 0 <= seq < self.report.entries:
            return "unchecked"
        if author is not None and is_void(self.report.void, seq, author):
            return "void"
        return "verified"

    def verdict_void(self, claim_id: str, position: int) -> bool:
        """Whether the claim's current verdict at ``position`` is void."""
        return any(
            start <= position and (end is None or position < end)
            for start, end in self.void_verdicts.get(claim_id, ())
        )

    def faulted(self, seq: int) -> bool:
        """Whether an error finding names entry ``seq``'s line (its signature does not
        match what it says, say): nothing it sets is proven to be its signer's."""
        return seq + 1 in self.bad_lines

    def voided(self, seq: int, author: str, as_of: int | None = None) -> bool:
        """Whether a ``compromised`` revocation the run saw voids entry ``seq`` (one at
        or before position ``as_of``, when given)."""
        return not self.faulted(seq) and is_void(self.report.void, seq, author, as_of)


@dataclass(frozen=True)
class Inspection:
    """One entry as the inspector shows it: its bytes, signature and inclusion proof."""

    event: EventView
    line: bytes
    """The canonical JSON line, exactly as in the log."""
    signature: str | None
    role: str | None
    checkpoint: Checkpoint | None
    proof: Proof | None
    proof_note: str | None
    """Why there is no proof, when there is none."""
    changed: bool = False
    """The log no longer reads at this entry as it did when the screen read it: it was
    changed other than by appending, and the panes show what it said before."""


def badge_for(verification: Verification | None, seq: int, author: str | None = None) -> Badge:
    """The badge of entry ``seq`` signed by ``author``: never assumed, only from a
    verifier run."""
    return "unchecked" if verification is None else verification.badge(seq, author)


def claim_view(
    claim_id: str,
    position: int,
    state: ClaimState | None,
    history: tuple[HistoryStep, ...],
) -> ClaimView:
    """Pick, from the claim's history, the text version current at ``position``, its
    diff against the version before it, and the step the cursor's event is."""
    past = [s for s in history if s.event.seq <= position]
    text_steps = [s for s in past if s.diff]
    text_step = text_steps[-1] if text_steps else None
    first_version = len(text_steps) <= 1
    diff = () if text_step is None or first_version else tuple(text_step.diff)
    at_cursor = next((s for s in past if s.event.seq == position), None)
    return ClaimView(
        claim_id=claim_id,
        position=position,
        state=state,
        history=history,
        text_step=text_step,
        diff=diff,
        versions=len(text_steps),
        at_cursor=at_cursor,
    )


def affects(event: EventView, view: ClaimView) -> bool:
    """Whether crossing ``event`` (one step of the cursor) can change ``view``.

    A claim as of a position is its own stream's events plus, through its
    attributions and appearance, its sources' titles and grades; signer names are
    the keys' current names, whatever the position. So only an event on the claim
    or on one of its sources changes it.
    """
    if event.subject == view.claim_id:
        return True
    state = view.state
    if state is None:
        return False
    sources = {a.source_id for a in state.attributions}
    if state.appearance is not None:
        sources.add(state.appearance.source_id)
    return event.subject in sources


def claim_seqs(history: tuple[HistoryStep, ...]) -> list[int]:
    return [s.event.seq for s in history]


def step_claim(history: tuple[HistoryStep, ...], position: int, direction: int) -> int | None:
    """The claim's previous (``-1``) or next (``+1``) event from ``position``, if any."""
    seqs = claim_seqs(history)
    if direction < 0:
        i = bisect.bisect_left(seqs, position) - 1
        return seqs[i] if i >= 0 else None
    i = bisect.bisect_right(seqs, position)
    return seqs[i] if i < len(seqs) else None


def clamp(position: int, head: int) -> int:
    return max(0, min(position, head))


def finding_position(finding: Finding, head: int, events_file: str) -> int | None:
    """The log position a finding points at (its line), if it names an entry of the log:
    not a line past the last entry (a torn tail is no entry, and the last is innocent)."""
    if finding.line is None or finding.file != events_file or finding.line - 1 > head:
        return None
    return clamp(finding.line - 1, head)


__all__ = [
    "CLAIM_KINDS",
    "STATUSES",
    "Badge",
    "Checkpoint",
    "ClaimView",
    "Filters",
    "Inspection",
    "LedgerInfo",
    "Verification",
    "affects",
    "badge_for",
    "claim_of",
    "claim_seqs",
    "claim_view",
    "clamp",
    "finding_position",
    "step_claim",
]
