"""What the panes show, decided without a terminal: versions and diffs, claim steps,
badges, filters, the timeline's columns, and which steps can skip a re-read."""

from __future__ import annotations

import pytest

from ledger.ledger import Ledger
from ledger.projections import DayCount, Projection, open_projection, queries
from ledger.verify import Finding, Report
from tests.tui.conftest import SHOWCASE
from tui.model import (
    Filters,
    Verification,
    affects,
    badge_for,
    claim_of,
    claim_view,
    finding_position,
    step_claim,
)
from tui.widgets.timeline_strip import column_of, columns


@pytest.fixture(scope="module")
def projection(tmp_path_factory: pytest.TempPathFactory) -> Projection:
    from tests.tui.conftest import DEMO, copy_ledger

    root = copy_ledger(DEMO, tmp_path_factory.mktemp("model") / "demo")
    return open_projection(Ledger.open(root))


def view_at(projection: Projection, claim: str, position: int):  # type: ignore[no-untyped-def]
    history = tuple(queries.claim_history(projection, claim))
    try:
        state = queries.claim_state(projection, claim, as_of=position)
    except Exception:
        state = None
    return claim_view(claim, position, state, history)


def test_the_diff_is_against_the_previous_version(projection: Projection) -> None:
    view = view_at(projection, SHOWCASE, 200)
    assert view.versions == 2
    assert view.text_step is not None
    assert view.text_step.event.seq == 121
    assert ("delete", "al-Qaeda.") in [(op.op, op.text) for op in view.diff]
    assert view.at_cursor is None


def test_the_first_version_has_no_diff_and_marks_the_assertion(projection: Projection) -> None:
    view = view_at(projection, SHOWCASE, 23)
    assert view.versions == 1
    assert view.diff == ()
    assert view.at_cursor is not None
    assert view.at_cursor.event.kind == "claim.asserted"


def test_before_its_assertion_a_claim_has_no_state(projection: Projection) -> None:
    view = view_at(projection, SHOWCASE, 22)
    assert view.state is None
    assert view.text_step is None


def test_claim_steps_go_to_the_neighbouring_events_of_the_claim(projection: Projection) -> None:
    history = tuple(queries.claim_history(projection, SHOWCASE))
    assert step_claim(history, 209, -1) == 166
    assert step_claim(history, 121, -1) == 23
    assert step_claim(history, 23, -1) is None
    assert step_claim(history, 100, 1) == 121
    assert step_claim(history, 166, 1) is None


def test_badges_come_only_from_a_verifier_run() -> None:
    report = Report(origin="o", trust_root="t", entries=5)
    report.findings.append(Finding("signature", "bad", line=3))
    report.findings.append(Finding("key-compromised", "note", line=4, severity="notice"))
    verification = Verification.of(report)
    assert badge_for(None, 0) == "unchecked"
    assert [badge_for(verification, seq) for seq in range(6)] == [
        "verified",
        "verified",
        "finding",
        "verified",  # a notice is not a finding against the entry
        "verified",
        "unchecked",  # appended after the run
    ]


def test_an_entry_a_compromised_revocation_voided_is_badged_void_not_verified() -> None:
    from ledger.voids import VoidRange

    report = Report(origin="o", trust_root="t", entries=8)
    report.void.append(VoidRange("SHA256:thief", after_seq=2, revoked_seq=6))
    report.findings.append(Finding("signature", "bad", line=5))
    verification = Verification.of(report)
    badges = [badge_for(verification, seq, "SHA256:thief") for seq in range(9)]
    assert badges == [
        "verified",  # up to and including void_after's entry: still good
        "verified",
        "verified",
        "void",
        "finding",  # a finding against the entry says more than void
        "void",
        "verified",  # the revocation itself
        "verified",
        "unchecked",
    ]
    assert [badge_for(verification, seq, "SHA256:honest") for seq in (3, 5)] == ["verified"] * 2
    spans = {"clm_a": ((6, 9), (12, None))}
    with_verdicts = Verification.of(report, spans)
    assert [n for n in range(15) if with_verdicts.verdict_void("clm_a", n)] == [6, 7, 8, 12, 13, 14]
    assert not with_verdicts.verdict_void("clm_b", 7)
    assert verification.voided(5, "SHA256:thief")
    assert not verification.voided(5, "SHA256:thief", as_of=5)  # not revoked yet at #5
    assert verification.voided(5, "SHA256:thief", as_of=6)


