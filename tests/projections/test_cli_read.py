"""factledger show, history, query and export, through the real command line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ledger.cli.main import main
from tests.cli.support import Terminal
from tests.projections.test_queries import Desk, build_desk
from tests.tui.conftest import DEMO, copy_ledger


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


def test_query_schema_names_every_table_and_column_a_query_can_read(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(desk, capsys, "query", "--json",
        "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal "
        "AND database_name = current_database() AND schema_name = 'main'")  # fmt: skip
    assert code == 0
    columns = json.loads(out)
    assert {"claims", "claim_states", "keys", "events"} <= {c["table_name"] for c in columns}
    code, schema, _ = run(desk, capsys, "query", "--schema")
    assert code == 0
    with pytest.raises(SystemExit):
        main(["query", "--help"])
    described = " ".join(capsys.readouterr().out.split())
    for column in columns:
        table = column["table_name"]
        if table.endswith("_now"):  # a view: SELECT * of its table
            assert f"CREATE VIEW {table} AS SELECT * FROM {table[:-4]} " in schema
            continue
        body = schema.split(f"CREATE TABLE {table} (\n", 1)[1].split("\n);", 1)[0]
        assert re.search(rf'^    "?{column["column_name"]}"? ', body, re.M), column
        assert table in described
    assert "whether or not it\n-- verifies" in schema


def test_query_without_sql_says_how_to_see_the_tables(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(desk, capsys, "query")
    assert (code, out) == (2, "")
    assert "factledger query --schema" in err
    code, out, err = run(desk, capsys, "query", "SELECT 1", "--schema")
    assert (code, out) == (2, "")
    assert "not both" in err


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


def test_query_json_streams_the_same_bytes_as_one_json_document(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = (
        "SELECT i, 'line\nbreak \"q\" ✓' AS s, [i, i + 1] AS l, {'k': i} AS m "
        "FROM range(2500) t(i) ORDER BY i"
    )  # more rows than one batch, and values whose JSON spans lines
    code, out, _ = run(desk, capsys, "query", sql, "--json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 2500
    assert rows[7] == {"i": 7, "s": 'line\nbreak "q" ✓', "l": [7, 8], "m": {"k": 7}}
    assert out == json.dumps(rows, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    code, out, _ = run(desk, capsys, "query", "SELECT 1 AS n WHERE false", "--json")
    assert (code, out) == (0, "[]\n")


def test_query_table_keeps_a_long_cell_that_arrives_after_the_first_batch(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = (
        "SELECT i, CASE WHEN i = 1500 THEN repeat('y', 40) WHEN i = 1600 THEN repeat('z', 70)"
        " ELSE 'a' END AS v FROM range(1700) t(i) ORDER BY i"
    )
    code, out, _ = run(desk, capsys, "query", sql)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["i", "v"]
    assert lines[-1] == "(1700 rows)"
    assert len(lines) == 1700 + 3
    assert lines[2 + 1500].split() == ["1500", "y" * 40]  # whole, though wider than its column
    assert lines[2 + 1600].split() == ["1600", "z" * 59 + "…"]  # cut at the widest cell shown


def test_a_query_failing_after_rows_were_written_names_how_many() -> None:
    """DuckDB may raise on a later batch (a cast or ``error()`` on a row it had not yet
    computed); the command then ends with one usage error saying how far it got."""
    import duckdb

    from ledger.cli import read
    from ledger.errors import UsageError

    class Result:
        def __init__(self) -> None:
            self.calls = 0

        def fetchmany(self, size: int) -> list[tuple[int]]:
            self.calls += 1
            if self.calls == 3:
                raise duckdb.InvalidInputException("Invalid Input Error: bad row\nmore detail")
            return [(i,) for i in range(size)]

    rows = read._more_rows(Result(), read.QUERY_BATCH)
    got = [next(rows) for _ in range(2 * read.QUERY_BATCH)]
    assert len(got) == 2 * read.QUERY_BATCH
    with pytest.raises(UsageError) as caught:
        next(rows)
    assert caught.value.message == (
        f"query failed after {3 * read.QUERY_BATCH} rows: Invalid Input Error: bad row"
    )


def test_a_json_query_that_fails_partway_leaves_no_json_a_parser_would_take(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = "SELECT CASE WHEN i < 200000 THEN i ELSE error('boom') END AS v FROM range(300000) t(i)"
    code, out, err = run(desk, capsys, "query", "--json", sql)
    assert code == 2
    assert re.fullmatch(r"error: query failed after \d+ rows: Invalid Input Error: boom\n", err)
    assert out.startswith("[")
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)  # rows so far, and no closing bracket: not a result to trust


def test_query_streams_a_result_larger_than_its_memory(desk: Desk, tmp_path: Path) -> None:
    """A 2 GB result is written in batches: the process stays far below the result's size
    (holding it whole took more than 2 GB)."""
    sql = "SELECT i, repeat('x', 10000) AS wide FROM range(200000) t(i)"
    argv = [sys.executable, "-m", "ledger.cli.main", "query", sql, "--ledger", str(desk.root)]
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        child = subprocess.Popen(argv, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the suite's
        child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, err.read_text()
    assert out.read_text().splitlines()[-1] == "(200000 rows)"
    peak_mib = usage.ru_maxrss / 1024  # KiB on Linux
    assert peak_mib < 600, f"peak {peak_mib:.0f} MiB for a 2 GB result"


# --- a long build says how far it is, on a terminal's stderr only -----------------


def _demo_copy(tmp_path: Path) -> Path:
    return copy_ledger(DEMO, tmp_path / "demo")


def test_a_long_build_tells_how_far_it_is_on_a_terminal_and_clears_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger.projections import _scan

    monkeypatch.setattr(_scan, "TELL_EVERY", 16)  # the demo's 210 entries: a long pass
    root = _demo_copy(tmp_path)
    sql = "SELECT count(*) AS n FROM events"
    piped, terminal = sys.stderr, Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["query", "--ledger", str(root), "--json", sql]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 210}]  # stdout: the rows only
    told = terminal.text.split("\r\x1b[K")
    assert told[0] == ""  # the line is rewritten in place,
    assert told[-1] == ""  # then cleared
    steps = [re.sub(r" \(once: .*\)$", "", t) for t in told[1:-1]]
    percents = [int(m.group(1)) for m in (re.search(r"… +(\d+)% of", s) for s in steps) if m]
    assert len(percents) == 210 // 16
    assert percents == sorted(percents)
    assert percents[-1] < 100
    assert steps[-1] == "building the projections… writing the tables"
    terminal.text = ""
    assert main(["query", "--ledger", str(root), "--json", sql]) == 0
    assert terminal.text == ""  # from the cache: nothing to tell
    capsys.readouterr()
    monkeypatch.setattr(sys, "stderr", piped)
    shutil.rmtree(root / ".cache")
    assert main(["query", "--ledger", str(root), "--json", sql]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == [{"n": 210}]
    assert err == ""  # not a terminal: nothing told


def test_the_tui_opens_with_the_build_told_and_nothing_written_under_the_ui(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui
    from ledger.cli.tui_cmd import open_tui
    from ledger.ledger import Ledger
    from ledger.projections import _scan

    monkeypatch.setattr(_scan, "TELL_EVERY", 16)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    under_the_ui: list[str] = []

    def run(ledger: Ledger, *, projection: object, **_: object) -> None:
        before = terminal.text
        projection.rebuild("asked for")  # type: ignore[attr-defined]  # 'r' in the TUI
        under_the_ui.append(terminal.text[len(before) :])

    monkeypatch.setattr(tui, "run", run)
    open_tui(Ledger.open(_demo_copy(tmp_path)), unsafe_allow_test_keys=True)
    assert "building the projections…  " in terminal.text
    assert terminal.text.endswith("\r\x1b[K")
    assert under_the_ui == [""]


def test_duckdb_draws_no_progress_bar_on_stdout_even_in_an_interactive_python(
    tmp_path: Path,
) -> None:
    # DuckDB draws a progress bar on stdout, between a script's rows, during any query
    # over two seconds (a rebuild's, at a million entries) when it takes Python to be
    # interactive, as under 'python -c'. Every connection the projections open has it
    # off. (Shown by the setting: the suite has no two-second rebuild, and setting
    # DuckDB's progress_bar_time to shorten the wait turns the bar back on.)
    script = """if True:
        import sys, duckdb
        from pathlib import Path
        from ledger.ledger import Ledger
        from ledger.projections import open_projection

        ledger = Ledger.open(Path(sys.argv[1]))
        setting = "SELECT current_setting('enable_progress_bar')"
        print(duckdb.connect().execute(setting).fetchone()[0])
        for kind in ({}, {"in_memory": True}, {"read_only": True}):
            with open_projection(ledger, **kind) as projection:
                # the connection a rebuild runs on (its cursors have the bar off anyway)
                print(projection._con.execute(setting).fetchone()[0])
    """
    done = subprocess.run(
        [sys.executable, "-c", script, str(_demo_copy(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[2],
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "False", "False"]  # DuckDB's default here; ours
    assert done.stderr == ""


# --- Ctrl-C and a failing DuckDB: one line, never a traceback ----------------------


@pytest.mark.parametrize(
    ("raised", "code", "said"),
    [
        (RuntimeError("Query interrupted"), 130, "interrupted\n"),  # Ctrl-C during a commit
        (duckdb.InterruptException("INTERRUPT Error: Interrupted!"), 130, "interrupted\n"),
        (
            duckdb.ConstraintException("Constraint Error: duplicate key"),
            3,
            "error: the projections' database failed: Constraint Error: duplicate key; run "
            "the command again, and if it fails again delete the ledger's .cache directory "
            "(it is rebuilt from the log)\n",
        ),
    ],
    ids=["ctrl-c in a commit", "ctrl-c in a statement", "another duckdb error"],
)
def test_a_build_that_duckdb_stops_ends_in_one_line_and_its_exit_code(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    raised: Exception,
    code: int,
    said: str,
) -> None:
    from ledger.projections import Projection

    def stopped(self: Projection, *args: object) -> None:
        raise raised

    monkeypatch.setattr(Projection, "_write_meta", stopped)
    root = _demo_copy(tmp_path)
    assert main(["show", "--ledger", str(root), "clm_3y3j5kx3hsmz"]) == code
    out, err = capsys.readouterr()
    assert out == ""
    assert err == said


def test_ctrl_c_before_a_command_runs_is_interrupted_not_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger.cli import main as cli

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["log"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_a_bug_outside_duckdb_keeps_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger.projections import Projection

    def bug(self: Projection, *args: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(Projection, "_write_meta", bug)
    with pytest.raises(ZeroDivisionError):
        main(["show", "--ledger", str(_demo_copy(tmp_path)), "clm_3y3j5kx3hsmz"])


def test_ctrl_c_while_the_command_line_is_imported_is_interrupted_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.abc

    from ledger.cli import entry

    class Interrupting(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, *_: object) -> None:
            if name == "ledger.cli.main":
                raise KeyboardInterrupt  # Ctrl-C in the first tens of milliseconds
            return None

    monkeypatch.delitem(sys.modules, "ledger.cli.main")
    monkeypatch.setattr(sys, "meta_path", [Interrupting(), *sys.meta_path])
    assert entry.main() == 130
    assert capsys.readouterr().err == "interrupted\n"
