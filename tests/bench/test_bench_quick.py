"""The benchmark suite runs end to end (``--quick``): a smoke test, never a timing assertion."""

from __future__ import annotations

from pathlib import Path

from scripts.bench.run import main

PATHS = (
    "raw Ed25519 verify, pynacl",
    "raw Ed25519 sign, pyca",
    "SHA-256",
    "peer: eventsourcing append, batches of 100",
    "batch import, Writer.append",
    "generate_ledger (",
    "full verify, all cores",
    "full verify peak memory",
    "verify --since, 100 new entries",
    "one `factledger claim add` process",
    "projection full rebuild",
    "projection catch-up, one new entry",
    "as-of query, one claim",
    "claims page at the cursor",
)


def test_quick_run_writes_a_report_with_every_path_its_baseline_and_target(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    assert main(["--quick", "--out", str(out), "--data", str(tmp_path / "data")]) == 0
    report = out.read_text(encoding="utf-8")
    assert report.startswith("# Benchmarks")
    assert "cores" in report.splitlines()[2]  # the machine line
    rows = [line for line in report.splitlines() if line.startswith("| ")]
    for path in PATHS:
        matching = [row for row in rows if path in row]
        assert matching, f"no row for {path!r}"
        cells = [cell.strip() for cell in matching[0].strip("|").split("|")]
        assert len(cells) == 7
        assert cells[1] not in ("", "—"), f"{path}: no figure"
    table = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]
    compared = [cells for cells in table if any(op in cells[4] for op in "≥≤>")]
    assert compared
    assert all(cells[5] in ("yes", "**no**") for cells in compared)
    # An unmet target says why, from this run's figures; a met one says nothing more.
    for cells in compared:
        assert bool(cells[6]) == (cells[5] == "**no**"), cells
    # Both catch-ups: the cheap check alone, and every read's check of the whole prefix.
    for kind in ("the cheap check alone", "as every read refreshes"):
        assert any(kind in row for row in rows), kind
