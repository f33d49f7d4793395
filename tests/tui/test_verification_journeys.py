"""Journeys through verification, the inspector and reloading (``v``, ``i``, ``r``), on
copies of the demo ledger: the badges and findings a verifier run gives, the void
marks of a compromised key, proofs, and a log that changes under the screen.
"""

from __future__ import annotations

import itertools
import re
import threading
from pathlib import Path

import pytest

from ledger.events import KeyRevokedBody, NoteAddedBody
from ledger.keys import load_signing_key
from ledger.ledger import Draft, Ledger, new_salt
from ledger.projections import open_projection, queries
from tests.tui.conftest import (
    SHOWCASE,
    SIZE,
    TAMPERED_LINE,
    key_event,
    main_of,
    make_app,
    press,
    screen_text,
    select,
    settle,
)
from tests.tui.test_journeys import jump
from tui.widgets.findings import FindingsPanel

KEYS = Path(__file__).parents[2] / "fixtures" / "keys"


def edit_in_place(root: Path) -> None:
    """Tamper with the demo's log without moving an offset: "Doha" becomes "Dpha" in the
    showcase's correction (#121), byte for byte the same length."""
    path = root / "events.jsonl"
    data = path.read_bytes()
    assert data.count(b"Doha Agreement") >= 1
    path.write_bytes(data.replace(b"Doha Agreement", b"Dpha Agreement"))


def revoke_as_compromised(root: Path, label: str) -> None:
    """The owner (Inés) revokes a demo key as compromised, all its entries void."""
    key = load_signing_key(KEYS / f"demo-{label}.key", None).public.fingerprint
    body = KeyRevokedBody(
        salt=new_salt(lambda n: b"\x02" * n), reason="compromised", void_after=None, note="stolen"
    )
    owner = load_signing_key(KEYS / "demo-ines.key", None)
    Ledger.open(root).append([Draft("key.revoked", key, body)], owner, at="2024-07-25T09:00:00Z")


async def test_verification_finds_the_flipped_byte_and_enter_lands_on_it(tampered: Path) -> None:
    app = make_app(tampered)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        await press(pilot, "v")
        screen = screen_text(app)
        assert "✘ 3 findings" in screen.splitlines()[0]
        assert f"✘ line {TAMPERED_LINE}   signature" in screen
        panel = app.screen.query_one(FindingsPanel)
        assert panel.findings[0].line == TAMPERED_LINE
        await press(pilot, "enter")  # the findings list has focus; its first is the signature
        assert main.position == TAMPERED_LINE - 1
        assert main.claim_id == SHOWCASE
        landed = screen_text(app)
    assert "▶ #121   2024-06-12 14:00  claim.corrected       ✘" in landed
    assert "Pledged" in landed  # the altered word, as it now reads in the log
    assert "#23    2024-06-03 13:35  claim.asserted        ✔" in landed


async def test_enter_on_a_finding_keeps_the_findings_focused_for_the_next_one(
    tampered: Path,
) -> None:
    """Enter moved focus to the history, so ↓ Enter next went to a history event, not
    to the next finding (found by a sweep)."""
    app = make_app(tampered)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        await press(pilot, "v")
        panel = app.screen.query_one(FindingsPanel)
        lines = [f.line for f in panel.findings if f.line is not None]
        assert len(lines) >= 2
        await press(pilot, "enter")
        assert main.position == lines[0] - 1
        await press(pilot, "down")
        await press(pilot, "enter")
        assert main.position == lines[1] - 1
        assert app.focused is app.screen.query_one("#findings-list")


async def test_r_closing_the_findings_panel_gives_focus_back_to_the_claims(
    demo: Path,
) -> None:
    """r after an append forgets the verification and closes its panel: focus went
    with it, and ↓ did nothing until Tab (found by a sweep)."""
    from tui.widgets.claims_table import ClaimsTable

    app = make_app(demo, unsafe=False)  # the demo's published keys are findings then
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "v")
        assert app.focused is app.screen.query_one("#findings-list")
        revoke_as_compromised(demo, "hana")  # an append from elsewhere
        await press(pilot, "r")
        await settle(pilot)
        assert not app.screen.query_one(FindingsPanel).shown
        assert isinstance(app.focused, ClaimsTable)


