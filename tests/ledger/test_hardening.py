"""Attacks and edge cases found in review: each was accepted (or crashed) before its fix."""

from __future__ import annotations

import base64
import random
import shutil
from pathlib import Path

import pytest

from ledger import merkle
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.cli.main import main
from ledger.codec import decode_entry, encode_entry
from ledger.entry import event_id, seal
from ledger.errors import RuleViolation
from ledger.events import (
    AnyBody,
    ClaimAssertedBody,
    KeyGrantedBody,
    KeyRevokedBody,
    NoteAddedBody,
    SourceRegisteredBody,
    VerdictIssuedBody,
)
from ledger.keys import SigningKey
from ledger.ledger import Draft, Ledger, new_salt
from ledger.merge import merge_file
from ledger.proofs import ProvenLine, check_receipt, make_receipt, proven
from ledger.verify import Report, Since, verify
from ledger.voids import is_void

OWNER = SigningKey.from_seed(b"\x31" * 32, comment="owner")
THIEF = SigningKey.from_seed(b"\x32" * 32, comment="stolen admin key")
ACCOMPLICE = SigningKey.from_seed(b"\x33" * 32, comment="accomplice")
REVIEWER = SigningKey.from_seed(b"\x34" * 32, comment="reviewer")
EDITOR = SigningKey.from_seed(b"\x35" * 32, comment="editor")
CLAIM = "clm_aaaaaaaaaaaa"
SOURCE = "src_bbbbbbbbbbbb"


