"""Combine a diverged branch of the log without re-signing anyone's entries (DESIGN §5).

Positions are not signed, so the other branch's new entries can follow ours
unchanged. What cannot be combined is two changes to one subject from the same
parent (optimistic concurrency): the rules see the second as a fork or a stale
parent, and the merge stops, writing nothing, with every such subject named.
"""

from __future__ import annotations

from pathlib import Path

from ledger import log
from ledger.codec import decode_entry
from ledger.entry import event_id
from ledger.errors import RuleViolation
from ledger.events import Entry, EntryRedactedBody
from ledger.keys import SigningKey
from ledger.ledger import Appended, Ledger, Refused

CONFLICT_RULES = frozenset({"fork", "stale-parent"})


def read_other(path: Path) -> list[tuple[str, Entry]]:
    """Decode another events file strictly: (event id, entry) in order."""
    out: list[tuple[str, Entry]] = []
    for line in log.scan(path):
        entry = decode_entry(line.data, lineno=line.index + 1, path=str(path))
        out.append((event_id(entry), entry))
    return out


def new_entries(ours: list[str], theirs: list[tuple[str, Entry]]) -> list[Entry]:
    """Their entries after the common prefix that our log does not already hold, in order."""
    prefix = 0
    while prefix < min(len(ours), len(theirs)) and ours[prefix] == theirs[prefix][0]:
        prefix += 1
    have = set(ours)
    return [entry for eid, entry in theirs[prefix:] if eid not in have]


def merge_file(ledger: Ledger, other: Path, key: SigningKey) -> list[Appended]:
    """Append the new entries of ``other`` after ours; the checkpoint is re-signed by ``key``."""
    theirs = read_other(other)
    with ledger.writer() as writer:
        ours = [event_id(entry) for _, entry in ledger.entries()]
        todo = new_entries(ours, theirs)
        if not todo:
            return []
        try:
            done = writer.append_signed(todo, key)
        except Refused as refused:
            conflicts = sorted(
                {
                    todo[pos - len(ours)].subject
                    for pos, _, p in refused.problems
                    if p.rule in CONFLICT_RULES
                }
            )
            if conflicts:
                raise RuleViolation(
                    f"both branches changed {', '.join(dict.fromkeys(conflicts))} from the same "
                    "state; "
                    "nothing was merged",
                    rule="fork",
                    hint="re-apply the other branch's changes to those subjects by hand "
                    "(factledger claim ...), then merge the rest",
                ) from None
            raise
        # The other branch erased these bodies; carry the erasure out here too.
        targets = {e.body.target for e in todo if isinstance(e.body, EntryRedactedBody)}
        if targets and ledger.erase(targets):
            writer.reload()
        return done
