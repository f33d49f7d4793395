"""The event inspector's content: one entry's bytes, signature and inclusion proof (pure)."""

from __future__ import annotations

from rich.text import Text

from tui.model import Badge, Inspection
from tui.widgets.safe import safe_text
from tui.widgets.styles import BADGE, DIM, LABEL, VOID_WHY, badge

WIDTH = 11
CHANGED_WARNING = (
    "⚠ the log changed on disk other than by appending since the screen read it: the "
    "bytes below are not what the panes show. Press r to reread it, then v to verify."
)


def _row(out: Text, label: str, value: Text | str) -> None:
    out.append(f"\n{label:<{WIDTH}}", style=LABEL)
    out.append_text(value if isinstance(value, Text) else Text(value))


def inspection_text(inspection: Inspection, head: int, status: Badge) -> Text:
    e = inspection.event
    out = Text()
    out.append(f"entry #{e.seq}", style="bold")
    out.append(f" of {head} · line {e.seq + 1} · ", style=DIM)
    out.append(e.kind, style="bold")
    out.append("  ")
    out.append_text(badge(status, words=True))
    if status == "void":
        out.append(f": {VOID_WHY}", style=BADGE["void"][1])
    if inspection.changed:
        out.append("\n")
        out.append(CHANGED_WARNING, style="bold red")
    _row(out, "id", e.id)
    _row(out, "subject", safe_text(e.subject))
    _row(out, "parent", e.parent or Text("none (first of its stream)", style=DIM))
    _row(out, "at", Text(e.at).append(" (author-stated)", style=DIM))
    _row(out, "key", safe_text(e.author))
    signer = safe_text(e.author_name or "unknown key")
    if inspection.role:
        signer.append(f" · {inspection.role}", style=DIM)
    _row(out, "signer", signer)
    _row(out, "signature", safe_text(inspection.signature or "?"))
    if e.redacted:
        reason = safe_text(e.redaction_reason or "no reason given")
        _row(out, "redacted", Text("body removed: ", style="yellow").append_text(reason))
        _row(out, "body hash", e.body_hash or "")
    out.append(f"\n\ncanonical JSON, {len(inspection.line):,} bytes:", style=LABEL)
    out.append("\n")
    out.append_text(safe_text(inspection.line.decode("utf-8", errors="replace")))
    out.append("\n\n")
    out.append_text(proof_text(inspection, verified=status != "unchecked"))
    return out


def proof_text(inspection: Inspection, *, verified: bool = False) -> Text:
    out = Text("inclusion proof (RFC 9162 §2.1.3)", style=LABEL)
    proof, cp = inspection.proof, inspection.checkpoint
    if proof is None or cp is None:
        out.append("\n")
        out.append_text(safe_text(inspection.proof_note or "unavailable", DIM))
        return out
    out.append(f" of leaf {proof.index} in the checkpoint's tree of {proof.size:,}", style=DIM)
    _row(out, "leaf", proof.leaf.hex())
    for i, h in enumerate(proof.hashes, 1):
        _row(out, f"  {i}.", h.hex())
    _row(out, "root", proof.root.hex())
    out.append("\n")
    if proof.problem is None:
        out.append("✔ the proof leads to the checkpoint's root", style="bold green")
    else:
        out.append("✘ ", style="bold red")
        out.append_text(safe_text(proof.problem, "red"))
    out.append(
        "\n(the checkpoint's own signature "
        + ("is the verifier run's to check: see its findings)" if verified else "is checked by v)"),
        style=DIM,
    )
    return out


__all__ = ["CHANGED_WARNING", "inspection_text", "proof_text"]