class Book:
    """A ledger built through the API, with a clock that ticks a minute per append."""

    def __init__(self, root: Path) -> None:
        self.rng = random.Random(9)
        self.minute = 0
        self.ledger = Ledger.init(
            root, origin="example.org/hardening", key=OWNER, owner_name="Owner",
            at="2024-01-01T00:00:00Z", rng=self.rng.randbytes,
        )  # fmt: skip

    def at(self) -> str:
        self.minute += 1
        return f"2024-01-01T{self.minute // 60:02d}:{self.minute % 60:02d}:00Z"

    def salt(self) -> str:
        return new_salt(self.rng.randbytes)

    def add(self, kind: str, subject: str, body: AnyBody, key: SigningKey) -> str:
        (done,) = self.ledger.append([Draft(kind, subject, body)], key, at=self.at())
        return done.id

    def grant(self, key: SigningKey, role: str, by: SigningKey = OWNER) -> str:
        body = KeyGrantedBody(
            salt=self.salt(), key=key.public.openssh_line(), name=key.public.comment, role=role
        )  # type: ignore[arg-type]
        return self.add("key.granted", key.public.fingerprint, body, by)

    def claim(self, key: SigningKey, subject: str = CLAIM) -> str:
        body = ClaimAssertedBody(
            salt=self.salt(),
            text="A checkable claim.",
            kind="factual",
            claimant="someone",
            appearance=None,
            topics=[],
        )
        return self.add("claim.asserted", subject, body, key)

    def verify(self, **kwargs: object) -> Report:
        return verify(self.ledger.root, config=self.ledger.config, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def book(tmp_path: Path) -> Book:
    return Book(tmp_path / "claims")


def rules_of(report: Report) -> list[str]:
    return [f.rule for f in report.errors]


def test_keys_granted_by_a_compromised_key_lose_their_authority_with_it(book: Book) -> None:
    book.grant(THIEF, "admin")
    book.grant(ACCOMPLICE, "admin", by=THIEF)  # the thief mints a key of their own
    revoke = KeyRevokedBody(salt=book.salt(), reason="compromised", void_after=None, note="stolen")
    book.add("key.revoked", THIEF.public.fingerprint, revoke, OWNER)
    with pytest.raises(RuleViolation) as refused:
        book.claim(ACCOMPLICE)
    assert refused.value.rule == "key-revoked"
    assert book.verify().ok  # the history itself stays valid; the voided entries are notices
    notices = [f for f in book.verify().findings if f.rule == "key-compromised"]
    assert len(notices) == 2  # the thief, and the key the thief granted
    # each names the revocation on its line by its id, as every other finding does
    ids = [
        event_id(decode_entry(line)) for line in book.ledger.events_path.read_bytes().splitlines()
    ]
    assert [(f.line, f.event_id) for f in notices] == [(f.line, ids[f.line - 1]) for f in notices]
    assert all(f.event_id is not None for f in notices)


def test_a_key_revoked_by_a_compromised_key_gets_its_authority_back(book: Book) -> None:
    book.grant(THIEF, "admin")
    book.grant(EDITOR, "editor")
    revoke_editor = KeyRevokedBody(salt=book.salt(), reason="retired", void_after=None, note="x")
    book.add("key.revoked", EDITOR.public.fingerprint, revoke_editor, THIEF)
    revoke = KeyRevokedBody(salt=book.salt(), reason="compromised", void_after=None, note="stolen")
    book.add("key.revoked", THIEF.public.fingerprint, revoke, OWNER)
    book.claim(EDITOR)  # the editor's key is current again
    assert book.verify().ok


def void_authors(book: Book) -> dict[str, str]:
    """Each key a compromised revocation voided, and the notice verify gives for it."""
    return {
        f.message.split("'s key")[0]: f.message
        for f in book.verify().findings
        if f.rule == "key-compromised"
    }


def compromised(book: Book, key: SigningKey, void_after: str | None = None) -> None:
    body = KeyRevokedBody(salt=book.salt(), reason="compromised", void_after=void_after, note="x")
    book.add("key.revoked", key.public.fingerprint, body, OWNER)


def test_a_key_the_thief_granted_is_void_whole_even_if_it_was_revoked_first(book: Book) -> None:
    """Incident response revokes the planted key first (from its first bad entry), then
    the stolen admin key that granted it: the planted key's grant was the thief's, so
    every entry it signed is void, not only those after its own void_after."""
    book.grant(THIEF, "admin")
    book.grant(ACCOMPLICE, "editor", by=THIEF)
    first = book.claim(ACCOMPLICE)
    compromised(book, ACCOMPLICE, void_after=first)
    compromised(book, THIEF)
    notices = void_authors(book)
    assert set(notices) == {"stolen admin key", "accomplice"}
    assert "entries (all of them" in notices["accomplice"]
    state = book.ledger.load(use_cache=False).state
    seq = state.events[first].seq
    assert is_void(state.void, seq, ACCOMPLICE.public.fingerprint)


def test_a_cascaded_void_counts_only_from_the_revocation_that_caused_it(book: Book) -> None:
    """The planted key was retired before the thief was found out: its entries end at
    its retirement, but as of a position between the two nothing was void yet."""
    book.grant(THIEF, "admin")
    book.grant(ACCOMPLICE, "editor", by=THIEF)
    first = book.claim(ACCOMPLICE)
    retire = KeyRevokedBody(salt=book.salt(), reason="retired", void_after=None, note="left")
    book.add("key.revoked", ACCOMPLICE.public.fingerprint, retire, OWNER)
    compromised(book, THIEF)
    state = book.ledger.load(use_cache=False).state
    seq = state.events[first].seq
    planted = ACCOMPLICE.public.fingerprint
    caught = state.keys[THIEF.public.fingerprint].revoked_seq
    assert caught is not None
    assert is_void(state.void, seq, planted)  # now
    assert is_void(state.void, seq, planted, as_of=caught)
    assert not is_void(state.void, seq, planted, as_of=caught - 1)  # retired, not void yet


def test_a_revocation_the_thief_made_voids_nothing_once_it_is_undone(book: Book) -> None:
    """The thief revoked an honest key as compromised; revoking the thief gives that key
    its authority back, and its entries are no longer void."""
    book.grant(THIEF, "admin")
    book.grant(EDITOR, "editor")
    honest = book.claim(EDITOR)
    body = KeyRevokedBody(salt=book.salt(), reason="compromised", void_after=None, note="lie")
    book.add("key.revoked", EDITOR.public.fingerprint, body, THIEF)
    compromised(book, THIEF)
    book.claim(EDITOR, subject="clm_cccccccccccc")  # current again
    assert set(void_authors(book)) == {"stolen admin key"}
    state = book.ledger.load(use_cache=False).state
    assert not is_void(state.void, state.events[honest].seq, EDITOR.public.fingerprint)
    assert book.verify().ok


@pytest.mark.parametrize("relay", [False, True], ids=["itself", "through-another"])
def test_a_key_the_thief_granted_cannot_shed_that_grant_by_being_granted_again(
    book: Book, relay: bool
) -> None:
    """The planted admin key grants itself again (or two planted keys grant each other):
    where a key was admitted, and by whom, is what a compromised revocation traces."""
    book.grant(THIEF, "admin")
    trusted = book.claim(THIEF)
    book.grant(ACCOMPLICE, "admin", by=THIEF)
    if relay:
        book.grant(EDITOR, "admin", by=THIEF)
        book.grant(ACCOMPLICE, "admin", by=EDITOR)
        book.grant(EDITOR, "admin", by=ACCOMPLICE)
    else:
        book.grant(ACCOMPLICE, "admin", by=ACCOMPLICE)
    compromised(book, THIEF, void_after=trusted)
    with pytest.raises(RuleViolation) as refused:
        book.claim(ACCOMPLICE, subject="clm_cccccccccccc")
    assert refused.value.rule == "key-revoked"
    planted = {"stolen admin key", "accomplice"} | ({"editor"} if relay else set())
    assert set(void_authors(book)) == planted
    assert book.verify().ok


def test_the_thief_granting_the_owner_again_leaves_the_owner_untouched(book: Book) -> None:
    """Granting the owner's (or any honest) key again must not make the owner's
    revocation of the thief revoke the owner, every key the owner granted and the log."""
    book.grant(THIEF, "admin")
    book.grant(EDITOR, "editor")
    trusted = book.claim(THIEF)
    book.grant(OWNER, "admin", by=THIEF)
    book.grant(EDITOR, "editor", by=THIEF)
    compromised(book, THIEF, void_after=trusted)
    assert set(void_authors(book)) == {"stolen admin key"}
    book.claim(EDITOR, subject="clm_cccccccccccc")  # both still current
    book.grant(REVIEWER, "reviewer")
    report = book.verify()
    assert report.ok, report.errors
    assert [v.author for v in report.void] == [THIEF.public.fingerprint]


def test_a_role_the_thief_granted_an_honest_key_is_undone_with_the_thief(book: Book) -> None:
    """The stolen admin key makes an honest reviewer an admin: revoking the thief gives
    the reviewer back the role the owner granted."""
    book.grant(THIEF, "admin")
    book.grant(REVIEWER, "reviewer")
    trusted = book.claim(THIEF)
    book.grant(REVIEWER, "admin", by=THIEF)
    book.grant(EDITOR, "editor", by=REVIEWER)  # an admin's act, while the reviewer was one
    compromised(book, THIEF, void_after=trusted)
    state = book.ledger.load(use_cache=False).state
    assert state.keys[REVIEWER.public.fingerprint].role == "reviewer"
    with pytest.raises(RuleViolation) as refused:
        book.grant(ACCOMPLICE, "editor", by=REVIEWER)
    assert refused.value.rule == "role"
    assert book.verify().ok  # what the reviewer signed as an admin was valid when signed


def test_a_key_retired_before_a_lie_is_retired_again_when_the_lie_is_undone(book: Book) -> None:
    """An admin retires the editor; the thief, with another admin's key, revokes that
    admin as compromised (which undoes the retirement); the owner then revokes the
    thief: the admin's revocation is undone, and so the editor's retirement stands."""
    book.grant(ACCOMPLICE, "admin")  # an honest admin, despite the seed's name
    book.grant(EDITOR, "editor")
    retire = KeyRevokedBody(salt=book.salt(), reason="retired", void_after=None, note="left")
    book.add("key.revoked", EDITOR.public.fingerprint, retire, ACCOMPLICE)
    book.grant(THIEF, "admin")
    trusted = book.claim(THIEF)
    lie = KeyRevokedBody(salt=book.salt(), reason="compromised", void_after=None, note="lie")
    book.add("key.revoked", ACCOMPLICE.public.fingerprint, lie, THIEF)
    book.claim(EDITOR, subject="clm_cccccccccccc")  # current while the lie stood
    compromised(book, THIEF, void_after=trusted)
    with pytest.raises(RuleViolation) as refused:
        book.claim(EDITOR, subject="clm_dddddddddddd")
    assert refused.value.rule == "key-revoked"
    book.claim(ACCOMPLICE, subject="clm_dddddddddddd")  # the admin is current again
    state = book.ledger.load(use_cache=False).state
    assert state.keys[EDITOR.public.fingerprint].revoked == "retired"
    assert set(void_authors(book)) == {"stolen admin key"}
    assert book.verify().ok


def test_asserting_an_existing_claim_again_is_refused(book: Book) -> None:
    book.grant(REVIEWER, "reviewer")
    book.claim(REVIEWER)
    with pytest.raises(RuleViolation) as refused:
        book.claim(REVIEWER)
    assert refused.value.rule == "subject"


def test_registering_an_existing_source_again_is_refused(book: Book) -> None:
    body = SourceRegisteredBody(
        salt=book.salt(),
        title="S",
        kind="report",
        publisher=None,
        url=None,
        published=None,
        reliability="B",
        archive_url=None,
        content_sha256=None,
    )
    book.add("source.registered", SOURCE, body, OWNER)
    again = SourceRegisteredBody(
        salt=book.salt(),
        title="S",
        kind="report",
        publisher=None,
        url=None,
        published=None,
        reliability="A",
        archive_url=None,
        content_sha256=None,
    )
    with pytest.raises(RuleViolation) as refused:
        book.add("source.registered", SOURCE, again, OWNER)
    assert refused.value.rule == "subject"


def test_redacting_a_verdict_keeps_later_verdicts_valid(book: Book) -> None:
    book.claim(OWNER)
    first = VerdictIssuedBody(
        salt=book.salt(), rating="false", rationale="r", revision=None, changes_rating=False
    )
    first_id = book.add("verdict.issued", CLAIM, first, OWNER)
    later = VerdictIssuedBody(
        salt=book.salt(), rating="true", rationale="r2", revision="update", changes_rating=True
    )
    book.add("verdict.issued", CLAIM, later, OWNER)
    book.ledger.redact(first_id, "erasure request", OWNER, at=book.at())
    assert book.verify().ok, book.verify().errors


def test_merge_carries_out_the_other_branchs_erasure(book: Book, tmp_path: Path) -> None:
    book.claim(OWNER)
    note = NoteAddedBody(salt=book.salt(), text="names a private person", in_reply_to=None)
    base_note = book.add("note.added", CLAIM, note, OWNER)
    theirs = tmp_path / "theirs"
    shutil.copytree(book.ledger.root, theirs)
    Ledger.open(theirs).redact(base_note, "erasure request", OWNER, at="2024-01-02T00:00:00Z")
    merge_file(book.ledger, theirs / "events.jsonl", OWNER)
    assert b"names a private person" not in book.ledger.events_path.read_bytes()
    assert book.verify().ok, book.verify().errors


def test_verify_reports_a_redaction_whose_target_still_carries_its_body(book: Book) -> None:
    book.claim(OWNER)
    note = NoteAddedBody(salt=book.salt(), text="private", in_reply_to=None)
    target = book.add("note.added", CLAIM, note, OWNER)
    original = book.ledger.events_path.read_bytes()
    book.ledger.redact(target, "erasure request", OWNER, at=book.at())
    last = book.ledger.events_path.read_bytes().splitlines(keepends=True)[-1]
    book.ledger.events_path.write_bytes(original + last)  # the event, without the erasure
    leaves = [bytes.fromhex(event_id(e)) for _, e in book.ledger.entries()]
    book.ledger.write_checkpoint(len(leaves), merkle.root(leaves), OWNER)
    assert rules_of(book.verify()) == ["redaction"]


def test_merge_refuses_an_entry_whose_signature_was_forged(book: Book, tmp_path: Path) -> None:
    book.grant(REVIEWER, "reviewer")
    theirs = tmp_path / "theirs"
    shutil.copytree(book.ledger.root, theirs)
    body = ClaimAssertedBody(
        salt=book.salt(), text="forged", kind="factual", claimant="x", appearance=None, topics=[]
    )
    entry = seal(
        kind="claim.asserted",
        subject=CLAIM,
        parent=None,
        at="2024-01-02T00:00:00Z",
        body=body,
        key=REVIEWER,
    )
    sig = base64.b64decode(entry.sig)
    forged = encode_entry(entry).replace(
        entry.sig.encode(), base64.b64encode(bytes([sig[0] ^ 1]) + sig[1:])
    )
    with (theirs / "events.jsonl").open("ab") as handle:
        handle.write(forged + b"\n")
    before = book.ledger.events_path.read_bytes()
    with pytest.raises(RuleViolation) as refused:
        merge_file(book.ledger, theirs / "events.jsonl", OWNER)
    assert refused.value.rule == "signature"
    assert book.ledger.events_path.read_bytes() == before


def test_since_a_checkpoint_file_still_checks_the_signatures_of_key_entries(
    book: Book, tmp_path: Path
) -> None:
    """A forged prefix (a genesis with a garbage signature granting an attacker) signed by
    the attacker's checkpoint must not pass because --since vouches for the prefix."""
    book.claim(OWNER)
    lines = book.ledger.events_path.read_bytes().splitlines()
    genesis = lines[0]
    sig = genesis.split(b'"sig":"')[1].split(b'"')[0]
    garbage = base64.b64encode(bytes(64))
    lines[0] = genesis.replace(sig, garbage)
    book.ledger.events_path.write_bytes(b"\n".join(lines) + b"\n")
    leaves = [bytes.fromhex(event_id(e)) for _, e in book.ledger.entries()]
    old = tmp_path / "old.checkpoint"
    old.write_text(
        sign_checkpoint(
            Checkpoint(book.ledger.config.origin, len(leaves), merkle.root(leaves)), OWNER
        )
    )
    report = book.verify(since=Since(old.read_bytes(), None, "old"))
    assert "signature" in rules_of(report)


def test_a_receipt_whose_chain_has_a_key_granted_by_a_reviewer_is_refused(book: Book) -> None:
    book.grant(REVIEWER, "reviewer")
    lines = [encode_entry(e) for _, e in book.ledger.entries()]
    grant = KeyGrantedBody(
        salt=book.salt(), key=ACCOMPLICE.public.openssh_line(), name="Chief Editor", role="admin"
    )
    fake = seal(
        kind="key.granted",
        subject=ACCOMPLICE.public.fingerprint,
        parent=None,
        at="2024-01-02T00:00:00Z",
        body=grant,
        key=REVIEWER,
    )
    verdict = VerdictIssuedBody(
        salt=book.salt(), rating="true", rationale="r", revision=None, changes_rating=False
    )
    claim = seal(
        kind="verdict.issued",
        subject=CLAIM,
        parent=None,
        at="2024-01-02T00:01:00Z",
        body=verdict,
        key=ACCOMPLICE,
    )
    all_lines = [*lines, encode_entry(fake), encode_entry(claim)]
    leaves = [bytes.fromhex(event_id(decode_entry(line))) for line in all_lines]
    size = len(leaves)
    note = sign_checkpoint(
        Checkpoint(book.ledger.config.origin, size, merkle.root(leaves)), REVIEWER
    )

    def item(i: int) -> ProvenLine:
        return proven(i, all_lines[i], merkle.prove_inclusion(i, size, leaves))

    receipt = make_receipt(item(size - 1), [item(0), item(1), item(size - 2)], note)
    with pytest.raises(RuleViolation) as refused:
        check_receipt(receipt, OWNER.public.fingerprint)
    assert "owner or an admin" in refused.value.message


def test_a_receipt_judges_a_role_as_of_its_entry_not_a_later_grant(book: Book) -> None:
    """A verdict signed while its key was a reviewer's, in a tree that grants the key an
    editor's role only after it: the receipt is refused, as verify would refuse the log."""
    book.grant(REVIEWER, "reviewer")
    lines = [encode_entry(e) for _, e in book.ledger.entries()]
    verdict = VerdictIssuedBody(
        salt=book.salt(), rating="true", rationale="r", revision=None, changes_rating=False
    )
    early = seal(kind="verdict.issued", subject=CLAIM, parent=None, at="2024-01-02T00:00:00Z",
                 body=verdict, key=REVIEWER)  # fmt: skip
    grant = KeyGrantedBody(
        salt=book.salt(), key=REVIEWER.public.openssh_line(), name="reviewer", role="editor"
    )
    later = seal(kind="key.granted", subject=REVIEWER.public.fingerprint, parent=None,
                 at="2024-01-02T00:01:00Z", body=grant, key=OWNER)  # fmt: skip
    all_lines = [*lines, encode_entry(early), encode_entry(later)]
    leaves = [bytes.fromhex(event_id(decode_entry(line))) for line in all_lines]
    size = len(leaves)
    note = sign_checkpoint(Checkpoint(book.ledger.config.origin, size, merkle.root(leaves)), OWNER)

    def item(i: int) -> ProvenLine:
        return proven(i, all_lines[i], merkle.prove_inclusion(i, size, leaves))

    receipt = make_receipt(item(size - 2), [item(0), item(1), item(size - 1)], note)
    with pytest.raises(RuleViolation) as refused:
        check_receipt(receipt, OWNER.public.fingerprint)
    assert (refused.value.rule, "(reviewer) may not sign" in refused.value.message) == (
        "role",
        True,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "--max-skew", "nan"],
        ["verify", "--max-skew", "1e9"],
        ["claim", "add", "text", "--at", "9999-12-31T23:59:59-01:00"],
    ],
)
def test_out_of_range_numbers_and_times_are_usage_errors_not_tracebacks(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:")
    assert "Traceback" not in err
