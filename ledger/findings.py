"""What verification found, and the checks made once the fold is done (DESIGN §5, §8).

A :class:`Report` collects :class:`Finding` s. The functions here are pure: they turn
the folded rule state, the log's root and the checkpoint notes :func:`ledger.verify.verify`
read into findings — body removals left unexplained, erasures not carried out, keys
revoked as compromised, the checkpoint against the log, and the pull-request gate
against an earlier checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from ledger import merkle, rules
from ledger.checkpoint import Checkpoint, open_checkpoint, parse_body
from ledger.errors import DecodeError, NoteError
from ledger.keys import PublicKey
from ledger.ledger import CHECKPOINT_NAME, LedgerConfig
from ledger.voids import VoidRange

Severity = Literal["error", "notice"]

RULES: Final = (
    "json",
    "schema",
    "canonical",
    "line-too-long",
    "base64",
    "signature",
    "genesis",
    "trust-root",
    "unknown-key",
    "key-revoked",
    "role",
    "subject",
    "stale-parent",
    "fork",
    "duplicate-id",
    "reference",
    "key-grant",
    "verdict",
    "redaction",
    "time",
    "torn-tail",
    "checkpoint",
    "since",
)
"""Every rule class a finding can name, in report order (JUnit has one case each)."""


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the ledger (or, as a notice, worth knowing)."""

    rule: str
    message: str
    line: int | None = None
    event_id: str | None = None
    hint: str | None = None
    severity: Severity = "error"
    file: str = "events.jsonl"


@dataclass
class Report:
    """What :func:`verify` found; ``ok`` when there is no error finding."""

    origin: str
    trust_root: str
    entries: int = 0
    root: bytes = merkle.EMPTY_ROOT
    findings: list[Finding] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    since: Checkpoint | None = None
    seconds: float = 0.0
    void: list[VoidRange] = field(default_factory=list)
    """The entries a ``compromised`` revocation voided, as of the last entry checked."""

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]


@dataclass(frozen=True)
class Since:
    """The earlier state a change must only append to: a signed checkpoint and its policy."""

    note: bytes
    config: LedgerConfig | None = None
    label: str = "the earlier checkpoint"
    file: str = CHECKPOINT_NAME
    """Where the note came from (relative to the ledger), for a finding about it."""


def check_state(state: rules.LedgerState, file: str) -> list[Finding]:
    """What only the whole fold shows: bodies removed or kept against the redactions,
    and (as notices) the entries a ``compromised`` revocation voided."""
    found: list[Finding] = []
    if state.size == 0:  # no line 1, so no rule ever ran on one: an empty log proves nothing
        found.append(
            Finding(
                "genesis",
                "the log holds no entry: a ledger begins with ledger.created on line 1",
                hint="an empty log is no ledger; restore it from git (git log -- " + file + ")",
                file=file,
            )
        )
    for eid, seq in sorted(state.unexplained_redactions.items(), key=lambda kv: kv[1]):
        found.append(
            Finding(
                "redaction",
                "this line carries only its header, but no entry.redacted targets it",
                seq + 1,
                eid,
                hint="a body may only be removed by 'factledger redact'",
                file=file,
            )
        )
    for eid, seq in sorted(state.unerased.items(), key=lambda kv: kv[1]):
        found.append(
            Finding(
                "redaction",
                "an entry.redacted targets this line, but its body is still in the log",
                seq + 1,
                eid,
                hint="the erasure did not happen; rewrite the line with 'factledger redact' "
                "semantics (e.g. after a merge, run 'factledger merge' rather than git)",
                file=file,
            )
        )
    # A revoked key's stream ends at its revocation, so its head is the revocation's
    # event; a range that a cascade voided ends at the revocation of another void key.
    revocations: dict[int, str] = {}
    for author in {void.author for void in state.void}:
        head = state.heads.get(author)
        info = state.events.get(head) if head else None
        if head and info is not None and info.kind == "key.revoked":
            revocations[info.seq] = head
    for void in state.void:
        key = state.keys.get(void.author)
        name = key.name if key else void.author
        revocation = revocations.get(void.revoked_seq)
        found.append(
            Finding(
                "key-compromised",
                f"{name}'s key was revoked as compromised on line {void.revoked_seq + 1}: its "
                + (
                    f"entries after line {void.after_seq + 1}"
                    if void.after_seq >= 0
                    else "entries (all of them, no void_after was given)"
                )
                + " before the revocation are void",
                void.revoked_seq + 1,
                revocation,
                severity="notice",
                file=file,
            )
        )
    return found


def ledger_keys(state: rules.LedgerState) -> list[PublicKey]:
    """Keys that may sign a checkpoint of this state: not revoked, except by its last entry.

    (The appending key re-signs the checkpoint, so an admin who revokes their own key
    signs one last checkpoint with it.)
    """
    last = state.size - 1
    return [
        k.public
        for k in state.keys.values()
        if k.revoked is None or (k.revoked == "retired" and k.revoked_seq == last)
    ]


def test_key_grants(
    grants: list[tuple[str, Finding]], state: rules.LedgerState, redactors: set[str]
) -> list[Finding]:
    """The grants of published demo/test keys, as the whole log leaves them: an error,
    unless the key now stands revoked as compromised with no ``void_after``, so that all
    it signed is void and it signs nothing more; then a notice that it was let in. A key
    that redacted an entry (one of ``redactors``) stays an error: voiding the redaction
    does not bring back the body it erased."""
    out = []
    for fingerprint, grant in grants:
        key = state.keys.get(fingerprint)
        if fingerprint in redactors:
            grant = replace(
                grant,
                message=grant.message + "; it redacted an entry, whose body no revocation "
                "brings back",
                hint="the erased body is in git history only, so this stays a finding; "
                "pass --unsafe-allow-test-keys only for the bundled demo",
            )
        elif key is not None and key.revoked == "compromised" and key.void_after is None:
            grant = replace(
                grant,
                message=grant.message + "; it was revoked as compromised since, and all "
                "it signed is void",
                hint=None,
                severity="notice",
            )
        out.append(grant)
    return out