async def test_text_an_entry_with_a_finding_set_is_not_shown_as_its_signers_unmarked(
    tampered: Path,
) -> None:
    """The correction's text was altered after signing: once verified, the claim pane
    must not attribute that text to the signer without saying a finding names it."""
    from tui.widgets.claim_pane import ClaimPane

    app = make_app(tampered)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, SHOWCASE)
        pane = app.screen.query_one(ClaimPane)
        unverified = str(pane._shown)
        await press(pilot, "v")
        verified = str(pane._shown)
    assert "Pledged" in verified  # the text as it now reads in the log
    assert "FINDING" not in unverified  # nothing is said before the verifier ran
    signer = next(line for line in verified.splitlines() if line.startswith("text v2 "))
    assert signer.endswith(
        "Ravi Menon (demo) · reviewer  ✘ FINDING: the verifier found fault with this entry"
    )
    warning = next(line for line in verified.splitlines() if line.startswith("FINDING"))
    named = warning.removeprefix("FINDING").split(":")[0].strip(" ✘").split(", ")
    assert named == ["text"]  # the later status and verdict entries are sound
    assert warning.endswith(": set by entries with findings, not proven signed")
    assert "VOID" not in verified


async def test_badges_are_not_checked_until_the_verifier_ran(demo: Path) -> None:
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, SHOWCASE)
        before = screen_text(app)
        await press(pilot, "v")
        after = screen_text(app)
    assert "verdict.issued        ○" in before
    assert before.count("✔") == 1  # only the legend: nothing is assumed verified
    assert "✔ verified 210" in after.splitlines()[0]
    assert "✔ 210 entries verified" in after
    assert "verdict.issued        ✔" in after


async def test_entries_of_a_key_revoked_as_compromised_are_marked_void_once_verified(
    demo: Path,
) -> None:
    """Kofi's key is revoked as compromised (all its entries): his verdict on the
    showcase must not look verified, in the history, the claim pane or the inspector."""
    from tui.widgets.claim_pane import ClaimPane

    revoke_as_compromised(demo, "kofi")
    projection = open_projection(Ledger.open(demo))
    verdict = queries.claim_state(projection, SHOWCASE).verdict
    assert verdict is not None
    verdict_seq = verdict.signed.seq
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, SHOWCASE)
        main = main_of(app)
        pane = app.screen.query_one(ClaimPane)
        assert "VOID" not in str(pane._shown)  # nothing is said before the verifier ran
        await press(pilot, "v")
        verified = screen_text(app)
        claim_now = str(pane._shown)
        await press(pilot, "left_square_bracket")  # #209: before the revocation
        assert main.position == 209
        claim_before = str(pane._shown)
        listed_before = screen_text(app)
        while main.position != verdict_seq:
            await press(pilot, "left_curly_bracket")
        at_verdict = screen_text(app)
        await press(pilot, "i")
        await settle(pilot)
        inspected = screen_text(app)
    assert main.verification is not None
    assert main.verification.report.void
    assert "⊘ void  ✘ finding" in verified  # the legend says what the glyph means
    assert "✔ verified 211  ⊘ 1 compromised key" in verified.splitlines()[0]
    assert "⚠ line 211   key-compromised Kofi Asante (demo)'s key was revoked" in verified
    assert f"#{verdict_seq:<6}2024-06-26 10:00  verdict.issued        ⊘" in at_verdict
    assert "note.added            ✔" in at_verdict  # Ravi's note, on the same claim
    assert "Kofi Asante (demo) · editor  ⊘ VOID: its key was revoked as compromised" in claim_now
    assert "VOID" not in claim_before  # as it stood then, like `show --as-of`
    void_line = next(line for line in claim_now.splitlines() if line.startswith("VOID"))
    assert void_line.endswith(": set by entries void, its key was revoked as compromised")
    named = void_line.removeprefix("VOID").split(":")[0].strip(" ⊘").split(", ")
    assert "status" in named  # Kofi published it (#153): the pane shows no signer for it
    assert "verdict" in named
    assert "text" not in named  # Ravi's correction
    assert f"{SHOWCASE} published ⊘ mostly-tr…" in verified  # the claims list's verdict
    assert f"{SHOWCASE} published mostly-true " in listed_before
    claims_list = listed_before.split("╭─ Claims")[1].split("╭─ Claim ─")[0]
    assert "⊘" not in claims_list  # nor any other claim's verdict
    assert "verdict.issued  ⊘ void: its key was revoked as compromised" in inspected


