"""``verify --since``'s fast path (:mod:`ledger.prefix`) reports what the full fold reports.

The fast path hashes the old prefix and folds only what the new entries depend on.
For every kind of change here — valid appends, appends that break rules against
old streams, erasures, edits of old lines — the report must equal the one from
folding the whole log, and the fast path must have been the one that answered
whenever the prefix proves itself.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger import verify as verify_module
from ledger.codec import decode_entry, encode_entry
from ledger.entry import digest, event_id, redacted, seal
from ledger.events import (
    AnyEntry,
    KeyRevokedBody,
    NoteAddedBody,
    SourceAttributedBody,
)
from ledger.ledger import Draft, Ledger
from ledger.prefix import line_digest, raw_leaf
from ledger.verify import Report, Since, verify
from scripts.generate_ledger import OWNER, STAFF, generate

SIZE = 400
LATER = "2021-02-01T09:00:00Z"
REVIEWER = STAFF[3]  # granted early, never revoked by the generator
SALT = "AAAAAAAAAAAAAAAAAAAAAA=="
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("base") / "ledger"
    generate(SIZE, root, seed=5)
    return root


@pytest.fixture
def ledger(base: Path, tmp_path: Path) -> Ledger:
    root = tmp_path / "ledger"
    shutil.copytree(base, root, ignore=shutil.ignore_patterns(".cache"))
    return Ledger.open(root)


def lines_of(ledger: Ledger) -> list[bytes]:
    return ledger.events_path.read_bytes().split(b"\n")[:-1]


def entries_of(ledger: Ledger) -> list[tuple[int, str, AnyEntry]]:
    return [
        (i, event_id(entry), entry) for i, entry in enumerate(map(decode_entry, lines_of(ledger)))
    ]


def claim_with_history(ledger: Ledger) -> tuple[str, list[str]]:
    """An old claim with at least three events: its subject and its event ids in order."""
    streams: dict[str, list[str]] = {}
    for _, eid, entry in entries_of(ledger):
        subject = entry.subject
        if subject.startswith("clm_"):
            streams.setdefault(subject, []).append(eid)
    claim = next(c for c, ids in streams.items() if len(ids) >= 3)
    return claim, streams[claim]


def append_raw(ledger: Ledger, *lines: bytes) -> None:
    with ledger.events_path.open("ab") as handle:
        handle.write(b"".join(line + b"\n" for line in lines))


def note_line(claim: str, parent: str | None, text: str, reply: str | None = None) -> bytes:
    body = NoteAddedBody(salt=SALT, text=text, in_reply_to=reply)
    entry = seal(
        kind="note.added", subject=claim, parent=parent, at=LATER, body=body, key=REVIEWER.key
    )
    return encode_entry(entry)


def compare(ledger: Ledger, old: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[Report, bool]:
    """Verify since ``old`` both ways; assert equal reports; return it and whether fast answered."""
    answered: list[bool] = []
    real = verify_module._since_fast

    def spy(*args: object) -> object:
        run = real(*args)  # type: ignore[arg-type]
        answered.append(run is not None)
        return run

    def check() -> Report:
        return verify(
            ledger.root, config=ledger.config, since=Since(old), unsafe_allow_test_keys=True
        )

    monkeypatch.setattr(verify_module, "_since_fast", spy)
    fast = check()
    monkeypatch.setattr(verify_module, "_since_fast", lambda *args: None)
    full = check()
    assert summary(fast) == summary(full)
    return fast, answered == [True]


def summary(report: Report) -> tuple[object, ...]:
    findings = [(f.rule, f.line, f.event_id, f.severity, f.message) for f in report.findings]
    return report.entries, report.root, findings


def error_rules(report: Report) -> list[str]:
    return [f.rule for f in report.errors]


# --- the leaf and digest from raw bytes ----------------------------------------------


@pytest.mark.parametrize("where", ["generated", "demo", "format-vectors"])
def test_raw_leaf_equals_the_decoded_digest_for_every_line(
    where: str, ledger: Ledger, tmp_path: Path
) -> None:
    lines = lines_of(ledger) if where == "generated" else _fixture_lines(where)
    if where == "generated":  # a redacted line too: the leaf of a header-form line is itself
        lines.append(encode_entry(redacted(decode_entry(lines[-1]))))
    assert lines
    for line in lines:
        assert raw_leaf(line) == digest(decode_entry(line)).leaf_input
        assert line_digest(line) == digest(decode_entry(line))


def _fixture_lines(where: str) -> list[bytes]:
    folder = {
        "demo": FIXTURES / "ledgers" / "firstpost-2024-al-qaeda-taliban",
        "format-vectors": FIXTURES / "vectors" / "factledger-format" / "ledger",
    }[where]
    return (folder / "events.jsonl").read_bytes().split(b"\n")[:-1]


# --- what the gate accepts, answered by the fast path ------------------------------------


def test_valid_appends_to_old_streams_are_answered_by_the_fast_path(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = ledger.checkpoint_path.read_bytes()
    claim, ids = claim_with_history(ledger)
    source = next(e.subject for _, _, e in entries_of(ledger) if e.kind == "source.registered")
    reply = NoteAddedBody(salt=SALT, text="a reply to an old event", in_reply_to=ids[0])
    attribute = SourceAttributedBody(
        salt=SALT,
        source=source,
        stance="supports",
        quote=None,
        locator=None,
        retrieved=None,
        credibility=None,
    )
    ledger.append(
        [Draft("note.added", claim, reply), Draft("source.attributed", claim, attribute)],
        OWNER.key,
        at=LATER,
    )
    report, fast = compare(ledger, old, monkeypatch)
    assert report.ok
    assert fast
    assert report.entries == SIZE + 2


def test_an_erasure_of_an_old_line_passes_by_the_fast_path(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = ledger.checkpoint_path.read_bytes()
    _, ids = claim_with_history(ledger)
    ledger.redact(ids[1], "a privacy request", OWNER.key, at=LATER)
    report, fast = compare(ledger, old, monkeypatch)
    assert report.ok
    assert fast


def test_a_compromised_revocation_voiding_old_entries_matches_the_full_fold(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = ledger.checkpoint_path.read_bytes()
    fingerprint = REVIEWER.key.public.fingerprint
    signed = [eid for _, eid, e in entries_of(ledger) if e.author == fingerprint]
    body = KeyRevokedBody(
        salt=SALT, reason="compromised", void_after=signed[len(signed) // 2], note="leaked"
    )
    ledger.append([Draft("key.revoked", fingerprint, body)], OWNER.key, at=LATER)
    report, fast = compare(ledger, old, monkeypatch)
    assert fast
    assert "key-compromised" in [f.rule for f in report.findings]


# --- what it refuses, with the same findings as the full fold ----------------------------


Change = Callable[[Ledger], None]


def _stale_parent(ledger: Ledger) -> None:
    claim, _ = claim_with_history(ledger)
    append_raw(ledger, note_line(claim, None, "a note against an empty stream"))


def _fork(ledger: Ledger) -> None:
    claim, ids = claim_with_history(ledger)
    append_raw(ledger, note_line(claim, ids[0], "a note on an old state of the claim"))


def _replayed_old_line(ledger: Ledger) -> None:
    append_raw(ledger, lines_of(ledger)[SIZE // 2])


def _reply_across_claims(ledger: Ledger) -> None:
    claim, ids = claim_with_history(ledger)
    other = next(
        eid
        for _, eid, e in entries_of(ledger)
        if e.subject.startswith("clm_") and e.subject != claim
    )
    append_raw(ledger, note_line(claim, ids[-1], "a reply to another claim's event", other))


def _edited_old_line(ledger: Ledger) -> None:
    lines = lines_of(ledger)
    index = next(i for i, line in enumerate(lines) if b'"kind":"note.added"' in line)
    lines[index] = lines[index].replace(b'"text":"', b'"text":"EDITED ', 1)
    ledger.events_path.write_bytes(b"".join(line + b"\n" for line in lines))


def _unexplained_header_form(ledger: Ledger) -> None:
    lines = lines_of(ledger)
    index = next(i for i, line in enumerate(lines) if b'"kind":"note.added"' in line)
    lines[index] = encode_entry(redacted(decode_entry(lines[index])))
    ledger.events_path.write_bytes(b"".join(line + b"\n" for line in lines))


def _torn_tail(ledger: Ledger) -> None:
    with ledger.events_path.open("ab") as handle:
        handle.write(b'{"at":"2021-02-01T09:00:00Z","auth')


@pytest.mark.parametrize(
    ("change", "rule", "fast"),
    [
        (_stale_parent, "stale-parent", True),
        (_fork, "fork", True),
        (_replayed_old_line, "duplicate-id", True),
        (_reply_across_claims, "reference", True),
        (_unexplained_header_form, "redaction", True),
        (_torn_tail, "torn-tail", True),
        (_edited_old_line, "since", False),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)).strip("_"),
)
def test_a_refused_change_reports_what_the_full_fold_reports(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, change: Change, rule: str, fast: bool
) -> None:
    old = ledger.checkpoint_path.read_bytes()
    change(ledger)
    report, answered = compare(ledger, old, monkeypatch)
    assert rule in error_rules(report)
    assert answered is fast


def test_an_old_erasure_undone_falls_back_and_is_reported(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, ids = claim_with_history(ledger)
    before = lines_of(ledger)
    target = next(i for i, line in enumerate(before) if event_id(decode_entry(line)) == ids[1])
    ledger.redact(ids[1], "a privacy request", OWNER.key, at=LATER)
    old = ledger.checkpoint_path.read_bytes()
    lines = lines_of(ledger)
    lines[target] = before[target]  # the body restored from history: the root is unchanged
    ledger.events_path.write_bytes(b"".join(line + b"\n" for line in lines))
    report, answered = compare(ledger, old, monkeypatch)
    assert "redaction" in error_rules(report)
    assert not answered


@pytest.mark.parametrize("change", [_edited_old_line, _unexplained_header_form])
def test_an_old_line_changed_gets_every_finding_plain_verify_gives_it(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, change: Change
) -> None:
    """The old checkpoint vouches for its lines only while they prove themselves: after a
    fall back, an edited old line is reported at its line as plain verify reports it (its
    signature finding was missing, found by a sweep)."""
    old = ledger.checkpoint_path.read_bytes()
    change(ledger)
    since, _ = compare(ledger, old, monkeypatch)
    plain = verify(ledger.root, config=ledger.config, unsafe_allow_test_keys=True)
    found = {(f.rule, f.line) for f in since.findings}
    assert {(f.rule, f.line) for f in plain.findings} <= found
    assert {f.rule for f in since.findings} - {f.rule for f in plain.findings} <= {"since"}
