"""Word-level diffs between two versions of a claim's text (pure)."""

from __future__ import annotations

import difflib
import re
from typing import Final, Literal

from ledger.projections.views import DiffOp

_TOKEN: Final = re.compile(r"\s+|[^\s]+")


def tokens(text: str) -> list[str]:
    """Words and the whitespace between them: joining the tokens gives the text back."""
    return _TOKEN.findall(text)


def word_diff(old: str | None, new: str | None) -> list[DiffOp]:
    """Runs of equal, deleted and inserted words turning ``old`` into ``new``.

    A replaced run is a deletion followed by an insertion; joining the ``equal``
    and ``delete`` runs gives ``old`` back, the ``equal`` and ``insert`` runs ``new``.
    """
    a, b = tokens(old or ""), tokens(new or "")
    ops: list[DiffOp] = []

    def push(op: Literal["equal", "insert", "delete"], words: list[str]) -> None:
        if not words:
            return
        text = "".join(words)
        if ops and ops[-1].op == op:
            ops[-1] = DiffOp(op=op, text=ops[-1].text + text)
        else:
            ops.append(DiffOp(op=op, text=text))

    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            push("equal", a[i1:i2])
        else:
            push("delete", a[i1:i2])
            push("insert", b[j1:j2])
    return ops


def render(ops: list[DiffOp]) -> str:
    """A one-line rendering: ``[-deleted-]{+inserted+}``, as ``git diff --word-diff`` does."""
    out = []
    for op in ops:
        if op.op == "equal":
            out.append(op.text)
        elif op.op == "delete":
            out.append(f"[-{op.text}-]")
        else:
            out.append(f"{{+{op.text}+}}")
    return "".join(out)


__all__ = ["render", "tokens", "word_diff"]