def test_a_finding_points_at_its_entry_but_not_at_another_file() -> None:
    assert finding_position(Finding("signature", "x", line=122), 209, "events.jsonl") == 121
    assert (
        finding_position(Finding("checkpoint", "x", file="checkpoint"), 209, "events.jsonl") is None
    )
    assert finding_position(Finding("signature", "x", line=210), 209, "events.jsonl") == 209
    # a torn tail is the line after the last entry: it is no entry, and the last is innocent
    assert finding_position(Finding("torn-tail", "x", line=211), 209, "events.jsonl") is None


def test_only_a_clm_subject_is_a_claim_whatever_the_kind() -> None:
    assert claim_of("note.added", "clm_adltccitm776") == "clm_adltccitm776"
    assert claim_of("note.added", "src_3w4yetska3xl") is None  # a note on a source
    assert claim_of("entry.redacted", "clm_adltccitm776") == "clm_adltccitm776"
    assert claim_of("entry.redacted", "src_3w4yetska3xl") is None
    assert claim_of("source.registered", "src_3w4yetska3xl") is None
    assert claim_of("key.granted", "SHA256:abc") is None


def test_filters_describe_themselves() -> None:
    assert Filters().describe() == ""
    assert not Filters().active
    described = Filters(text="haqqani", verdict="true", status="published").describe()
    assert described == 'status=published verdict=true "haqqani"'


def test_timeline_columns_spread_days_by_calendar_time() -> None:
    days = (
        DayCount(day="2024-06-01", events=3, first_seq=0, last_seq=2),
        DayCount(day="2024-06-03", events=2, first_seq=3, last_seq=4),
    )
    cols = columns(days, 6)  # three calendar days over six columns: two columns a day
    assert [len(c) for c in cols] == [1, 1, 0, 0, 1, 1]
    assert column_of(cols, 4) == range(4, 6)
    assert [sum(d.events for d in c) for c in columns(days, 1)] == [5]


@pytest.mark.parametrize("claim", [SHOWCASE, "clm_zuvtsu5pfs2h"])
def test_a_step_that_does_not_affect_a_claim_leaves_it_as_it_was(
    projection: Projection, claim: str
) -> None:
    """The UI skips re-reading a claim when the entry it steps across does not affect it
    (:func:`tui.model.affects`); check that against the projection at every position."""
    history = tuple(queries.claim_history(projection, claim))
    previous = view_at(projection, claim, 0)
    skipped = 0
    for position in range(1, 210):
        event = queries.event_at(projection, position)
        if affects(event, previous):
            previous = view_at(projection, claim, position)
            continue
        skipped += 1
        if position % 9 == 0:  # every read would be slow; a sample is enough
            fresh = view_at(projection, claim, position)
            kept = claim_view(claim, position, previous.state, history)
            if fresh.state is None:
                assert kept.state is None
            else:
                assert kept.state is not None
                assert {**_plain(fresh.state), "as_of": 0} == {**_plain(kept.state), "as_of": 0}
            assert kept.diff == fresh.diff
            assert kept.at_cursor == fresh.at_cursor
    assert skipped > 150


def test_a_step_changes_at_most_the_row_of_the_claim_it_touches(projection: Projection) -> None:
    """The claims list keeps its rows across a step (ClaimsTable.step) on this rule:
    unfiltered, an entry on claim C changes only C's row, or adds C as the last row."""
    before = queries.list_claims(projection, as_of=109, limit=100).rows
    for position in range(110, 210):  # every kind of entry, some on listed claims
        after = queries.list_claims(projection, as_of=position, limit=100).rows
        event = queries.event_at(projection, position)
        if event.kind == "claim.asserted":
            assert after[:-1] == before
            assert after[-1].claim_id == event.subject
        else:
            untouched = [r for r in after if r.claim_id != event.subject]
            assert untouched == [r for r in before if r.claim_id != event.subject]
            assert len(after) == len(before)
        before = after


def _plain(state: object) -> dict[str, object]:
    import msgspec

    data = msgspec.to_builtins(state)
    assert isinstance(data, dict)
    return data


