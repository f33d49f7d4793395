"""Shared Rich styles and small text builders for ledger values (status, verdict, badges)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from rich.style import Style
from rich.text import Text

from ledger.projections import EventView, ScaleStep, Signed
from tui.model import Badge, Verification
from tui.widgets.safe import safe_text

STATUS: Final[dict[str, Style]] = {
    "open": Style(color="bright_black"),
    "in_review": Style(color="yellow"),
    "published": Style(color="green"),
    "retracted": Style(color="red", strike=True),
}
_RATING: Final[dict[int, Style]] = {
    5: Style(color="green", bold=True),
    4: Style(color="green"),
    3: Style(color="yellow"),
    2: Style(color="dark_orange"),
    1: Style(color="red", bold=True),
}
OFF_SCALE: Final = Style(color="magenta")
BADGE: Final[dict[Badge, tuple[str, Style]]] = {
    "verified": ("✔", Style(color="green", bold=True)),
    "void": ("⊘", Style(color="dark_orange", bold=True)),
    "finding": ("✘", Style(color="red", bold=True)),
    "unchecked": ("○", Style(color="bright_black")),
}
BADGE_WORDS: Final[dict[Badge, str]] = {
    "verified": "verified",
    "void": "void",
    "finding": "finding",
    "unchecked": "not yet checked",
}
CHANGED: Final = Style(reverse=True, bold=True)
"""What the event at the cursor changed."""
INSERTED: Final = Style(color="green", bold=True, underline=True)
DELETED: Final = Style(color="red", strike=True)
DIM: Final = Style(color="bright_black")
FUTURE: Final = Style(color="grey39", bold=False)
"""Events after the cursor: they have not happened yet at that position."""
LABEL: Final = Style(bold=True)


def verdict_style(rating: str | None, scale: Sequence[ScaleStep]) -> Style:
    if rating is None:
        return DIM
    for step in scale:
        if step.name == rating:
            return _RATING.get(step.value, OFF_SCALE) if step.value is not None else OFF_SCALE
    return OFF_SCALE


def badge(kind: Badge, *, words: bool = False) -> Text:
    glyph, style = BADGE[kind]
    return Text(f"{glyph} {BADGE_WORDS[kind]}" if words else glyph, style=style)


def badge_legend() -> Text:
    out = Text()
    for i, kind in enumerate(BADGE):
        if i:
            out.append("  ")
        out.append_text(badge(kind, words=True))
    return out


def signer(signed: Signed | EventView, role: str | None) -> Text:
    """``Kofi Asante · editor`` (the fingerprint when the key has no name)."""
    out = safe_text(signed.author_name or signed.author)
    if role:
        out.append(f" · {role}", style=DIM)
    return out


VOID_WHY: Final = "its key was revoked as compromised"
VOID_MARK: Final = f"  ⊘ VOID: {VOID_WHY}"


FINDING_WHY: Final = "the verifier found fault with this entry"
FINDING_MARK: Final = f"  ✘ FINDING: {FINDING_WHY}"


def entry_mark(verification: Verification | None, signed: Signed | EventView, as_of: int) -> Text:
    """The warning after a signer whose entry the last verifier run did not accept: an
    error finding names its line (its signature does not match what it says, say: the
    signer shown is not proven), or a ``compromised`` revocation voided it (as of
    position ``as_of``: a revocation after it had voided nothing yet); empty otherwise."""
    if verification is None:
        return Text()
    if verification.faulted(signed.seq):
        return Text(FINDING_MARK, style=BADGE["finding"][1])
    if verification.voided(signed.seq, signed.author, as_of):
        return Text(VOID_MARK, style=BADGE["void"][1])
    return Text()


def when(at: str) -> str:
    """``2024-06-12 14:00`` from ``2024-06-12T14:00:00Z`` (author-stated UTC)."""
    return at[:16].replace("T", " ")


__all__ = [
    "BADGE",
    "CHANGED",
    "DELETED",
    "DIM",
    "FINDING_MARK",
    "FINDING_WHY",
    "FUTURE",
    "INSERTED",
    "LABEL",
    "OFF_SCALE",
    "STATUS",
    "VOID_MARK",
    "VOID_WHY",
    "badge",
    "badge_legend",
    "entry_mark",
    "signer",
    "verdict_style",
    "when",
]