async def test_the_inspector_shows_the_line_signature_and_a_proof_that_checks(
    demo: Path,
) -> None:
    last_line = (demo / "events.jsonl").read_text().splitlines()[-1]
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "i")
        await settle(pilot)
        screen = screen_text(app)
        await press(pilot, "left_square_bracket")
        stepped = screen_text(app)
        await press(pilot, "escape")
        assert main_of(app).position == 208

    def squeeze(text: str) -> str:
        return "".join(text.replace("█", "").split())

    assert squeeze(last_line) in squeeze(screen)  # wrapped at spaces inside the box
    assert "entry #209 of 209 · line 210 · note.added" in screen
    assert "✔ the proof leads to the checkpoint's root" in screen
    assert "(the checkpoint's own signature is checked by v)" in screen  # not verified yet
    assert "entry #208 of 209" in stepped


async def test_the_inspector_proof_fails_on_a_tampered_log(tampered: Path) -> None:
    app = make_app(tampered)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "i")
        await settle(pilot)
        screen = screen_text(app)
    assert "✘ inclusion proof for leaf 209 in a tree of 210 leaves leads to root" in screen


async def test_verifying_a_log_that_grew_unread_says_so_and_enter_does_not_land_elsewhere(
    demo: Path,
) -> None:
    """The verifier reads the file as it is now; the panes show it as it was read."""
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        revoke_as_compromised(demo, "hana")
        await press(pilot, "v")
        told = [n.message for n in app._notifications]
        panel = app.screen.query_one(FindingsPanel)
        assert panel.findings[0].line == 211  # the revocation's notice, past the screen's log
        await press(pilot, "enter")
        assert main.position == 209  # stayed: line 211 is not on screen
        after = [n.message for n in app._notifications]
    assert any("the verifier read 211 entries and the screen shows 210" in m for m in told)
    assert any("line 211 was appended after the screen read the log: press r" in m for m in after)


async def test_r_notices_a_line_edited_in_place_at_the_same_length(demo: Path) -> None:
    """The cheap check (the last entry still in its place) would miss this edit; r must
    show the log as it now reads, not the text projected before it."""
    from tui.widgets.claim_pane import ClaimPane

    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, SHOWCASE)
        pane = app.screen.query_one(ClaimPane)
        assert "Doha Agreement" in str(pane._shown)
        edit_in_place(demo)
        await press(pilot, "r")
        shown = str(pane._shown)
        told = [(n.title, n.message, n.severity) for n in app._notifications]
    assert "Dpha Agreement" in shown
    assert "Doha Agreement" not in shown
    # said loudly: an append is routine, this is what a tamperer does
    assert (
        "the log changed other than by appending",
        "the projected prefix of the log changed: entries the screen had read were cut, "
        "replaced or edited on disk (a redaction erases a body so; anything else is "
        "tampering), and it now shows the log as it reads; press v to verify it",
        "error",
    ) in told


async def test_the_inspector_says_when_the_log_was_rewritten_under_the_screen(demo: Path) -> None:
    """Read without r, the inspector's bytes are the new ones while the panes show the
    old text: it must say the two disagree, not show the bytes as the entry's."""
    from tui.widgets.inspector import CHANGED_WARNING

    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await jump(pilot, 121)  # the showcase's correction, which names Doha
        await press(pilot, "i")
        await settle(pilot)
        before = screen_text(app)
        await press(pilot, "escape")
        edit_in_place(demo)
        await press(pilot, "i")
        await settle(pilot)
        rewritten = screen_text(app)
        await press(pilot, "escape")
        await press(pilot, "r")
        await press(pilot, "i")
        await settle(pilot)
        reread = screen_text(app)
    warning = CHANGED_WARNING[:40]  # the JSON wraps: single words, the warning's start
    assert "Doha" in before
    assert warning not in before
    assert "Dpha" in rewritten
    assert warning in rewritten
    assert "Dpha" in reread
    assert warning not in reread  # the screen caught up


