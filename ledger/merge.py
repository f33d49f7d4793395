"""Combine a diverged branch of the log without re-signing anyone's entries (DESIGN §5).

Positions are not signed, so the other branch's new entries can follow ours
unchanged. What cannot be combined is two changes to one subject from the same
parent (optimistic concurrency): the rules see the second as a fork or a stale
parent, and the merge stops, writing nothing, with every such subject named.

With ``skip_conflicts`` it appends the rest instead: every new entry of theirs on a
claim or source that both branches changed is left out (a subject's entries are one
chain, so none of them can follow ours), the rest is appended, and what was left
out is returned for the user to re-apply by hand. A fork on a key, or a key's
revocation that names a left-out entry, is never skipped: that merge stops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ledger import log
from ledger.codec import decode_entry
from ledger.entry import event_id
from ledger.errors import RuleViolation, TornWrite, UsageError
from ledger.events import Entry, EntryRedactedBody, KeyRevokedBody
from ledger.keys import SigningKey
from ledger.ledger import Appended, Ledger, Refused

CONFLICT_RULES = frozenset({"fork", "stale-parent"})
OTHER_HINT = "name the other branch's events file (e.g. 'git show BRANCH:events.jsonl > F')"
SKIPPABLE = ("clm_", "src_")
"""Subjects whose fork a merge may leave out: claims and sources, never keys."""


def _skippable(subjects: Iterable[str]) -> bool:
    return all(subject.startswith(SKIPPABLE) for subject in subjects)


@dataclass(frozen=True)
class Skipped:
    """An entry of theirs left out of a merge: its line in their file, id and entry."""

    line: int
    event_id: str
    entry: Entry


@dataclass
class Merged:
    """What a merge appended, and (with ``skip_conflicts``) what it left out."""

    appended: list[Appended] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def forked(self) -> list[str]:
        """The subjects whose entries were left out, in the order first met."""
        return list(dict.fromkeys(s.entry.subject for s in self.skipped))


def read_other(path: Path) -> list[tuple[str, Entry]]:
    """Decode another events file strictly: (event id, entry) in order."""
    out: list[tuple[str, Entry]] = []
    try:
        for line in log.scan(path, missing=OTHER_HINT):
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
    ledger: Ledger,
    other: Path,
    key: SigningKey | Callable[[], SigningKey],
    *,
    skip_conflicts: bool = False,
    on_wait: Callable[[], None] | None = None,
) -> Merged:
    """Append the new entries of ``other`` after ours; the checkpoint is re-signed by ``key``.

    ``key`` may be a function, called only when there is something to merge (it may ask
    for a passphrase, which is not done while the ledger is locked): a dry run under the
    lock first finds out whether any entry will be left once conflicts are left out,
    and raises a refusal before any prompt. Nothing is written unless every entry
    appended passes the rules at its new position. ``on_wait`` is called if another
    writer holds the lock.
    """
    theirs = read_other(other)
    with ledger.reading(on_wait=on_wait):
        ours = [event_id(entry) for _, entry in ledger.entries()]
    _same_ledger(ours, theirs, other)
    if not new_entries(ours, theirs):
        return Merged()
    if callable(key):  # what a merge would do, found out before asking for the key
        with ledger.writer(on_wait=on_wait) as writer:
            fits, left_out = _fit(ledger, theirs, other, skip_conflicts, writer.check_signed)
        if not fits:  # every new entry is left out: nothing to sign
            return Merged(skipped=sorted(left_out, key=lambda s: s.line))
    signing = key() if callable(key) else key
    merged = Merged()
    with ledger.writer(on_wait=on_wait) as writer:

        def append(entries: list[Entry]) -> None:
            merged.appended = writer.append_signed(entries, signing)

        _, merged.skipped = _fit(ledger, theirs, other, skip_conflicts, append)
        merged.skipped.sort(key=lambda s: s.line)
        # The other branch erased these bodies; carry the erasure out here too.
        appended = [a.entry for a in merged.appended]
        targets = {e.body.target for e in appended if isinstance(e.body, EntryRedactedBody)}
        if targets and ledger.erase(targets):
            writer.reload()
        return merged


def _fit(
    ledger: Ledger,
    theirs: list[tuple[str, Entry]],
    other: Path,
    skip_conflicts: bool,
    attempt: Callable[[list[Entry]], None],
) -> tuple[bool, list[Skipped]]:
    """``attempt`` the new entries (under the writer's lock), leaving out forks (with
    ``skip_conflicts``) until the rest passes: whether any entry was left to attempt,
    and those left out. A refusal that leaving out cannot cure is raised, explained."""
    ours = [event_id(entry) for _, entry in ledger.entries()]
    todo = new_entries(ours, theirs)
    skipped: list[Skipped] = []
    while todo:
        try:
            attempt([entry for _, entry in todo])
            return True, skipped
        except Refused as refused:
            forks = _skippable_forks(refused, todo, len(ours)) if skip_conflicts else set()
            if not forks:
                raise _explained(refused, todo, len(ours), other) from None
            todo, left_out = _leave_out(todo, forks, other)
            skipped.extend(left_out)
    return False, skipped


def _skippable_forks(refused: Refused, todo: list[tuple[int, Entry]], base: int) -> set[str]:
    """The claims and sources both branches changed, when leaving out their entries is
    all it takes; empty when any other problem (or a fork on a key) is among these."""
    problems = [(todo[pos - base][1], p) for pos, _, p in refused.problems]
    forks = {entry.subject for entry, p in problems if p.rule in CONFLICT_RULES}
    if not forks or not _skippable(forks):
        return set()
    if any(entry.subject not in forks or p.rule == "signature" for entry, p in problems):
        return set()  # a problem of its own beside the forks, or an altered entry
    return forks


def _leave_out(
    todo: list[tuple[int, Entry]], forks: set[str], other: Path
) -> tuple[list[tuple[int, Entry]], list[Skipped]]:
    kept: list[tuple[int, Entry]] = []
    left: list[Skipped] = []
    for line, entry in todo:
        if entry.subject in forks:
            left.append(Skipped(line, event_id(entry), entry))
        else:
            kept.append((line, entry))
    gone = {s.event_id: s.entry.subject for s in left}
    for line, entry in kept:
        if isinstance(entry.body, KeyRevokedBody) and entry.body.void_after in gone:
            raise RuleViolation(
                f"this key revocation's void_after names an entry on "
                f"{gone[entry.body.void_after]}, which both branches changed; nothing was merged",
                path=str(other),
                line=line,
                rule="fork",
                hint="a revocation is never left out, so this branch cannot be merged in part: "
                "redo its changes on this branch by hand ('factledger key revoke' first), "
                "and drop the branch",
            )
    return kept, left


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
    conflicts = sorted({entry.subject for (_, entry), p in problems if p.rule in CONFLICT_RULES})
    if conflicts:
        return RuleViolation(
            f"both branches changed {', '.join(conflicts)} from the same state; nothing was merged",
            rule="fork",
            hint="merge the rest with 'factledger merge --skip-conflicts', then re-apply "
            "the other branch's changes to those subjects with 'factledger claim ...' "
            "(or 'source ...')"
            if _skippable(conflicts)
            else "a fork on a key is never left out, so this branch cannot be merged in "
            "part: redo its changes on this branch by hand ('factledger key ...' first), "
            "and drop the branch",
        )
    (line, _), first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return RuleViolation(
        f"{first.message}{more}", path=str(other), line=line, rule=first.rule, hint=first.hint
    )
