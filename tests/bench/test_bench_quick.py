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
        assert len(cells) == 6
        assert cells[1] not in ("", "—"), f"{path}: no figure"
    compared = [row for row in rows if "≥" in row or "≤" in row or ">" in row.split("|")[5]]
    assert all(row.rstrip(" |").endswith(("yes", "**no**")) for row in compared)
