"""How write verbs report what they appended: the new id on stdout, or --json."""

from __future__ import annotations

from collections.abc import Sequence

from ledger.cli.context import Context
from ledger.codec import encode_entry
from ledger.errors import StorageError
from ledger.ledger import Appended


def print_appended(ctx: Context, done: Sequence[Appended], *, show_subject: bool = False) -> None:
    """Print each new event id (or, with ``show_subject``, the new claim/source id).

    The entries are in the ledger by now. If stdout cannot take the ids (a full disk,
    say), the error says so and names them, so that nobody appends them twice.
    """
    try:
        _print(ctx, done, show_subject=show_subject)
        ctx.out.flush()
    except BrokenPipeError:
        raise  # the reader went away (`| head`): not an error, as for every command
    except OSError as exc:
        if len(done) == 1:
            what = f"event {done[0].id} at seq {done[0].seq} ({done[0].entry.subject})"
        else:
            span = f", seq {done[0].seq} to {done[-1].seq}" if done else ""
            what = f"{len(done)} entries{span}"
        raise StorageError(
            f"appended {what}, but could not print it to stdout: {exc.strerror or exc}",
            hint="the ledger has it, so do not run the command again; 'factledger log' lists it",
        ) from None


def _print(ctx: Context, done: Sequence[Appended], *, show_subject: bool) -> None:
    if ctx.json:
        import json

        docs = [
            {"seq": a.seq, "id": a.id, "entry": json.loads(encode_entry(a.entry))} for a in done
        ]
        ctx.emit_json(docs[0] if len(docs) == 1 else docs)
        return
    for a in done:
        ctx.emit(a.entry.subject if show_subject else a.id)
