"""Combine a diverged branch of the log without re-signing anyone's entries (DESIGN §5).

Positions are not signed, so the other branch's new entries can follow ours
unchanged. What cannot be combined is two changes to one subject from the same
parent (optimistic concurrency): the rules see the second as a fork or a stale
parent, and the merge stops, writing nothing, with every such subject named.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ledger import log
from ledger.codec import decode_entry
from ledger.entry import event_id
from ledger.errors import RuleViolation, TornWrite, UsageError
from ledger.events import Entry, EntryRedactedBody
from ledger.keys import SigningKey
from ledger.ledger import Appended, Ledger, Refused

CONFLICT_RULES = frozenset({"fork", "stale-parent"})


def read_other(path: Path) -> list[tuple[str, Entry]]:
    """Decode another events file strictly: (event id, entry) in order."""
    out: list[tuple[str, Entry]] = []
    try:
        for line in log.scan(path):
            entry = decode_entry(line.data, lineno=line.index + 1, path=str(path))
            out.append((event_id(entry), entry))
    except TornWrite as exc:
        raise TornWrite(
            exc.message,
            path=str(path),
            line=exc.line,
            rule=exc.rule,
            hint="it is not a whole events file: copy it again (repair acts on this ledger)",
        ) from None
    return out


def new_entries(ours: list[str], theirs: list[tuple[str, Entry]]) -> list[tuple[int, Entry]]:
    """Their entries after the common prefix that our log does not already hold, in order,
    each with its line number (1-based) in their file."""
    prefix = 0
    while prefix < min(len(ours), len(theirs)) and ours[prefix] == theirs[prefix][0]:
        prefix += 1
    have = set(ours)
    return [
        (prefix + n + 1, entry) for n, (eid, entry) in enumerate(theirs[prefix:]) if eid not in have
    ]


def merge_file(
    ledger: Ledger, other: Path, key: SigningKey | Callable[[], SigningKey]
) -> list[Appended]:
    """Append the new entries of ``other`` after ours; the checkpoint is re-signed by ``key``.

    ``key`` may be a function, called only when there is something to merge (it may ask
    for a passphrase, which is not done while the ledger is locked).
    """
    theirs = read_other(other)
    with ledger.reading():
        ours = [event_id(entry) for _, entry in ledger.entries()]
    _same_ledger(ours, theirs, other)
    if not new_entries(ours, theirs):
        return []
    signing = key() if callable(key) else key
    with ledger.writer() as writer:
        ours = [event_id(entry) for _, entry in ledger.entries()]
        todo = new_entries(ours, theirs)
        if not todo:
            return []
        try:
            done = writer.append_signed([entry for _, entry in todo], signing)
        except Refused as refused:
            raise _explained(refused, todo, len(ours), other) from None
        # The other branch erased these bodies; carry the erasure out here too.
        targets = {e.body.target for _, e in todo if isinstance(e.body, EntryRedactedBody)}
        if targets and ledger.erase(targets):
            writer.reload()
        return done


def _same_ledger(ours: list[str], theirs: list[tuple[str, Entry]], other: Path) -> None:
    if theirs and ours and theirs[0][0] != ours[0]:
        raise UsageError(
            f"{other} is the log of another ledger: its genesis entry is not ours",
            hint="merge only a branch of this ledger (e.g. 'git show BRANCH:events.jsonl')",
        )


def _explained(
    refused: Refused, todo: list[tuple[int, Entry]], base: int, other: Path
) -> RuleViolation:
    """The refusal that says most: an altered entry, else a conflict, else the first."""
    problems = [(todo[pos - base], p) for pos, _, p in refused.problems]
    for (line, _), problem in problems:
        if problem.rule == "signature":
            return RuleViolation(
                problem.message, path=str(other), line=line, rule=problem.rule, hint=problem.hint
            )
    conflicts = [entry.subject for (_, entry), p in problems if p.rule in CONFLICT_RULES]
    if conflicts:
        return RuleViolation(
            f"both branches changed {', '.join(sorted(set(conflicts)))} from the same state; "
            "nothing was merged",
            rule="fork",
            hint="re-apply the other branch's changes to those subjects by hand "
            "(factledger claim ...), then merge the rest",
        )
    (line, _), first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return RuleViolation(
        f"{first.message}{more}", path=str(other), line=line, rule=first.rule, hint=first.hint
    )
