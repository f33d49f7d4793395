"""Appending refuses every entry the rules forbid, and a refusal writes nothing (DESIGN §4, §6-§8).

Each refusal is shown twice: the exception (type and ``rule``) and the ledger's
files, ``events.jsonl`` and ``checkpoint``, byte-identical to before the attempt.
Rules that the append path cannot reach (a fork, a duplicate id: appending always
chains onto the head) are shown on the fold itself, :func:`ledger.rules.violations`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger import rules
from ledger.entry import event_id, seal
from ledger.errors import LedgerError, RuleViolation, StaleParent, UnknownKey, UsageError
from ledger.events import (
    AttributionWithdrawnBody,
    ClaimAssertedBody,
    ClaimCorrectedBody,
    KeyGrantedBody,
    KeyRevokedBody,
    NoteAddedBody,
    SourceAttributedBody,
    SourceRegisteredBody,
    SourceRegradedBody,
    VerdictIssuedBody,
    VerdictVoidedBody,
)
from ledger.keys import SigningKey
from ledger.ledger import Appended, Draft, Ledger

LOW_ORDER = json.loads(
    (
        Path(__file__).resolve().parents[2]
        / "fixtures"
        / "vectors"
        / "cctv-ed25519"
        / "low-order-encodings.json"
    ).read_text(encoding="utf-8")
)["encodings"]

OWNER = SigningKey.from_seed(bytes([1]) * 32, "owner@example.org")
EDITOR = SigningKey.from_seed(bytes([2]) * 32, "editor@example.org")
REVIEWER = SigningKey.from_seed(bytes([3]) * 32, "reviewer@example.org")
STRANGER = SigningKey.from_seed(bytes([4]) * 32, "stranger@example.org")
NEWCOMER = SigningKey.from_seed(bytes([5]) * 32, "newcomer@example.org")

CLAIM = "clm_aaaaaaaaaaaa"
OTHER_CLAIM = "clm_bbbbbbbbbbbb"
MISSING_CLAIM = "clm_zzzzzzzzzzzz"
SOURCE = "src_aaaaaaaaaaaa"
SECOND_SOURCE = "src_bbbbbbbbbbbb"
MISSING_SOURCE = "src_zzzzzzzzzzzz"


def fixed_now() -> datetime:
    return datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


_salts = itertools.count()


def salt() -> str:
    """A fresh, valid salt: standard base64 of 16 deterministic bytes."""
    return base64.b64encode(next(_salts).to_bytes(16, "big")).decode()


def counting_rng() -> Callable[[int], bytes]:
    counter = itertools.count()

    def rng(n: int) -> bytes:
        return hashlib.sha256(next(counter).to_bytes(8, "big")).digest()[:n]

    return rng


def openssh_line(raw: bytes) -> str:
    """RFC 8709 §4 blob, written out independently of ledger.keys."""
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + raw
    return "ssh-ed25519 " + base64.b64encode(blob).decode()


def fingerprint(raw: bytes) -> str:
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + raw
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


# --- drafts ------------------------------------------------------------------------


def grant(key: SigningKey, role: str, name: str = "someone") -> Draft:
    body = KeyGrantedBody(salt=salt(), key=key.public.openssh_line(), name=name, role=role)  # type: ignore[arg-type]
    return Draft("key.granted", key.public.fingerprint, body)


def revoke(key: SigningKey) -> Draft:
    body = KeyRevokedBody(salt=salt(), reason="retired", void_after=None, note="left")
    return Draft("key.revoked", key.public.fingerprint, body)


def register(source: str) -> Draft:
    body = SourceRegisteredBody(
        salt=salt(),
        title="Annual report",
        kind="report",
        publisher=None,
        url=None,
        published=None,
        reliability="B",
        archive_url=None,
        content_sha256=None,
    )
    return Draft("source.registered", source, body)


def assert_claim(claim: str, *, appears_in: str | None = None) -> Draft:
    from ledger.events import Appearance

    appearance = None
    if appears_in is not None:
        appearance = Appearance(source=appears_in, quote="q", locator="p. 1")
    body = ClaimAssertedBody(
        salt=salt(),
        text="The river rose two metres.",
        kind="factual",
        claimant="the mayor",
        appearance=appearance,
        topics=[],
    )
    return Draft("claim.asserted", claim, body)


def correct(claim: str, parent: str | None = None, *, expect: bool = False) -> Draft:
    body = ClaimCorrectedBody(
        salt=salt(), text="The river rose three metres.", correction="typo", reason="typo"
    )
    return Draft("claim.corrected", claim, body, parent=parent, expect_parent=expect)


def attribute(claim: str, source: str) -> Draft:
    body = SourceAttributedBody(
        salt=salt(),
        source=source,
        stance="supports",
        quote=None,
        locator=None,
        retrieved=None,
        credibility=2,
    )
    return Draft("source.attributed", claim, body)


def withdraw(claim: str, source: str) -> Draft:
    body = AttributionWithdrawnBody(salt=salt(), source=source, reason="misread")
    return Draft("attribution.withdrawn", claim, body)


def verdict(
    claim: str, rating: str, *, revision: str | None = None, changes: bool = False
) -> Draft:
    body = VerdictIssuedBody(
        salt=salt(),
        rating=rating,
        rationale="checked against the gauge records",
        revision=revision,  # type: ignore[arg-type]
        changes_rating=changes,
    )
    return Draft("verdict.issued", claim, body)


def void(claim: str) -> Draft:
    return Draft("verdict.voided", claim, VerdictVoidedBody(salt=salt(), reason="wrong claim"))


def regrade(source: str) -> Draft:
    body = SourceRegradedBody(salt=salt(), reliability="C", reason="new audit")
    return Draft("source.regraded", source, body)


# --- a small ledger ------------------------------------------------------------------


@dataclass
class Book:
    """A ledger with an editor and a reviewer, one source and one claim; a clock of ``at``s."""

    ledger: Ledger
    times: Iterator[str]

    def add(self, drafts: list[Draft], key: SigningKey, at: str | None = None) -> list[Appended]:
        return self.ledger.append(drafts, key, at=at or next(self.times), now=fixed_now)

    def files(self) -> tuple[bytes, bytes]:
        return self.ledger.events_path.read_bytes(), self.ledger.checkpoint_path.read_bytes()

    def head(self, subject: str) -> str:
        return self.ledger.load().state.heads[subject]

    def refuses(
        self,
        drafts: list[Draft],
        key: SigningKey,
        error: type[LedgerError],
        rule: str,
        *,
        at: str | None = None,
    ) -> LedgerError:
        """Assert that appending raises ``error`` with ``rule`` and leaves both files unchanged."""
        before = self.files()
        with pytest.raises(error) as caught:
            self.add(drafts, key, at=at)
        assert caught.value.rule == rule, caught.value
        assert self.files() == before
        assert self.ledger.load().size == self.size_before(before[0])
        return caught.value

    @staticmethod
    def size_before(events: bytes) -> int:
        return events.count(b"\n")


def minutes() -> Iterator[str]:
    for n in itertools.count(1):
        yield f"2024-01-01T{n // 60:02d}:{n % 60:02d}:00Z"


@pytest.fixture
def book(tmp_path: Path) -> Book:
    ledger = Ledger.init(
        tmp_path / "claims",
        origin="example.org/claims",
        key=OWNER,
        owner_name="Olga Owner",
        at="2024-01-01T00:00:00Z",
        now=fixed_now,
        rng=counting_rng(),
    )
    b = Book(ledger, minutes())
    b.add([grant(EDITOR, "editor", "Edna"), grant(REVIEWER, "reviewer", "Rui")], OWNER)
    b.add([register(SOURCE), register(SECOND_SOURCE), assert_claim(CLAIM)], REVIEWER)
    return b


def test_the_fixture_ledger_accepts_valid_work_from_each_role(book: Book) -> None:
    """The positive control for every refusal below: the same kinds of entries go in."""
    book.add([attribute(CLAIM, SOURCE), correct(CLAIM)], REVIEWER)
    book.add([verdict(CLAIM, "false")], EDITOR)
    book.add([grant(NEWCOMER, "reviewer")], OWNER)
    assert book.ledger.load().size == 10
    assert book.ledger.events_path.read_bytes().count(b"\n") == 10


# --- authority ---------------------------------------------------------------------


def test_append_refuses_entry_signed_by_unknown_key_and_leaves_log_unchanged(book: Book) -> None:
    error = book.refuses([assert_claim(OTHER_CLAIM)], STRANGER, UnknownKey, "unknown-key")
    assert STRANGER.public.fingerprint in error.message


def test_append_refuses_entry_signed_by_retired_key_and_leaves_log_unchanged(book: Book) -> None:
    book.add([revoke(REVIEWER)], OWNER)
    book.refuses([assert_claim(OTHER_CLAIM)], REVIEWER, RuleViolation, "key-revoked")


def test_append_refuses_verdict_signed_by_a_reviewer_and_leaves_log_unchanged(book: Book) -> None:
    book.refuses([verdict(CLAIM, "false")], REVIEWER, RuleViolation, "role")


def test_append_refuses_key_grant_signed_by_an_editor_and_leaves_log_unchanged(book: Book) -> None:
    book.refuses([grant(NEWCOMER, "reviewer")], EDITOR, RuleViolation, "role")


def test_append_refuses_redaction_signed_by_an_editor(book: Book) -> None:
    before = book.files()
    target = book.head(CLAIM)
    with pytest.raises(RuleViolation) as caught:
        book.ledger.redact(target, "erasure", EDITOR, at=next(book.times), now=fixed_now)
    assert caught.value.rule == "role"
    assert book.files() == before


# --- stream heads ------------------------------------------------------------------


def test_append_refuses_draft_expecting_a_parent_that_is_no_longer_the_head(book: Book) -> None:
    old = book.head(CLAIM)
    book.add([correct(CLAIM)], REVIEWER)
    book.refuses([correct(CLAIM, parent=old, expect=True)], REVIEWER, StaleParent, "stale-parent")


def test_append_refuses_draft_expecting_a_new_stream_for_an_existing_subject(book: Book) -> None:
    book.refuses([correct(CLAIM, parent=None, expect=True)], REVIEWER, StaleParent, "stale-parent")


def test_append_accepts_draft_expecting_the_current_head(book: Book) -> None:
    head = book.head(CLAIM)
    (done,) = book.add([correct(CLAIM, parent=head, expect=True)], REVIEWER)
    assert done.entry.parent == head


def folded(ledger: Ledger) -> rules.LedgerState:
    state = rules.new_state()
    for _, entry in ledger.entries():
        rules.apply(state, entry, event_id(entry))
    return state


def test_fold_reports_fork_for_second_entry_on_an_older_parent_of_the_same_subject(
    book: Book,
) -> None:
    old = book.head(CLAIM)
    book.add([correct(CLAIM)], REVIEWER)
    state = folded(book.ledger)
    draft = correct(CLAIM)
    forked = seal(
        kind=draft.kind,
        subject=CLAIM,
        parent=old,
        at="2024-02-01T00:00:00Z",
        body=draft.body,
        key=REVIEWER,
    )
    found = list(rules.violations(state, forked, event_id(forked)))
    assert [v.rule for v in found] == ["fork"]


def test_fold_accepts_the_same_entry_sealed_on_the_head(book: Book) -> None:
    state = folded(book.ledger)
    draft = correct(CLAIM)
    entry = seal(
        kind=draft.kind,
        subject=CLAIM,
        parent=state.heads[CLAIM],
        at="2024-02-01T00:00:00Z",
        body=draft.body,
        key=REVIEWER,
    )
    assert list(rules.violations(state, entry, event_id(entry))) == []


def test_fold_reports_duplicate_event_id(book: Book) -> None:
    state = rules.new_state()
    entries = [entry for _, entry in book.ledger.entries()]
    for entry in entries:
        rules.apply(state, entry, event_id(entry))
    again = entries[-1]
    found = [v.rule for v in rules.violations(state, again, event_id(again))]
    assert "duplicate-id" in found


# --- references --------------------------------------------------------------------


REFERENCE_CASES: dict[str, Callable[[], Draft]] = {
    "correction of a missing claim": lambda: correct(MISSING_CLAIM),
    "attribution to a missing claim": lambda: attribute(MISSING_CLAIM, SOURCE),
    "attribution of a missing source": lambda: attribute(CLAIM, MISSING_SOURCE),
    "claim appearing in a missing source": lambda: assert_claim(
        OTHER_CLAIM, appears_in=MISSING_SOURCE
    ),
    "regrade of a missing source": lambda: regrade(MISSING_SOURCE),
    "withdrawal of an attribution that was never made": lambda: withdraw(CLAIM, SOURCE),
    "note on a missing claim": lambda: Draft(
        "note.added", MISSING_CLAIM, NoteAddedBody(salt=salt(), text="hm", in_reply_to=None)
    ),
}


@pytest.mark.parametrize("make", REFERENCE_CASES.values(), ids=REFERENCE_CASES.keys())
def test_append_refuses_reference_to_something_that_does_not_exist(
    book: Book, make: Callable[[], Draft]
) -> None:
    book.refuses([make()], REVIEWER, RuleViolation, "reference")


def test_append_refuses_withdrawing_an_attribution_twice(book: Book) -> None:
    book.add([attribute(CLAIM, SOURCE)], REVIEWER)
    book.add([withdraw(CLAIM, SOURCE)], REVIEWER)
    book.refuses([withdraw(CLAIM, SOURCE)], REVIEWER, RuleViolation, "reference")


def test_append_refuses_withdrawing_another_sources_attribution(book: Book) -> None:
    book.add([attribute(CLAIM, SOURCE)], REVIEWER)
    book.refuses([withdraw(CLAIM, SECOND_SOURCE)], REVIEWER, RuleViolation, "reference")


def test_attributing_a_source_again_is_accepted_and_one_withdrawal_ends_it(book: Book) -> None:
    """docs/format.md §5: a second attribution of the same source is accepted, and the
    source stays attributed once: the first withdrawal ends it, a second is refused."""
    book.add([attribute(CLAIM, SOURCE)], REVIEWER)
    book.add([attribute(CLAIM, SOURCE)], REVIEWER)
    book.add([withdraw(CLAIM, SOURCE)], REVIEWER)
    book.refuses([withdraw(CLAIM, SOURCE)], REVIEWER, RuleViolation, "reference")


def test_after_a_redacted_attribution_any_withdrawal_on_the_claim_is_accepted(
    book: Book,
) -> None:
    """Which source a redacted ``source.attributed`` named is unknown, so the rule can
    no longer tell a withdrawal of it from one of a source never attributed."""
    book.refuses([withdraw(CLAIM, SECOND_SOURCE)], REVIEWER, RuleViolation, "reference")
    book.add([attribute(CLAIM, SOURCE)], REVIEWER)
    book.ledger.redact(book.head(CLAIM), "erasure", OWNER, at=next(book.times), now=fixed_now)
    book.add([withdraw(CLAIM, SECOND_SOURCE)], REVIEWER)


def correction_of_length(claim: str, line_bytes: int, book: Book) -> Draft:
    """A correction of ``claim`` whose line, sealed now, is ``line_bytes`` long."""
    from ledger.codec import encode_entry
    from ledger.entry import seal_line

    def line_of(reason: str) -> int:
        body = ClaimCorrectedBody(salt=salt(), text="T.", correction="typo", reason=reason)
        sealed = seal_line(kind="claim.corrected", subject=claim, parent=book.head(claim),
                           at="2024-06-01T00:00:00Z", body=body, key=REVIEWER)  # fmt: skip
        assert len(sealed.line) == len(encode_entry(sealed.entry))
        return len(sealed.line)

    reason = "r" * (line_bytes - line_of(""))
    body = ClaimCorrectedBody(salt=salt(), text="T.", correction="typo", reason=reason)
    return Draft("claim.corrected", claim, body)


def test_append_refuses_an_entry_whose_line_a_verifier_would_refuse_as_too_long(
    book: Book,
) -> None:
    """A claim with long topics was signed and written as a 1.2 MB line: the checkpoint
    signed over it, and every reader and verify refused the ledger from then on."""
    from ledger.codec import MAX_LINE_BYTES, decode_entry

    book.refuses([correction_of_length(CLAIM, MAX_LINE_BYTES + 1, book)], REVIEWER,
                 UsageError, "line-too-long")  # fmt: skip
    book.add([correction_of_length(CLAIM, MAX_LINE_BYTES, book)], REVIEWER)
    last = book.ledger.events_path.read_bytes().splitlines()[-1]
    assert len(last) == MAX_LINE_BYTES  # the longest line a verifier accepts
    assert decode_entry(last).kind == "claim.corrected"


# --- verdicts ----------------------------------------------------------------------


def test_append_refuses_voiding_a_verdict_that_was_never_issued(book: Book) -> None:
    book.refuses([void(CLAIM)], EDITOR, RuleViolation, "verdict")


def test_append_refuses_voiding_a_verdict_twice(book: Book) -> None:
    book.add([verdict(CLAIM, "false")], EDITOR)
    book.add([void(CLAIM)], EDITOR)
    book.refuses([void(CLAIM)], EDITOR, RuleViolation, "verdict")


@pytest.mark.parametrize("rating", ["pants-on-fire", "False", "", "true "])
def test_append_refuses_rating_not_on_the_scale(book: Book, rating: str) -> None:
    book.refuses([verdict(CLAIM, rating)], EDITOR, RuleViolation, "verdict")


def test_append_accepts_off_scale_rating_that_the_scale_names(book: Book) -> None:
    (done,) = book.add([verdict(CLAIM, "unproven")], EDITOR)
    assert done.entry.kind == "verdict.issued"


def test_append_refuses_later_verdict_without_a_revision(book: Book) -> None:
    book.add([verdict(CLAIM, "false")], EDITOR)
    book.refuses([verdict(CLAIM, "true", changes=True)], EDITOR, RuleViolation, "verdict")


def test_append_refuses_first_verdict_claiming_to_be_a_revision(book: Book) -> None:
    book.refuses([verdict(CLAIM, "false", revision="update")], EDITOR, RuleViolation, "verdict")


def test_append_refuses_later_verdict_misstating_whether_it_changes_the_rating(
    book: Book,
) -> None:
    book.add([verdict(CLAIM, "false")], EDITOR)
    book.refuses(
        [verdict(CLAIM, "true", revision="correction", changes=False)],
        EDITOR,
        RuleViolation,
        "verdict",
    )


def test_append_accepts_later_verdict_with_an_honest_revision(book: Book) -> None:
    book.add([verdict(CLAIM, "false")], EDITOR)
    (done,) = book.add([verdict(CLAIM, "true", revision="correction", changes=True)], EDITOR)
    assert done.entry.kind == "verdict.issued"


# --- keys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoding", LOW_ORDER, ids=[f"{e['hex'][:8]}-order{e['order']}" for e in LOW_ORDER]
)
def test_append_refuses_grant_of_a_low_order_public_key(
    book: Book, encoding: dict[str, Any]
) -> None:
    raw = bytes.fromhex(encoding["hex"])
    body = KeyGrantedBody(salt=salt(), key=openssh_line(raw), name="mallory", role="admin")
    draft = Draft("key.granted", fingerprint(raw), body)
    book.refuses([draft], OWNER, RuleViolation, "key-grant")


def test_low_order_vectors_cover_small_order_and_non_canonical_encodings() -> None:
    assert len(LOW_ORDER) == 14
    assert {e["canonical"] for e in LOW_ORDER} == {True, False}


def test_append_refuses_grant_filed_under_another_keys_fingerprint(book: Book) -> None:
    body = KeyGrantedBody(
        salt=salt(), key=NEWCOMER.public.openssh_line(), name="n", role="reviewer"
    )
    draft = Draft("key.granted", STRANGER.public.fingerprint, body)
    book.refuses([draft], OWNER, RuleViolation, "key-grant")


def test_append_refuses_regrant_of_a_revoked_key(book: Book) -> None:
    book.add([revoke(REVIEWER)], OWNER)
    book.refuses([grant(REVIEWER, "reviewer")], OWNER, RuleViolation, "key-grant")


def test_append_refuses_redaction_of_a_key_grant_and_leaves_log_unchanged(book: Book) -> None:
    target = book.head(REVIEWER.public.fingerprint)
    before = book.files()
    with pytest.raises(RuleViolation) as caught:
        book.ledger.redact(target, "erasure", OWNER, at=next(book.times), now=fixed_now)
    assert caught.value.rule == "redaction"
    assert book.files() == before


def test_redaction_of_a_claim_entry_is_accepted_and_rewrites_only_that_line(book: Book) -> None:
    """The positive control for the refused redaction above."""
    target = book.head(CLAIM)
    before = book.ledger.events_path.read_bytes().splitlines()
    book.ledger.redact(target, "erasure", OWNER, at=next(book.times), now=fixed_now)
    after = book.ledger.events_path.read_bytes().splitlines()
    assert len(after) == len(before) + 1
    assert [i for i, line in enumerate(before) if after[i] != line] == [5]  # the claim's line
    assert b'"body_hash"' in after[5]
    assert b'"body"' not in after[5]
    assert b'"kind":"entry.redacted"' in after[-1]


# --- time --------------------------------------------------------------------------


def test_append_refuses_at_earlier_than_the_previous_entry_of_the_stream(book: Book) -> None:
    book.add([correct(CLAIM)], REVIEWER, at="2024-03-01T00:00:00Z")
    book.refuses([correct(CLAIM)], REVIEWER, RuleViolation, "time", at="2024-02-29T23:59:59Z")


def test_append_accepts_an_earlier_at_in_another_stream(book: Book) -> None:
    book.add([correct(CLAIM)], REVIEWER, at="2024-03-01T00:00:00Z")
    (done,) = book.add([assert_claim(OTHER_CLAIM)], REVIEWER, at="2024-02-01T00:00:00Z")
    assert done.entry.at == "2024-02-01T00:00:00Z"


def test_append_refuses_at_far_in_the_future(book: Book) -> None:
    book.refuses(
        [assert_claim(OTHER_CLAIM)], REVIEWER, RuleViolation, "time", at="2100-01-01T00:00:00Z"
    )


def test_append_refuses_at_more_than_a_day_ahead_of_the_clock(book: Book) -> None:
    book.refuses(
        [assert_claim(OTHER_CLAIM)], REVIEWER, RuleViolation, "time", at="2024-06-02T12:00:01Z"
    )


def test_append_accepts_at_within_the_allowed_skew(book: Book) -> None:
    (done,) = book.add([assert_claim(OTHER_CLAIM)], REVIEWER, at="2024-06-02T12:00:00Z")
    assert done.entry.at == "2024-06-02T12:00:00Z"


# --- batches -----------------------------------------------------------------------


def test_batch_whose_third_draft_is_invalid_writes_none_of_the_three(book: Book) -> None:
    drafts = [attribute(CLAIM, SOURCE), correct(CLAIM), verdict(CLAIM, "false")]
    book.refuses(drafts, REVIEWER, RuleViolation, "role")
    # the same batch without its invalid draft goes in whole
    done = book.add(drafts[:2], REVIEWER)
    assert [a.seq for a in done] == [6, 7]


def test_batch_drafts_see_the_entries_before_them(book: Book) -> None:
    done = book.add([assert_claim(OTHER_CLAIM), correct(OTHER_CLAIM)], REVIEWER)
    assert done[1].entry.parent == done[0].id


def test_append_refuses_a_second_ledger_created(book: Book) -> None:
    from ledger.events import DEFAULT_SCALE, LedgerCreatedBody

    body = LedgerCreatedBody(
        salt=salt(),
        origin="example.org/claims",
        description="again",
        owner=OWNER.public.openssh_line(),
        owner_name="Olga",
        scale=list(DEFAULT_SCALE),
    )
    book.refuses([Draft("ledger.created", "ledger", body)], OWNER, RuleViolation, "genesis")


def test_append_refuses_an_at_that_is_no_calendar_time(book: Book) -> None:
    book.refuses(
        [assert_claim(OTHER_CLAIM)], REVIEWER, RuleViolation, "time", at="2024-02-30T10:00:00Z"
    )


# --- drafts the v1 schema does not admit ---------------------------------------------
#
# Struct constructors do not validate, so a draft can carry values the strict decoder
# refuses. Writing one would leave a line that no later load can read: the whole
# ledger would stop working. Appending must refuse it and write nothing.


def attribution_with_credibility(value: int) -> Draft:
    body = SourceAttributedBody(
        salt=salt(),
        source=SOURCE,
        stance="supports",
        quote=None,
        locator=None,
        retrieved=None,
        credibility=value,
    )
    return Draft("source.attributed", CLAIM, body)


def source_with_content_hash(digest: str) -> Draft:
    draft = register("src_cccccccccccc")
    assert isinstance(draft.body, SourceRegisteredBody)
    from msgspec.structs import replace

    return Draft(draft.kind, draft.subject, replace(draft.body, content_sha256=digest))


SCHEMA_BREAKING_DRAFTS: dict[str, Callable[[], Draft]] = {
    "credibility 9": lambda: attribution_with_credibility(9),
    "content_sha256 that is not hex": lambda: source_with_content_hash("not-a-sha256"),
    "body of another kind": lambda: Draft(
        "source.registered", "src_cccccccccccc", assert_claim(OTHER_CLAIM).body
    ),
    "salt that is not base64": lambda: Draft(
        "claim.asserted",
        OTHER_CLAIM,
        ClaimAssertedBody(
            salt="not base64!",
            text="t",
            kind="factual",
            claimant="c",
            appearance=None,
            topics=[],
        ),
    ),
    "kind outside the vocabulary": lambda: Draft("claim.deleted", CLAIM, correct(CLAIM).body),
}


@pytest.mark.parametrize("make", SCHEMA_BREAKING_DRAFTS.values(), ids=SCHEMA_BREAKING_DRAFTS.keys())
def test_append_refuses_draft_outside_the_schema_and_the_ledger_stays_loadable(
    book: Book, make: Callable[[], Draft]
) -> None:
    book.refuses([make()], REVIEWER, LedgerError, "schema")
    book.add([attribute(CLAIM, SOURCE)], REVIEWER)  # the ledger still takes valid work


def test_append_refuses_text_that_is_not_unicode_scalar_values(book: Book) -> None:
    """A lone surrogate (e.g. from a non-UTF-8 command line) has no UTF-8 encoding."""
    draft = assert_claim(OTHER_CLAIM)
    assert isinstance(draft.body, ClaimAssertedBody)
    from msgspec.structs import replace

    broken = Draft(draft.kind, draft.subject, replace(draft.body, text="bad \udcff text"))
    before = book.files()
    with pytest.raises(LedgerError) as caught:
        book.add([broken], REVIEWER)
    assert caught.value.rule == "unicode"
    assert book.files() == before


def test_a_genesis_more_than_a_day_ahead_is_a_time_finding_like_any_entry(tmp_path: Path) -> None:
    """The genesis took another path through the rules, which skipped the future check."""
    from ledger.verify import verify

    owner = SigningKey.from_seed(b"\x44" * 32)
    ahead = datetime(2099, 1, 1, tzinfo=UTC)
    made = Ledger.init(tmp_path / "l", origin="example.org/f", key=owner, owner_name="o",
                       at="2099-01-01T00:00:00Z", now=lambda: ahead)  # fmt: skip
    report = verify(made.root, config=made.config, now=datetime(2024, 6, 1, tzinfo=UTC))
    assert [f.rule for f in report.errors] == ["time"]
    assert "in the future" in report.errors[0].message
    later = verify(made.root, config=made.config, now=ahead)
    assert later.ok, later.errors