async def test_r_on_a_rewritten_log_says_how_far_the_reread_is_then_clears_it(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log rewritten under the screen is read whole again after r (about 30 s at a
    million entries): the header says how far, and says nothing of it once done."""
    from ledger.projections import _scan

    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        monkeypatch.setattr(_scan, "TELL_EVERY", 16)  # the demo's 210 entries: a long pass
        reached, go_on, calls = threading.Event(), threading.Event(), itertools.count()
        leaf_hash = _scan.leaf_hash

        def held(data: bytes) -> bytes:  # the pass waits at its 100th line
            if next(calls) == 100:
                reached.set()
                go_on.wait(30)
            return leaf_hash(data)

        monkeypatch.setattr(_scan, "leaf_hash", held)
        edit_in_place(demo)
        try:
            app.post_message(key_event("r"))
            for _ in range(3000):  # up to 30 s, for a loaded machine
                await pilot.pause(0.01)
                during = screen_text(app).splitlines()[0]
                if reached.is_set() and "reading the log" in during:
                    break
        finally:
            go_on.set()
        await settle(pilot)
        after = screen_text(app).splitlines()[0]
        told = [n.title for n in app._notifications]
    assert re.search(r" reading the log \d+% ", during), during
    assert "reading the log" not in after
    assert "writing the tables" not in after
    assert "the log changed other than by appending" in told


async def test_r_on_an_unchanged_log_says_so_and_keeps_the_verification_it_still_has(
    demo: Path,
) -> None:
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        await press(pilot, "r")
        unverified = [(n.title, n.message) for n in app._notifications]
        await press(pilot, "v", "escape")
        verification = main.verification
        await press(pilot, "r")
        kept = main.verification
        header = screen_text(app).splitlines()[0]
        told = [(n.title, n.message) for n in app._notifications]
        checkpoint = demo / "checkpoint"
        checkpoint.write_bytes(checkpoint.read_bytes() + b"\n")  # not what was verified
        await press(pilot, "r")
        forgotten = main.verification
        after = screen_text(app).splitlines()[0]
        warned = [(n.title, n.message, n.severity) for n in app._notifications]
    assert ("nothing appended", "the log is as it was read") in unverified
    assert verification is not None
    assert kept is verification
    assert "✔ verified 210" in header
    assert ("nothing appended", "the log is as it was read; the last verification stands") in told
    assert forgotten is None
    assert "unverified" in after
    assert (
        "nothing appended",
        "the log is as it was read, but what was verified is not what is there now (the "
        "log, the checkpoint or ledger.toml): press v to verify it again",
        "warning",
    ) in warned


async def test_the_findings_panel_leaves_an_80_by_24_terminal_the_claim_and_its_history(
    tampered: Path,
) -> None:
    from tui.widgets.claim_pane import ClaimPane
    from tui.widgets.history import HistoryList

    app = make_app(tampered)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "v")
        main = main_of(app)
        panel = main.query_one(FindingsPanel)
        shown = panel.shown, panel.size.height
        claim_rows = main.query_one(ClaimPane).content_size.height
        history_rows = main.query_one(HistoryList).content_size.height
        screen = screen_text(app)
    assert shown[0]
    assert shown[1] >= 4  # its summary and findings
    assert claim_rows >= 2
    assert history_rows >= 3
    assert "✘ 3 findings in 210 entries" in screen


async def test_verifying_clears_the_notices_that_would_cover_its_findings(demo: Path) -> None:
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        edit_in_place(demo)
        await press(pilot, "r")  # an error notice that stays 30 s: "press v to verify it"
        told = [n.title for n in app._notifications]
        await press(pilot, "v")
        after = [n.title for n in app._notifications]
        screen = screen_text(app)
    assert "the log changed other than by appending" in told
    assert after == []
    assert "✘ line 122" in screen


async def test_r_forgets_a_verification_of_another_log_than_the_screen_shows(
    demo: Path,
) -> None:
    """Open at 210 entries; another writer appends one; v verifies 211; the log alone
    is put back (git checkout events.jsonl): r finds the log as the screen read it,
    but the verification was of the other one."""
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        path = demo / "events.jsonl"
        read = path.read_bytes()
        body = NoteAddedBody(salt=new_salt(lambda n: b"\x01" * n), text="Late.", in_reply_to=None)
        Ledger.open(demo).append(
            [Draft("note.added", SHOWCASE, body)],
            load_signing_key(KEYS / "demo-kofi.key", None),
            at="2024-07-25T09:00:00Z",
        )
        await press(pilot, "v", "escape")
        verified = main.verification
        path.write_bytes(read)
        await press(pilot, "r")
        after = main.verification
        warned = [(n.title, n.severity) for n in app._notifications]
    assert verified is not None
    assert verified.report.entries == 211
    assert after is None
    assert ("nothing appended", "warning") in warned


async def test_r_reads_entries_appended_while_open(demo: Path) -> None:
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        await press(pilot, "v")
        assert main.verification is not None
        ledger = Ledger.open(demo)
        body = NoteAddedBody(
            salt=new_salt(lambda n: b"\x01" * n), text="A late note.", in_reply_to=None
        )
        ledger.append(
            [Draft("note.added", SHOWCASE, body)],
            load_signing_key(KEYS / "demo-kofi.key", None),
            at="2024-07-25T09:00:00Z",
        )
        await press(pilot, "r")
        screen = screen_text(app)
        told = [(n.title, n.message) for n in app._notifications]
        assert main.position == 210  # it was at the last entry: it follows the log
        assert main.verification is None  # what was verified is not what is there now
    assert "211 entries" in screen.splitlines()[0]
    assert "unverified" in screen.splitlines()[0]
    assert ("appended since last read", "1 new entry") in told
    assert "#210 of 210  2024-07-25T09:00:00Z  note.added  clm_adltccitm776" in screen


def flip(root: Path, line: int, old: bytes, new: bytes) -> None:
    """Edit one word of one line of the log in place, as a tamperer would."""
    path = root / "events.jsonl"
    lines = path.read_bytes().split(b"\n")
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_bytes(b"\n".join(lines))


async def test_enter_on_a_finding_in_a_sources_note_keeps_the_claim_it_had(demo: Path) -> None:
    """Line 6 is a note on a source: the cursor goes there, but no src_ id becomes the claim."""
    flip(demo, 6, b"stored copy", b"stored c0py")
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        before = main.claim_id
        await press(pilot, "v")
        assert app.screen.query_one(FindingsPanel).findings[0].line == 6
        await press(pilot, "enter")
        assert main.position == 5
        assert main.claim_id == before
        assert str(main.claim_id).startswith("clm_")


async def test_enter_on_a_finding_in_a_redaction_selects_the_claim_it_redacts(demo: Path) -> None:
    subject = (demo / "events.jsonl").read_text().splitlines()[207].split('"subject":"')[1][:16]
    assert subject.startswith("clm_")
    flip(demo, 208, b"Erasure request", b"Erasure reqvest")
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        assert main.claim_id != subject
        await press(pilot, "v")
        assert app.screen.query_one(FindingsPanel).findings[0].line == 208
        await press(pilot, "enter")
        assert main.position == 207
        assert main.claim_id == subject


async def test_enter_on_a_torn_tail_says_there_is_no_entry_and_stays(demo: Path) -> None:
    with (demo / "events.jsonl").open("ab") as log:
        log.write(b'{"at":"2024-07-25T09:00')  # a crash mid-append: no newline, no entry
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        await press(pilot, "left_square_bracket", "left_square_bracket")
        here = main.position
        assert here == 207  # not the last entry, where a clamp would land
        await press(pilot, "v")
        panel = app.screen.query_one(FindingsPanel)
        assert [f.rule for f in panel.findings] == ["torn-tail"]
        panel.focus()
        await press(pilot, "enter")
        assert main.position == here
        told = [n.message for n in app._notifications]
    assert any("line 211 of events.jsonl is no entry of the log" in m for m in told)


async def test_r_and_opening_say_the_log_ends_in_a_partial_line(demo: Path) -> None:
    """r after a partial line was appended said "nothing appended / the log is as it
    was read", and kept the verification, though v then found the torn tail; opening
    such a log said nothing of the line it left out (found by a sweep)."""
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        await press(pilot, "v", "escape")
        assert main.verification is not None
        with (demo / "events.jsonl").open("ab") as log_file:
            log_file.write(b'{"at":"2024-07-25T10:00:00Z","auth')
        await press(pilot, "r")
        await settle(pilot)
        told = {n.title: n.message for n in app._notifications}
        assert main.verification is None  # v would find the partial line: not verified
    assert told["the log ends in a partial line"].startswith(
        "the log ends in a partial line of 34 bytes (a torn write), left out of what is shown"
    )
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        opened = [n.title for n in app._notifications]
    assert "the log ends in a partial line" in opened