def test_the_header_keeps_its_badges_when_narrow_and_drops_the_counts_first() -> None:
    from tui.model import Checkpoint, LedgerInfo
    from tui.widgets.header import header_text

    def info(size: int) -> LedgerInfo:
        return LedgerInfo(
            origin="demo.factledger.example/firstpost-2024-al-qaeda-taliban",
            size=size,
            checkpoint=Checkpoint(size, bytes.fromhex("fb8e1234" * 8)),
            timeline=(),
            scale=(),
            test_keys=True,
            unsafe_allow_test_keys=True,
        )

    verified = Verification.of(Report(origin="o", trust_root="t", entries=218))
    wide = header_text(info(218), verified, None, width=120).plain
    assert "demo.factledger.example/firstpost" in wide
    assert "218 entries · root fb8e1234" in wide
    assert "✔ verified 218" in wide
    assert "⚠ unsafe: demo keys" in wide
    narrow = header_text(info(218), verified, None, width=60).plain
    assert len(narrow) <= 60
    assert "✔ verified 218" in narrow  # what a reviewer must not miss
    assert "⚠ unsafe: demo keys" in narrow
    assert "entries" not in narrow
    assert narrow.startswith(" demo.factle")  # the origin, shortened
    assert "· 1 entry ·" in header_text(info(1), None, None, width=120).plain
    behind = LedgerInfo(**{**info(218).__dict__, "size": 220})  # two entries unsigned
    narrow = header_text(behind, verified, None, width=70).plain
    assert "(checkpoint of 218)" in narrow  # kept: part of the log is not signed
    assert "✔ verified 218" in narrow
    assert "220 entries" not in narrow
    rereading = header_text(info(218), None, None, width=60, rereading=0.45).plain
    assert len(rereading) <= 60
    assert " reading the log 45% " in rereading  # r's pass over a rewritten log
    assert "⚠ unsafe: demo keys" in rereading
    writing = header_text(info(218), None, None, width=60, rereading=1.0).plain
    assert " writing the tables " in writing
    assert "reading the log" not in writing


def test_a_long_finding_wraps_under_its_message_not_back_under_the_marks() -> None:
    from tui.widgets.findings import INDENT, finding_text

    finding = Finding(
        "signature",
        "the signature does not verify for the stated author and header",
        line=24,
        event_id="501be2877998" + "0" * 52,
        hint="the entry was altered after signing, or signed by another key",
    )
    lines = finding_text(finding, 78).plain.split("\n")
    assert lines[0].startswith("✘ line 24    signature    the signature does not verify")
    assert all(len(line) <= 78 for line in lines), lines
    assert all(line.startswith(" " * INDENT) and line[INDENT] != " " for line in lines[1:])
    words = " ".join(" ".join(line.split()) for line in lines)
    assert words.endswith(
        "the signature does not verify for the stated author and header (501be2877998) "
        "the entry was altered after signing, or signed by another key"
    )
    unwrapped = finding_text(finding).plain.split("\n")  # no width: one line each
    assert len(unwrapped) == 2


def test_the_findings_summary_counts_in_words_and_offers_enter_only_where_it_goes() -> None:
    from tui.widgets.findings import summary_text

    one = Verification.of(Report(origin="o", trust_root="t", entries=1))
    assert summary_text(one).plain.startswith("✔ 1 entry verified:")
    no_line = Report(origin="o", trust_root="t", entries=5)
    no_line.findings.append(Finding("checkpoint", "bad signature", file="checkpoint"))
    assert summary_text(Verification.of(no_line)).plain == "✘ 1 finding in 5 entries"
    no_line.findings.append(Finding("signature", "bad", line=3))
    assert "· enter jumps to the entry" in summary_text(Verification.of(no_line)).plain


