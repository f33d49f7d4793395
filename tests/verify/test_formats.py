"""Verification reports as text, JSON, GitHub annotations and JUnit XML (docs/verify.md).

The report shapes are contracts for CI and scripts; docs/verify.md documents them,
and these tests hold the documentation and the output to each other.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from ledger.cli.main import main
from ledger.verify import RULES
from scripts.generate_ledger import generate
from scripts.tamper_ledger import tamper

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "verify.md").read_text(encoding="utf-8")
FACTLEDGER = (sys.executable, "-m", "ledger.cli.main")
ANNOTATION = re.compile(
    r"::(?P<level>error|notice) file=(?P<file>[^,:]+)(?:,line=(?P<line>\d+))?"
    r",title=(?P<title>[^:]+)::(?P<message>.+)"
)


def section(title: str) -> str:
    """The text of a docs/verify.md section, up to the next heading of any level."""
    start = DOC.index(f" {title}\n")
    end = DOC.find("\n#", start)
    return DOC[start : end if end >= 0 else len(DOC)]


def table_names(text: str) -> list[str]:
    """The backquoted names that start the rows of the markdown tables in ``text``."""
    return re.findall(r"^\| `([^`]+)` \|", text, flags=re.MULTILINE)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding ``claims`` (tampered three ways) and ``clean`` (pristine)."""
    base = tmp_path_factory.mktemp("formats")
    generate(200, base / "clean", seed=2)
    generate(200, base / "claims", seed=2)
    tamper(base / "claims", "wrong-role")  # appends line 201; re-signs the checkpoint
    tamper(base / "claims", "flip-sig", line=50)
    tamper(base / "claims", "flip-v", line=100)  # last: the line no longer decodes
    return base


def run(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
    ledger: str = "claims",
) -> tuple[int, str]:
    monkeypatch.chdir(workdir)
    code = main(["verify", ledger, "--unsafe-allow-test-keys", "--format", fmt])
    return code, capsys.readouterr().out


