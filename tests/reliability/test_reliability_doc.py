"""``docs/reliability.md`` names real tests: the threat table cannot rot.

The threat → defence → test table and the closed-gaps table are parsed; every test they
name (``path::function`` or ``path::function[param]``) must be collected by pytest,
except that a row marked "pending TUI" may name TUI tests that do not exist yet.
Every threat of the brief has a row, and every gap a row names is listed with its
failing tests.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "reliability.md"
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(\[[^\]`]*\])?`")
GAP = re.compile(r"\bG\d+\b")
THREATS = (
    "truncation",
    "reordering",
    "insertion",
    "deletion",
    "replay",
    "fork",
    "signature stripping",
    "key substitution",
    "revoked keys",
    "backdating",
    "algorithm confusion",
    "merkle second preimage",
    "signature malleability and weak keys",
    "canonicalisation",
    "torn writes",
    "git merges",
    "projection drift",
    "terminal injection",
)


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]

    @property
    def refs(self) -> list[str]:
        return [f"{path}::{name}{param or ''}" for path, name, param in TEST_REF.findall(self.text)]

    @property
    def text(self) -> str:
        return " | ".join(self.cells)


def table(heading: str) -> list[Row]:
    """The rows of the first table after ``heading`` (header and rule excluded)."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    rows: list[Row] = []
    for line in text[start + 1 :].splitlines()[1:]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
            rows.append(Row(tuple(cell.strip() for cell in cells)))
    assert len(rows) > 2, f"no table under {heading}"
    return rows[2:]


@cache
def threat_rows() -> tuple[Row, ...]:
    return tuple(table("## Threats, defences and tests"))


@cache
def gap_rows() -> tuple[Row, ...]:
    return tuple(table("## Gaps found and closed"))


@cache
def collected(files: tuple[str, ...]) -> frozenset[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return frozenset(line for line in done.stdout.splitlines() if "::" in line)


def is_collected(ref: str, nodes: frozenset[str]) -> bool:
    """An exact node id, or a function whose parametrised nodes were collected."""
    return ref in nodes or any(node.startswith(ref + "[") for node in nodes)


def all_refs() -> list[tuple[Row, str]]:
    return [(row, ref) for row in (*threat_rows(), *gap_rows()) for ref in row.refs]


def test_every_threat_of_the_brief_has_a_row_with_a_defence_and_a_test() -> None:
    names = [row.cells[0].lower() for row in threat_rows()]
    for threat in THREATS:
        matches = [row for row, name in zip(threat_rows(), names, strict=True) if threat in name]
        assert matches, f"no row for {threat}"
        for row in matches:
            assert row.cells[1], f"{threat}: no defence"
            assert row.refs, f"{threat}: no test"


def test_every_named_test_file_exists() -> None:
    files = {ref.split("::")[0] for _, ref in all_refs()}
    assert files
    pending = {ref.split("::")[0] for row, ref in all_refs() if "pending TUI" in row.text}
    missing = sorted(f for f in files if not (REPO / f).is_file() and f not in pending)
    assert missing == []


def test_every_named_test_is_collected_by_pytest() -> None:
    files = tuple(
        sorted(
            {ref.split("::")[0] for _, ref in all_refs() if (REPO / ref.split("::")[0]).is_file()}
        )
    )
    nodes = collected(files)
    assert nodes, "pytest collected nothing"
    missing = [
        ref
        for row, ref in all_refs()
        if not is_collected(ref, nodes)
        and not ("pending TUI" in row.text and ref.startswith("tests/tui/"))
    ]
    assert missing == []


def test_no_row_is_pending() -> None:
    pending = [row.cells[0] for row in threat_rows() if "pending" in row.cells[-1]]
    assert pending == []


def test_every_gap_a_row_names_is_listed_with_failing_tests_and_a_fix() -> None:
    named = {gap for row in threat_rows() for gap in GAP.findall(row.cells[-1])}
    listed = {row.cells[0]: row for row in gap_rows()}
    assert named == set(listed)
    for gap, row in listed.items():
        assert row.refs, f"{gap}: no failing test named"
        assert row.cells[-1], f"{gap}: no proposed fix"


def test_the_reference_pattern_reads_a_parametrised_node() -> None:
    row = Row(("x", "`tests/a/test_b.py::test_c[some id]` and `tests/d.py::test_e`"))
    assert row.refs == ["tests/a/test_b.py::test_c[some id]", "tests/d.py::test_e"]
    nodes = frozenset({"tests/d.py::test_e[1]", "tests/a/test_b.py::test_c[some id]"})
    assert all(is_collected(ref, nodes) for ref in row.refs)
    assert not is_collected("tests/d.py::test", nodes)


@pytest.mark.parametrize("threat", THREATS)
def test_each_threat_is_named_once(threat: str) -> None:
    assert sum(threat in row.cells[0].lower() for row in threat_rows()) == 1