def test_a_withdrawal_a_compromised_key_signed_is_marked_in_the_sources_pane() -> None:
    from ledger.projections.views import AttributionView, Signed
    from ledger.voids import VoidRange
    from tui.widgets.attributions import attribution_text

    def signed(seq: int, author: str) -> Signed:
        return Signed(id="e" * 64, seq=seq, kind="x", author=author, author_name=None,
                      at="2024-06-01T00:00:00Z")  # fmt: skip

    report = Report(origin="o", trust_root="t", entries=20)
    report.void.append(VoidRange("SHA256:thief", after_seq=-1, revoked_seq=15))
    verification = Verification.of(report)
    link = AttributionView(
        source_id="src_a", source_title="A report", source_grade="B", stance="supports",
        quote=None, locator=None, retrieved=None, credibility=None, withdrawn=True,
        withdraw_reason="planted", redacted=False, signed=signed(3, "SHA256:honest"),
        withdrawn_by=signed(9, "SHA256:thief"),
    )  # fmt: skip
    now = attribution_text(link, 19, {}, verification).plain
    assert now.count("⊘ VOID") == 1  # the withdrawal, not the honest attribution
    assert now.index("⊘ VOID") > now.index("withdrawn: planted")
    assert "VOID" not in attribution_text(link, 14, {}, verification).plain  # not yet


def test_an_attribution_whose_entry_has_a_finding_is_marked_in_the_sources_pane() -> None:
    from ledger.projections.views import AttributionView, Signed
    from tui.widgets.attributions import attribution_text

    def signed(seq: int) -> Signed:
        return Signed(id="e" * 64, seq=seq, kind="x", author="SHA256:k", author_name="Ravi",
                      at="2024-06-01T00:00:00Z")  # fmt: skip

    report = Report(origin="o", trust_root="t", entries=20)
    report.findings.append(Finding("signature", "bad", line=4))  # entry #3
    link = AttributionView(
        source_id="src_a", source_title="A report", source_grade="B", stance="supports",
        quote="altered", locator=None, retrieved=None, credibility=None, withdrawn=False,
        withdraw_reason=None, redacted=False, signed=signed(3), withdrawn_by=None,
    )  # fmt: skip
    marked = attribution_text(link, 19, {}, Verification.of(report)).plain
    assert "Ravi  ✘ FINDING: the verifier found fault with this entry" in marked
    assert "FINDING" not in attribution_text(link, 19, {}, None).plain  # not verified yet
    sound = Report(origin="o", trust_root="t", entries=20)
    assert "FINDING" not in attribution_text(link, 19, {}, Verification.of(sound)).plain


def test_the_claims_list_judges_a_verdict_as_of_the_rows_it_draws() -> None:
    from ledger.projections.views import ClaimRow
    from tui.widgets.claims_table import ClaimsTable

    report = Report(origin="o", trust_root="t", entries=20)
    table = ClaimsTable()
    table.verification = Verification.of(report, {"clm_a": ((10, None),)})
    at = "2024-06-01T00:00:00Z"
    row = ClaimRow(claim_id="clm_a", text="t", claimant=None, status="published",
                   verdict="true", verdict_redacted=False, sources=0, last_seq=5,
                   last_at=at)  # fmt: skip
    table.loaded, table.wanted = (12, Filters()), (8, Filters())  # a jump back, loading
    assert table._verdict_void(row)  # the rows on screen are those of #12
    table.loaded = table.wanted
    assert not table._verdict_void(row)


def test_a_history_row_keeps_its_badge_on_its_first_line_in_a_narrow_pane(
    projection: Projection,
) -> None:
    from tui.widgets.history import step_text

    history = queries.claim_history(projection, "clm_3y3j5kx3hsmz")
    attributed = next(s for s in history if s.event.kind == "source.attributed")
    report = Report(origin="o", trust_root="t", entries=300)
    verification = Verification.of(report)
    lines = {
        width: step_text(attributed, 209, "reviewer", verification, width).plain.split("\n")
        for width in (54, 44, 38, 30, 24, 18, 16)
    }
    rows = {width: three[0] for width, three in lines.items()}
    assert rows[54] == f"  #{attributed.event.seq:<6}2024-07-16 09:05  source.attributed     ✔"
    assert rows[44] == f"  #{attributed.event.seq:<6}2024-07-16  source.attributed     ✔"
    for width, row in rows.items():
        assert len(row) <= width, (width, row)
        assert row.endswith("✔"), (width, row)  # never wrapped onto the next line
    assert "source.attribu… ✔" in rows[38]  # then the kind is cut
    assert "source… ✔" in rows[30]
    assert rows[24] == f"  #{attributed.event.seq:<6}source.attri… ✔"  # then the day goes
    assert rows[18] == f"  #{attributed.event.seq:<6}source… ✔"
    for width, three in lines.items():  # the signer and what it did are cut to fit too
        assert all(len(line) <= width for line in three), (width, three)
