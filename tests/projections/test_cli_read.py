"""factledger show, history, query and export, through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.cli.main import main
from tests.projections.test_queries import Desk, build_desk


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Desk:
    return build_desk(tmp_path_factory.mktemp("cli") / "ledger")


def run(desk: Desk, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--ledger", str(desk.root)])
    out, err = capsys.readouterr()
    return code, out, err


def test_show_prints_the_current_claim_and_who_signed_what(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(desk, capsys, "show", desk.jobs[:8])
    assert code == 0
    assert "Unemployment fell by 145 thousand last year" in out
    assert "mostly-false (2): The statistics show a smaller fall." in out
    assert "Labour statistics" in out
    assert "Edna Editor" in out
    assert "Rui Reviewer" in out


def test_show_as_of_a_position_and_a_date(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    before = str(desk.correction.seq - 1)
    code, out, _ = run(desk, capsys, "show", desk.jobs, "--as-of", before, "--json")
    assert code == 0
    state = json.loads(out)
    assert state["as_of"] == desk.correction.seq - 1
    assert state["text"] == "Unemployment fell by 137 thousand last year"
    assert state["verdict"] is None
    code, out, _ = run(desk, capsys, "show", desk.jobs, "--as-of", "2024-04-03", "--json")
    state = json.loads(out)
    assert state["text"].startswith("Unemployment fell by 145")
    assert state["verdict"]["rating"] == "mostly-false"
    code, out, _ = run(desk, capsys, "show", desk.jobs, "--as-of", "2024-04-02")
    assert "137 thousand" in out
    assert "verdict   none" in out


def test_history_shows_word_diffs_and_signers(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(desk, capsys, "history", desk.jobs)
    assert code == 0
    assert "text: Unemployment fell by [-137-]{+145+} thousand last year" in out
    assert f"signed by {desk.rui}" in out
    code, out, _ = run(desk, capsys, "history", desk.jobs, "--json")
    steps = json.loads(out)
    assert [d["op"] for d in steps[2]["diff"]] == ["equal", "delete", "insert", "equal"]
    assert steps[2]["event"]["id"] == desk.correction.id


def test_query_runs_read_only_sql(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    sql = 'SELECT claim_id, verdict FROM claims_now WHERE verdict IS NOT NULL ORDER BY "claim_id"'
    code, out, _ = run(desk, capsys, "query", sql, "--json")
    assert code == 0
    assert {r["claim_id"]: r["verdict"] for r in json.loads(out)} == {
        desk.jobs: "mostly-false", desk.crime: "unproven",
    }  # fmt: skip
    code, out, _ = run(desk, capsys, "query", "SELECT count(*) AS n FROM claims_as_of(5)")
    assert code == 0
    assert out.splitlines()[0].strip() == "n"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DELETE FROM events", "read-only"),
        ("INSERT INTO scale VALUES (9, 'x', 9)", "read-only"),
        ("CREATE TABLE t (a INT)", "read-only"),
        ("COPY events TO 'stolen.csv'", "read-only"),
        ("SELECT * FROM read_csv('/etc/hostname')", "query failed"),
        ("SELECT 1; SELECT 2", "exactly one"),
        ("SELEC nonsense", "does not parse"),
        ("SELECT * FROM no_such_table", "query failed"),
    ],
)
def test_query_refuses_writes_and_bad_sql_with_exit_2(
    desk: Desk, capsys: pytest.CaptureFixture[str], sql: str, message: str
) -> None:
    code, out, err = run(desk, capsys, "query", sql)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_export_claimreview_writes_json_ld_for_claims_with_a_current_verdict(
    desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "reviews.jsonld"
    url = "https://example.org/checks/{claim}"
    code, _, err = run(desk, capsys, "export", "claimreview", "-o", str(target), "--url", url)
    assert code == 0
    assert "2 ClaimReview" in err
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert doc["@context"] == "https://schema.org"
    reviews = {r["identifier"]: r for r in doc["@graph"]}
    assert set(reviews) == {desk.jobs, desk.crime}  # the voided verdict is not exported
    jobs = reviews[desk.jobs]
    assert jobs["@type"] == "ClaimReview"
    assert jobs["claimReviewed"] == "Unemployment fell by 145 thousand last year"
    assert jobs["url"] == f"https://example.org/checks/{desk.jobs}"
    assert jobs["datePublished"] == "2024-04-03"
    assert jobs["author"] == {"@type": "Organization", "name": "test.example/claims"}
    assert jobs["reviewRating"] == {
        "@type": "Rating", "alternateName": "mostly-false", "ratingValue": 2, "bestRating": 5,
        "worstRating": 1, "ratingExplanation": "The statistics show a smaller fall.",
    }  # fmt: skip
    claim = jobs["itemReviewed"]
    assert claim["@type"] == "Claim"
    assert claim["author"] == {"@type": "Person", "name": "A minister"}
    assert claim["appearance"] == [
        {"@type": "CreativeWork", "url": "https://example.org/stats", "name": "Labour statistics"}
    ]
    off_scale = reviews[desk.crime]["reviewRating"]
    assert off_scale["alternateName"] == "unproven"
    assert "ratingValue" not in off_scale
    code, out, _ = run(desk, capsys, "export", "claimreview")
    assert json.loads(out)["@graph"][0]["identifier"] == desk.jobs


def test_bad_input_is_one_line_never_a_traceback(
    desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for argv, expected in [
        (["show", "clm_nope"], 2),
        (["show", desk.jobs, "--as-of", "someday"], 2),
        (["history", "clm_"], 2),
    ]:
        code, _, err = run(desk, capsys, *argv)
        assert code == expected
        assert err.startswith("error: ")
        assert "Traceback" not in err
    code = main(["show", desk.jobs, "--ledger", str(tmp_path / "nowhere")])
    _, err = capsys.readouterr()
    assert code == 3
    assert err.startswith("error: ")