@pytest.fixture
def report(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    code, out = run(workdir, capsys, monkeypatch, "json")
    assert code == 1
    doc: dict[str, Any] = json.loads(out)
    return doc


# --- json ------------------------------------------------------------------------------


def test_json_report_has_exactly_the_documented_fields_and_types(report: dict[str, Any]) -> None:
    documented = json.loads(section("json").split("```json\n")[1].split("```")[0])
    assert list(report) == list(documented)
    for key, value in documented.items():
        if value is not None:
            assert type(report[key]) is type(value), key
    assert list(report["checkpoint"]) == list(documented["checkpoint"])
    assert list(report["counts"]) == list(documented["counts"])
    for finding in report["findings"]:
        assert list(finding) == list(documented["findings"][0])


def test_json_field_table_in_the_docs_names_every_emitted_field(report: dict[str, Any]) -> None:
    emitted = [*report, *(f"findings[].{key}" for key in report["findings"][0])]
    assert table_names(section("json")) == emitted


def test_json_counts_and_ok_agree_with_the_findings(report: dict[str, Any]) -> None:
    severities = Counter(f["severity"] for f in report["findings"])
    assert report["counts"] == {"error": severities["error"], "notice": severities["notice"]}
    assert report["ok"] is False
    rules = {(f["rule"], f["line"]) for f in report["findings"]}
    assert {("signature", 50), ("schema", 100), ("role", 201)} <= rules


def test_json_findings_are_sorted_by_line_with_whole_file_findings_last(
    report: dict[str, Any],
) -> None:
    lines = [f["line"] for f in report["findings"]]
    numbered = [line for line in lines if line is not None]
    assert numbered == sorted(numbered)
    assert lines == [*numbered, *[None] * (len(lines) - len(numbered))]
    assert lines[-1] is None  # the checkpoint no longer matches the log


# --- junit -----------------------------------------------------------------------------


def test_junit_has_one_testcase_per_rule_and_failures_for_the_broken_ones(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    report: dict[str, Any],
) -> None:
    code, out = run(workdir, capsys, monkeypatch, "junit")
    suite = ET.fromstring(out).find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    broken = Counter(f["rule"] for f in report["findings"] if f["severity"] == "error")
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert code == 1
    assert [c.get("name") for c in cases] == list(RULES)
    assert {c.get("classname") for c in cases} == {"factledger.verify"}
    assert set(failed) == set(broken)
    for rule, failure in failed.items():
        assert failure is not None
        assert failure.get("type") == rule
        assert failure.get("message") == f"{broken[rule]} finding(s)"
        assert len((failure.text or "").splitlines()) == broken[rule]
    assert (suite.get("tests"), suite.get("failures")) == (str(len(RULES)), str(len(broken)))


def test_junit_of_a_clean_ledger_has_no_failures(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(workdir, capsys, monkeypatch, "junit", ledger="clean")
    suite = ET.fromstring(out).find("testsuite")
    assert suite is not None
    assert code == 0
    assert suite.findall("testcase/failure") == []
    assert len(suite.findall("testcase")) == len(RULES)


# --- github ----------------------------------------------------------------------------


def test_github_annotations_point_at_the_events_file_and_line(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    report: dict[str, Any],
) -> None:
    code, out = run(workdir, capsys, monkeypatch, "github")
    *annotations, summary = out.splitlines()
    parsed = [ANNOTATION.fullmatch(line) for line in annotations]
    assert code == 1
    assert None not in parsed
    got = [(m["level"], m["file"], m["line"], m["title"]) for m in parsed if m is not None]
    expected = [
        (
            f["severity"],
            f"claims/{f['file']}",
            None if f["line"] is None else str(f["line"]),
            f"factledger {f['rule']}",
        )
        for f in report["findings"]
    ]
    assert got == expected
    assert ("error", "claims/events.jsonl", "50", "factledger signature") in got
    errors = report["counts"]["error"]
    assert summary == f"verification failed: {report['entries']} entries, {errors} error(s)"


# --- text ------------------------------------------------------------------------------


def text_run(workdir: Path, ledger: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FACTLEDGER, "verify", ledger, "--unsafe-allow-test-keys"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )


def test_text_report_ends_with_a_summary_line_and_has_no_colour_when_piped(
    workdir: Path,
) -> None:
    broken, clean = text_run(workdir, "claims"), text_run(workdir, "clean")
    assert broken.returncode == 1
    assert clean.returncode == 0
    assert broken.stdout.splitlines()[-1].startswith("FAILED: 201 entries, ")
    assert len(clean.stdout.splitlines()) == 1
    assert clean.stdout.startswith("verified: 200 entries, 0 error(s), 0 notice(s)")
    assert "claims/events.jsonl:50: error [signature]" in broken.stdout
    assert "\x1b" not in broken.stdout + broken.stderr


def test_text_report_is_coloured_on_a_terminal(workdir: Path) -> None:
    """The counterpart of the test above: the colour it checks for does exist."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [*FACTLEDGER, "verify", "claims", "--unsafe-allow-test-keys"],
        cwd=workdir,
        stdout=follower,
        stderr=subprocess.DEVNULL,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal closed when the process exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait() == 1
    assert b"\x1b[31merror\x1b[0m [signature]" in b"".join(chunks)


# --- the documentation -----------------------------------------------------------------


def test_docs_explain_every_rule_and_the_only_notice() -> None:
    assert table_names(section("Rules")) == [*RULES, "key-compromised"]


def test_unknown_format_is_a_usage_error_with_exit_2(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["verify", str(workdir / "clean"), "--format", "xml"])
    assert exited.value.code == 2
    assert "invalid choice: 'xml'" in capsys.readouterr().err


def test_missing_ledger_cannot_be_checked_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["verify", str(tmp_path / "nowhere")])
    assert code == 3
    assert capsys.readouterr().err.startswith("error: ")
