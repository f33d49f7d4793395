"""Verification in flat memory: the fold's large tables spill to a scratch file.

For logs from ``SPILL_MIN_BYTES`` on, ``verify`` keeps stream heads, claims,
sources and the event index in a scratch sqlite file with a bounded number of
rows in memory. These tests force that path on small ledgers, with a tiny bound
so that rows really leave memory and come back, and check that every tampered
ledger gets exactly the report the in-memory fold gives.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ledger import rules, statecache
from ledger import verify as verify_module
from ledger.codec import decode_entry
from ledger.entry import event_id
from ledger.ledger import Ledger
from ledger.verify import Report, verify
from scripts.generate_ledger import generate
from scripts.tamper_ledger import KINDS, tamper


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("generated") / "claims"
    generate(400, root, seed=7)
    return root


def summary(report: Report) -> tuple[object, ...]:
    findings = [(f.rule, f.line, f.event_id, f.severity, f.message) for f in report.findings]
    return report.entries, report.root, findings


def both_ways(root: Path, monkeypatch: pytest.MonkeyPatch) -> Report:
    """Verify in memory and spilled (16 rows a table); assert equal reports."""
    config = Ledger.open(root).config
    opened: list[tuple[Path, rules.LedgerState]] = []
    real = statecache.scratch_state

    def tiny(path: Path, **kwargs: str) -> tuple[rules.LedgerState, object]:
        state, con = real(
            path, origin=kwargs["origin"], trust_root=kwargs["trust_root"], spill_at=16
        )
        opened.append((path, state))
        return state, con

    in_memory = verify(root, config=config, workers=1, unsafe_allow_test_keys=True)
    monkeypatch.setattr(verify_module, "SPILL_MIN_BYTES", 0)
    monkeypatch.setattr(statecache, "scratch_state", tiny)
    spilled = verify(root, config=config, workers=1, unsafe_allow_test_keys=True)
    ((path, state),) = opened
    assert not path.exists(), "the scratch file outlives the verification"
    for table in (state.events, state.heads, state.last_at, state.claims):
        assert isinstance(table, statecache.SqlMap)
        assert table.resident <= 17
    assert summary(spilled) == summary(in_memory)
    return spilled


def test_a_pristine_ledger_verifies_spilled(
    pristine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert both_ways(pristine, monkeypatch).ok


@pytest.mark.parametrize("kind", KINDS)
def test_every_tamper_is_reported_the_same_when_spilled(
    kind: str, pristine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "claims"
    shutil.copytree(pristine, root)
    expected = tamper(root, kind)
    report = both_ways(root, monkeypatch)
    assert (expected.rule, expected.line) in {(f.rule, f.line) for f in report.errors}


def test_a_replayed_pair_is_reported_twice_as_duplicates(
    pristine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replaying P then E (E's parent is P) makes P the head again when E comes back.

    E's parent is then the head, so only the taint P's repeat left on the stream
    makes the fold look E up in the event index — which, spilled, is on disk.
    """
    root = tmp_path / "claims"
    shutil.copytree(pristine, root)
    events = root / "events.jsonl"
    lines = events.read_bytes().split(b"\n")[:-1]
    ids = [event_id(decode_entry(line)) for line in lines]
    parent = {i: decode_entry(line).parent for i, line in enumerate(lines)}
    first, second = next((ids.index(p), i) for i, p in parent.items() if p is not None)
    with events.open("ab") as handle:
        handle.write(lines[first] + b"\n" + lines[second] + b"\n")
    report = both_ways(root, monkeypatch)
    duplicates = [f.line for f in report.errors if f.rule == "duplicate-id"]
    assert duplicates == [len(lines) + 1, len(lines) + 2]