def check_checkpoint(
    note: bytes | None,
    keys: list[PublicKey],
    report: Report,
    *,
    root_with_tail: bytes | None = None,
) -> None:
    """The checkpoint ``note`` (None: there is none) against the log ``report`` describes.

    ``root_with_tail``: the log ends in a whole entry that lacks only its newline, which
    ``report.entries`` does not count, and this is the root with it. A checkpoint that
    counts it and has that root signed the entry as it is: no truncation, nothing but
    the newline lost (the torn-tail finding says how to add it back). With another root,
    the log differs from what was signed, as for a whole log.
    """
    if note is None:
        report.findings.append(
            Finding("checkpoint", "the ledger has no checkpoint", file=CHECKPOINT_NAME)
        )
        return
    try:
        cp = open_checkpoint(note, report.origin, keys)
    except (NoteError, DecodeError) as exc:
        report.findings.append(
            Finding(
                "checkpoint",
                exc.message,
                hint="re-sign only with a ledger key",
                file=CHECKPOINT_NAME,
            )
        )
        return
    report.checkpoint = cp
    if root_with_tail is not None and cp.size == report.entries + 1:
        if cp.root != root_with_tail:
            report.findings.append(
                Finding(
                    "checkpoint",
                    "the log's Merkle root, with its last line, differs from the signed "
                    "checkpoint's root",
                    hint="an entry was changed, reordered or replaced",
                    file=CHECKPOINT_NAME,
                )
            )
        return
    if cp.size > report.entries:
        report.findings.append(
            Finding(
                "checkpoint",
                f"the checkpoint covers {cp.size} entries but the log has {report.entries}: "
                "the log was truncated",
                hint="restore the missing entries from git history",
                file=CHECKPOINT_NAME,
            )
        )
    elif cp.size < report.entries:
        report.findings.append(
            Finding(
                "checkpoint",
                f"the checkpoint covers {cp.size} entries but the log has {report.entries}",
                hint="a writer that crashed before re-signing it leaves this: 'factledger "
                "repair --key KEY' re-signs it if the log extends it; entries added without "
                "factledger leave it too (append only with factledger)",
                file=CHECKPOINT_NAME,
            )
        )
    elif cp.root != report.root:
        report.findings.append(
            Finding(
                "checkpoint",
                "the log's Merkle root differs from the signed checkpoint's root",
                hint="an entry was changed, reordered or replaced",
                file=CHECKPOINT_NAME,
            )
        )


def check_policy(since: Since, config: LedgerConfig, report: Report) -> None:
    """A change may not alter the policy it is checked against (DESIGN §5)."""
    assert since.config is not None
    for name in ("origin", "trust_root", "events"):
        old, new = getattr(since.config, name), getattr(config, name)
        if old != new:
            report.findings.append(
                Finding(
                    "trust-root",
                    f"ledger.toml changes {name} from {old} to {new} since {since.label}",
                    hint="change the policy in its own reviewed commit; a change may not "
                    "alter what it is checked against",
                    file="ledger.toml",
                )
            )


def open_since(since: Since, policy: LedgerConfig, report: Report) -> Checkpoint | None:
    """The earlier checkpoint's body, unverified (its signer is checked as of its size)."""
    try:
        text = since.note.decode("utf-8")
        body, _, _ = text.partition("\n\n")
        old = parse_body(body + "\n", origin=policy.origin)
    except (UnicodeDecodeError, NoteError, DecodeError) as exc:
        message = getattr(exc, "message", str(exc))
        what = "another ledger's" if message.startswith("checkpoint is for origin") else "not a"
        report.findings.append(
            Finding("since", f"{since.label} is {what} checkpoint: {message}", file=since.file)
        )
        return None
    report.since = old
    return old


def check_since(
    since: Since,
    old: Checkpoint,
    root_at: Mapping[int, bytes],
    keys_at: Mapping[int, list[PublicKey]],
    file: str,
    report: Report,
) -> None:
    """Append-only against an earlier checkpoint (DESIGN §5, the pull-request gate).

    Old size ≤ new size, and the root of the first old-size entries — recomputed
    from the log itself, which is stronger than checking a consistency proof — equals
    the old root; the old checkpoint is signed by a key the ledger had at that size.
    """

    def finding(message: str, hint: str) -> None:
        report.findings.append(Finding("since", message, hint=hint, file=file))

    if old.size > report.entries:
        finding(
            f"{since.label} covers {old.size} entries but the log now has {report.entries}: "
            "entries were removed",
            "a change may only append; restore the removed entries",
        )
        return
    if root_at.get(old.size) != old.root:
        finding(
            f"the first {old.size} entries no longer match {since.label}: an old entry was "
            "edited, dropped, reordered or inserted",
            "a change may only append; rebase it on the base branch's events.jsonl",
        )
        return
    try:
        open_checkpoint(since.note, report.origin, keys_at.get(old.size, []))
    except (NoteError, DecodeError) as exc:
        report.findings.append(
            Finding(
                "since",
                f"{since.label} is not signed by a key of the ledger: {exc.message}",
                hint="compare against a checkpoint that factledger wrote",
                file=since.file,
            )
        )


__all__ = [
    "RULES",
    "Finding",
    "Report",
    "Severity",
    "Since",
    "check_checkpoint",
    "check_policy",
    "check_since",
    "check_state",
    "ledger_keys",
    "open_since",
]
