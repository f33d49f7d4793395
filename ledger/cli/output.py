"""How write verbs report what they appended: the new id on stdout, or --json."""

from __future__ import annotations

from collections.abc import Sequence

from ledger.cli.context import Context
from ledger.codec import encode_entry
from ledger.ledger import Appended


def print_appended(ctx: Context, done: Sequence[Appended], *, show_subject: bool = False) -> None:
    """Print each new event id (or, with ``show_subject``, the new claim/source id)."""
    if ctx.json:
        import json

        docs = [
            {"seq": a.seq, "id": a.id, "entry": json.loads(encode_entry(a.entry))} for a in done
        ]
        ctx.emit_json(docs[0] if len(docs) == 1 else docs)
        return
    for a in done:
        ctx.emit(a.entry.subject if show_subject else a.id)
