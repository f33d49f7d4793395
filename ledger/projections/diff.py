"""Word-level diffs between two versions of a claim's text (pure)."""

from __future__ import annotations

import difflib
import re
from typing import Final, Literal

from ledger.projections.views import DiffOp

_TOKEN: Final = re.compile(r"\s+|[^\s]+")
EXACT_MAX: Final = 200_000
"""The largest product of the two differing middles' token counts that is diffed word by
word: difflib's matching grows faster than that product (0.06 s at 200 words a side,
2.5 s at 800), and a claim's text is the author's to make long. A larger middle shows as
replaced whole."""


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

    # The words both share at the start and the end are equal however the middle is
    # diffed: only the middle goes to the matcher (a correction touches a few words).
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    middle_a, middle_b = a[start : len(a) - end], b[start : len(b) - end]
    push("equal", a[:start])
    if len(middle_a) * len(middle_b) > EXACT_MAX:
        push("delete", middle_a)
        push("insert", middle_b)
    else:
        matcher = difflib.SequenceMatcher(None, middle_a, middle_b, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                push("equal", middle_a[i1:i2])
            else:
                push("delete", middle_a[i1:i2])
                push("insert", middle_b[j1:j2])
    push("equal", a[len(a) - end :])
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


__all__ = ["EXACT_MAX", "render", "tokens", "word_diff"]
