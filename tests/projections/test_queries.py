"""Queries the command line and the TUI use: ids, positions, lists, states, history, blame."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import UsageError
from ledger.ledger import Appended, Ledger
from ledger.projections import Projection, open_projection, queries, word_diff
from ledger.projections.diff import EXACT_MAX, render, tokens
from tests.projections.conftest import Builder


@dataclass
class Desk:
    """A small newsroom: two claims with sources, a correction, verdicts and a withdrawal."""

    root: Path
    stats: str
    tabloid: str
    jobs: str
    crime: str
    rumour: str
    correction: Appended
    verdict: Appended
    withdrawal: Appended
    edna: str
    rui: str


def build_desk(root: Path) -> Desk:
    b = Builder(root)
    edna = b.grant(2, "Edna Editor", "editor")
    rui = b.grant(3, "Rui Reviewer", "reviewer")
    b.tick("2024-04-02T09:00:00")
    stats = b.source("Labour statistics", "B", url="https://example.org/stats")
    tabloid = b.source("The Daily Rumour", "E")
    b.key = rui
    jobs = b.claim("Unemployment fell by 137 thousand last year", appears_in=stats)
    crime = b.claim("Crime doubled in the capital", "A tabloid")
    b.attribute(jobs, stats, "disputes", 2)
    b.attribute(crime, tabloid, "supports", 5)
    correction = b.correct(
        jobs, "Unemployment fell by 145 thousand last year", day="2024-04-03T08:00:00"
    )
    b.key = edna
    verdict = b.verdict(jobs, "mostly-false", "The statistics show a smaller fall.")
    b.status(jobs, "published")
    b.key = rui
    b.tick("2024-04-04T10:00:00")
    b.regrade(tabloid, "F")
    withdrawal = b.withdraw(crime, tabloid, "the article was retracted")
    b.key = edna
    b.verdict(crime, "unproven", "No source stands.")
    rumour = b.claim("The mayor resigned", "A blog")
    b.verdict(rumour, "false", "She did not.")
    b.void(rumour, "issued on the wrong claim")
    return Desk(root, stats, tabloid, jobs, crime, rumour, correction, verdict, withdrawal,
                edna.public.fingerprint, rui.public.fingerprint)  # fmt: skip


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Desk:
    return build_desk(tmp_path_factory.mktemp("desk") / "ledger")


@pytest.fixture(scope="module")
def proj(desk: Desk) -> Iterator[Projection]:
    from ledger.ledger import Ledger

    with open_projection(Ledger.open(desk.root)) as projection:
        yield projection


def test_a_unique_prefix_resolves_and_others_are_usage_errors(desk: Desk, proj: Projection) -> None:
    assert queries.resolve(proj, desk.jobs[:9]) == desk.jobs
    assert queries.resolve(proj, desk.tabloid, "source") == desk.tabloid
    with pytest.raises(UsageError, match="ambiguous"):
        queries.resolve(proj, "clm_")
    with pytest.raises(UsageError, match="no claim matches"):
        queries.resolve(proj, "clm_zzzz")
    event = queries.event(proj, desk.verdict.id[:10])
    assert (event.id, event.seq, event.kind) == (
        desk.verdict.id,
        desk.verdict.seq,
        "verdict.issued",
    )


def test_positions_are_sequence_numbers_dates_or_times(desk: Desk, proj: Projection) -> None:
    assert queries.position(proj, str(desk.correction.seq)) == desk.correction.seq
    assert queries.position(proj, "2024-04-03") == desk.verdict.seq + 1  # the day's last entry
    assert queries.position(proj, "2024-04-03T08:00:00Z") == desk.correction.seq
    for bad in ("2019-01-01", "2024-02-30", "yesterday", "9999"):
        with pytest.raises(UsageError):
            queries.position(proj, bad)


def test_a_backdated_entry_does_not_make_every_later_date_mean_the_end_of_the_log(
    tmp_path: Path,
) -> None:
    """A date means the longest prefix stated at or before it, whatever comes after."""
    from ledger.ledger import Ledger

    b = Builder(tmp_path / "ledger")
    b.tick("2024-04-02T09:00:00")
    first = b.claim("The bridge opened in May")
    asserted = b.appended[-1].seq
    b.tick("2024-04-03T09:00:00")
    b.correct(first, "The bridge opened in June")
    b.tick("2001-01-01T00:00:00")  # an old statement entered last, with its own date
    b.claim("The bridge was planned in 2001")
    with open_projection(Ledger.open(b.ledger.root)) as proj:
        head = queries.position(proj)
        assert head == b.appended[-1].seq
        assert queries.position(proj, "2024-04-02") == asserted  # not the backdated end
        assert queries.position(proj, "2024-04-03") == head
        with pytest.raises(UsageError) as caught:
            queries.position(proj, "2001-06-01")  # the log began later
    # It said "nothing was recorded on or before 2001-06-01", untrue of the claim stated
    # in 2001: it says where the log begins, and how to see the backdated entry.
    genesis = json.loads(b.ledger.events_path.read_bytes().splitlines()[0])
    assert caught.value.message.startswith(
        f"the log is empty as of 2001-06-01: its first entry (#0) is stated at {genesis['at']}"
    )
    assert caught.value.hint is not None
    assert "--as-of N" in caught.value.hint


def test_claims_list_filters_and_pages(desk: Desk, proj: Projection) -> None:
    ids = lambda page: [r.claim_id for r in page.rows]  # noqa: E731
    everything = queries.list_claims(proj)
    assert ids(everything) == [desk.jobs, desk.crime, desk.rumour]
    assert ids(queries.list_claims(proj, status="published")) == [desk.jobs]
    assert ids(queries.list_claims(proj, verdict="unproven")) == [desk.crime]
    assert ids(queries.list_claims(proj, verdict="none")) == [desk.rumour]
    assert ids(queries.list_claims(proj, text="CRIME")) == [desk.crime]
    assert ids(queries.list_claims(proj, author="Edna Editor")) == [
        desk.jobs,
        desk.crime,
        desk.rumour,
    ]
    assert ids(queries.list_claims(proj, author=desk.rui[:12])) == [desk.jobs, desk.crime]
    assert ids(queries.list_claims(proj, source=desk.tabloid)) == []
    before = desk.withdrawal.seq - 1
    assert ids(queries.list_claims(proj, source=desk.tabloid, as_of=before)) == [desk.crime]
    page = queries.list_claims(proj, limit=1, offset=1, newest_first=True)
    assert (page.total, ids(page)) == (3, [desk.crime])
    jobs = everything.rows[0]
    assert (jobs.sources, jobs.verdict, jobs.status) == (1, "mostly-false", "published")


def test_claim_state_as_of_a_position_or_a_date(desk: Desk, proj: Projection) -> None:
    now = queries.claim_state(proj, desk.jobs)
    assert now.text == "Unemployment fell by 145 thousand last year"
    assert now.verdict is not None
    assert (now.verdict.rating, now.verdict.rating_value) == ("mostly-false", 2)
    assert now.verdict.signed.author_name == "Edna Editor"
    assert now.appearance is not None
    assert now.appearance.source_title == "Labour statistics"
    before = queries.claim_state(proj, desk.jobs, as_of=desk.correction.seq - 1)
    assert before.text == "Unemployment fell by 137 thousand last year"
    assert before.verdict is None
    assert before.status == "open"
    by_date = queries.claim_state(proj, desk.jobs, as_of="2024-04-02")
    assert by_date.text == before.text
    with pytest.raises(UsageError, match="did not exist yet"):
        queries.claim_state(proj, desk.rumour, as_of=desk.correction.seq)


def test_a_time_names_the_same_position_in_any_zone_and_to_the_second(
    desk: Desk, proj: Projection
) -> None:
    # Entries tick a minute apart: the correction is the only one at its time.
    seq = desk.correction.seq
    at = datetime.fromisoformat(desk.correction.entry.at)
    plus_two = timezone(timedelta(hours=2))
    assert queries.position(proj, desk.correction.entry.at) == seq
    assert queries.position(proj, at.astimezone(plus_two).isoformat()) == seq
    assert queries.position(proj, (at + timedelta(seconds=0.5)).isoformat()) == seq
    second_before = (at - timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-5)))
    assert queries.position(proj, second_before.isoformat()) == seq - 1
    with pytest.raises(UsageError, match="has no time zone; add Z for UTC"):
        queries.position(proj, at.replace(tzinfo=None).isoformat())
    with pytest.raises(UsageError, match="is not an RFC 3339 time"):
        queries.position(proj, "2024-04-02T25:00:00Z")
    with pytest.raises(UsageError, match="is not a real date"):
        queries.position(proj, "2024-02-30")


def test_blame_names_the_signed_event_behind_each_field(desk: Desk, proj: Projection) -> None:
    blame = {b.field: b.event for b in queries.claim_state(proj, desk.jobs).blame}
    assert blame["text"].id == desk.correction.id
    assert blame["text"].author == desk.rui
    assert blame["text"].author_name == "Rui Reviewer"
    assert blame["verdict"].id == desk.verdict.id
    assert blame["claimant"].kind == "claim.asserted"
    assert blame["status"].author == desk.edna


def test_attributions_show_source_grades_at_the_same_position(desk: Desk, proj: Projection) -> None:
    (now,) = queries.claim_state(proj, desk.crime).attributions
    assert (now.withdrawn, now.source_grade, now.withdraw_reason) == (
        True, "F", "the article was retracted",
    )  # fmt: skip
    assert now.withdrawn_by is not None
    assert now.withdrawn_by.id == desk.withdrawal.id
    (then,) = queries.claim_state(proj, desk.crime, as_of=desk.correction.seq).attributions
    assert (then.withdrawn, then.source_grade, then.stance) == (False, "E", "supports")
    links = queries.source_attributions(proj, desk.tabloid)
    assert [(a.claim_id, a.withdrawn) for a in links] == [(desk.crime, True)]
    assert queries.source_attributions(proj, desk.tabloid, withdrawn=False) == []
    source = queries.source_view(proj, desk.tabloid)
    assert source.grade == "F"
    assert source.graded is not None
    assert source.graded.kind == "source.regraded"


def test_history_has_word_diffs_and_signers(desk: Desk, proj: Projection) -> None:
    steps = queries.claim_history(proj, desk.jobs)
    kinds = [s.event.kind for s in steps]
    assert kinds == ["claim.asserted", "source.attributed", "claim.corrected", "verdict.issued",
                     "claim.status"]  # fmt: skip
    corrected = steps[2]
    assert [(d.op, d.text) for d in corrected.diff] == [
        ("equal", "Unemployment fell by "), ("delete", "137"), ("insert", "145"),
        ("equal", " thousand last year"),
    ]  # fmt: skip
    assert corrected.event.author_name == "Rui Reviewer"
    assert corrected.detail["reason"] == "fix"
    assert [(c.field, c.old, c.new) for c in steps[3].changes] == [
        ("verdict", None, "mostly-false")
    ]
    assert [(c.field, c.old, c.new) for c in steps[4].changes] == [("status", "open", "published")]


def test_timeline_and_events_by_position(desk: Desk, proj: Projection) -> None:
    days = queries.timeline(proj)
    assert sum(d.events for d in days) == queries.size(proj)
    assert [d.day for d in days] == sorted(d.day for d in days)
    event = queries.event_at(proj, desk.correction.seq)
    assert event.id == desk.correction.id
    assert event.body is not None
    assert event.body["text"].endswith("last year")
    with pytest.raises(UsageError, match="outside the log"):
        queries.event_at(proj, 10_000)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab \n", max_size=12), st.text(alphabet="ab \n", max_size=12))
def test_word_diff_runs_rebuild_both_texts(old: str, new: str) -> None:
    ops = word_diff(old, new)
    assert "".join(o.text for o in ops if o.op != "insert") == old
    assert "".join(o.text for o in ops if o.op != "delete") == new
    assert all(a.op != b.op for a, b in itertools.pairwise(ops))


def test_a_long_text_is_diffed_exactly_where_it_changed_and_whole_past_the_limit() -> None:
    """A claim's text is its author's to make long: a correction of a few words in a
    long text is still a word diff (the shared start and end are never matched), and a
    rewrite too large to match word by word (difflib grows faster than the product of
    the lengths: a CLI sweep made 'history' run for minutes) shows as replaced whole."""
    words = [f"w{i}" for i in range(3000)]
    old = " ".join(words)
    corrected = " ".join([*words[:1500], "changed", *words[1501:]])
    assert render(word_diff(old, corrected)).count("[-") == 1
    assert "[-w1500-]{+changed+}" in render(word_diff(old, corrected))
    rewritten = " ".join(f"v{i}" for i in range(3000))
    assert len(tokens(old)) * len(tokens(rewritten)) > EXACT_MAX
    ops = word_diff(old, rewritten)
    assert [o.op for o in ops] == ["delete", "insert"]
    assert (ops[0].text, ops[1].text) == (old, rewritten)
    small = word_diff("The toll was 137 people.", "The toll was 145 people, officials said.")
    assert render(small) == "The toll was [-137-]{+145+} [-people.-]{+people, officials said.+}"


@pytest.mark.parametrize(
    "filters",
    [{}, {"text": "taliban"}, {"verdict": "none"}, {"status": "published"}, {"author": "Lena"}],
)
def test_claim_index_is_where_the_list_shows_the_claim(
    tmp_path: Path, filters: dict[str, str]
) -> None:
    """At several positions of the demo ledger, every listed claim's index is its row,
    and a claim the list does not show has none."""
    import shutil

    demo = Path(__file__).parents[2] / "fixtures" / "ledgers" / "firstpost-2024-al-qaeda-taliban"
    root = tmp_path / "demo"
    shutil.copytree(demo, root, ignore=shutil.ignore_patterns(".cache"))
    projection = open_projection(Ledger.open(root))
    try:
        for n in (25, 121, 160, 209):
            rows = queries.list_claims(projection, as_of=n, limit=500, **filters).rows
            listed = [row.claim_id for row in rows]
            for i, claim in enumerate(listed):
                assert queries.claim_index(projection, claim, as_of=n, **filters) == i
            everyone = queries.list_claims(projection, as_of=209, limit=500).rows
            for claim in {row.claim_id for row in everyone} - set(listed):
                assert queries.claim_index(projection, claim, as_of=n, **filters) is None
    finally:
        projection.close()
