"""Append notes to a claim in batches through ``Ledger.writer()``; print each id once durable.

Usage::

    python tests/reliability/append_batches.py LEDGER KEYFILE CLAIM --batches B --size S
        [--text-bytes T] [--tag TAG]

The writer holds the lock for the whole run. Each batch is one ``Writer.append``:
signed, checked against the rules, written and fsynced as a unit. The batch's event
ids are printed, and stdout flushed, only after that call has returned, so every
line on stdout is an acknowledgement of a durable entry. The checkpoint is
re-signed once, when the writer closes (DESIGN §6, "batch appends").

Each note's text is ``TAG batch B item I``, a marker unique to the run (then, with
``--text-bytes``, a space and that many ``~``), so a test can tell an entry written
twice from two entries. The crash-loop and
concurrency tests run this script; the draft builders are importable.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from ledger.events import ClaimAssertedBody, NoteAddedBody
from ledger.keys import load_signing_key
from ledger.ledger import Draft, Ledger, new_id, new_salt

Rng = Callable[[int], bytes]


def note_draft(claim: str, text: str, rng: Rng = os.urandom) -> Draft:
    """A ``note.added`` on ``claim``, parented on whatever its head is when signed."""
    body = NoteAddedBody(salt=new_salt(rng), text=text, in_reply_to=None)
    return Draft("note.added", claim, body)


def claim_draft(text: str, rng: Rng = os.urandom) -> Draft:
    """A ``claim.asserted`` for a new claim with a random id."""
    body = ClaimAssertedBody(
        salt=new_salt(rng),
        text=text,
        kind="factual",
        claimant="the mayor",
        appearance=None,
        topics=[],
    )
    return Draft("claim.asserted", new_id("clm_", rng), body)


def marker(tag: str, batch: int, item: int) -> str:
    return f"{tag} batch {batch} item {item}"


def marker_of(text: str) -> str:
    """The marker a note's text starts with (its padding removed)."""
    return text.split(" ~", 1)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledger", type=Path)
    parser.add_argument("key", type=Path)
    parser.add_argument("claim")
    parser.add_argument("--batches", type=int, required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--text-bytes", type=int, default=0, help="padding per note")
    parser.add_argument("--tag", default="run")
    args = parser.parse_args(argv)
    ledger = Ledger.open(args.ledger)
    key = load_signing_key(args.key, None)
    padding = " " + "~" * args.text_bytes if args.text_bytes else ""
    with ledger.writer() as writer:
        for batch in range(args.batches):
            drafts = [
                note_draft(args.claim, marker(args.tag, batch, item) + padding)
                for item in range(args.size)
            ]
            done = writer.append(drafts, key)
            sys.stdout.write("".join(f"{appended.id}\n" for appended in done))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
