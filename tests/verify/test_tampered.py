"""One tampered ledger per defect class, each reported first at its line (DESIGN §8).

The ledgers come from ``scripts/generate_ledger.py``: a generated ledger verifies
with no findings, and each tamper kind damages a copy in one way and names the
first error finding ``factledger verify`` must report. What is asserted for every
kind: exit status 1, and the first error finding in report order (findings sorted
by line, whole-file findings last) has the expected rule, line and file — so
nothing is reported before the defect, and cascading findings may only follow it.
"""

from __future__ import annotations

import concurrent.futures
import json
import random
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import ledger.verify
from ledger.cli.main import main
from ledger.codec import decode_entry
from ledger.events import ClaimAssertedBody, NoteAddedBody, VerdictIssuedBody
from ledger.ledger import Ledger
from ledger.trust import TEST_KEY_FINGERPRINTS
from ledger.verify import PARALLEL_MIN_BYTES, verify
from scripts.generate_ledger import KEYS_BY_FINGERPRINT, generate
from scripts.tamper_ledger import KINDS, tamper

REPO = Path(__file__).resolve().parents[2]
VECTOR_LEDGER = REPO / "fixtures" / "vectors" / "factledger-format" / "ledger"
VECTOR_TOML = (
    'format = 1\norigin = "example.org/demo-claims"\n'
    'trust_root = "SHA256:i9gOlPZf3grgT6WjnSG7xW5NpC768eld4VPacLAd9Bo"\n'
    'events = "events.jsonl"\n'
)
DEFECT_CLASSES = (
    "flip-at",
    "flip-author",
    "flip-body",
    "flip-kind",
    "flip-parent",
    "flip-sig",
    "flip-subject",
    "flip-v",
    "swap-lines",
    "delete-line",
    "insert-resigned",
    "duplicate-line",
    "replay-old-entry",
    "truncate",
    "forged-checkpoint",
    "unknown-key",
    "revoked-key",
    "wrong-role",
    "stale-parent",
    "fork",
    "non-canonical",
    "duplicate-key",
    "bad-base64",
    "torn-tail",
    "redaction-without-event",
)


def documented_first_findings() -> dict[str, str]:
    """Tamper kind -> first finding's rule, from the table in docs/verify.md."""
    doc = (REPO / "docs" / "verify.md").read_text(encoding="utf-8")
    table = doc[doc.index("| kind | the defect | first finding |") :]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \|.*\| `([a-z-]+)`[^|]*\|$", table, flags=re.M)
    return dict(rows)


def verify_json(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["verify", str(root), "--unsafe-allow-test-keys", "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def errors_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["severity"] == "error"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("generated") / "claims"
    generate(400, root, seed=7)
    return root


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10,000 entries: over PARALLEL_MIN_BYTES, so signatures are checked in workers."""
    root = tmp_path_factory.mktemp("large") / "claims"
    generate(10_000, root, seed=1)
    return root


# --- the generated ledgers -------------------------------------------------------------


def test_generated_ledger_verifies_with_exit_0_and_no_findings(
    pristine: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = verify_json(pristine, capsys)
    assert (code, doc["ok"], doc["findings"]) == (0, True, [])
    assert doc["entries"] == doc["checkpoint"]["size"] == 400


def test_generation_is_deterministic_for_a_seed_and_differs_across_seeds(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate(60, tmp_path / name, seed=seed)

    def files(name: str) -> tuple[bytes, bytes]:
        root = tmp_path / name
        return (root / "events.jsonl").read_bytes(), (root / "checkpoint").read_bytes()

    assert files("a") == files("b")
    assert files("a")[0] != files("c")[0]


def test_generated_mix_is_that_of_a_fact_checking_desk(large: Path) -> None:
    lines = (large / "events.jsonl").read_bytes().splitlines()
    entries = [decode_entry(line) for line in lines]
    share = {kind: n / len(entries) for kind, n in Counter(e.kind for e in entries).items()}
    targets = {
        "source.registered": 0.08,
        "claim.asserted": 0.20,
        "source.attributed": 0.25,
        "claim.corrected": 0.10,
        "verdict.issued": 0.08,
        "claim.status": 0.10,
        "note.added": 0.15,
    }
    for kind, target in targets.items():
        assert share[kind] == pytest.approx(target, abs=0.02), kind
    assert {"key.granted", "key.revoked", "attribution.withdrawn", "verdict.voided"} <= set(share)
    verdicts = [e.body for e in entries if isinstance(e.body, VerdictIssuedBody)]
    assert len([v for v in verdicts if v.revision is not None]) > 100
    texts = [e.body.text for e in entries if isinstance(e.body, ClaimAssertedBody | NoteAddedBody)]
    assert min(map(len, texts)) >= 60
    assert max(map(len, texts)) <= 300
    assert len({e.author for e in entries}) >= 8


def test_every_generator_key_is_a_listed_test_key() -> None:
    assert set(KEYS_BY_FINGERPRINT) <= TEST_KEY_FINGERPRINTS


def test_generated_ledger_is_refused_without_the_test_key_opt_in(
    pristine: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["verify", str(pristine), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    # the owner is a published test key, and so is every key it grants
    rules = [f["rule"] for f in doc["findings"]]
    assert rules.count("trust-root") == 1
    assert set(rules) == {"trust-root", "key-grant"}


# --- one defect class per tamper kind --------------------------------------------------


def test_tamper_kinds_cover_every_defect_class_and_are_documented() -> None:
    assert set(DEFECT_CLASSES) <= set(KINDS)
    assert list(documented_first_findings()) == list(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_verify_reports_the_tamper_first_at_its_line(
    kind: str, pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "claims"
    shutil.copytree(pristine, root)
    expected = tamper(root, kind)
    code, doc = verify_json(root, capsys)
    errors = errors_of(doc)
    assert code == 1
    assert errors, f"{kind}: no error finding at all"
    first = errors[0]
    assert (first["rule"], first["line"], first["file"]) == (
        expected.rule,
        expected.line,
        expected.file,
    ), f"{kind}: {[(f['rule'], f['line']) for f in errors[:5]]}"
    assert documented_first_findings()[kind] == expected.rule


TAMPER = ("--seed", "5", "--tamper", "flip-sig")
JSON_OPTS = ("--unsafe-allow-test-keys", "--format", "json")


def test_tamper_script_prints_the_finding_that_the_verify_command_reports(
    tmp_path: Path,
) -> None:
    root = tmp_path / "claims"
    made = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "generate_ledger.py"), "60", str(root), *TAMPER],
        capture_output=True,
        text=True,
        check=True,
    )
    expected = json.loads(made.stdout)
    assert "wrote 60 entries" in made.stderr
    checked = subprocess.run(
        [sys.executable, "-m", "ledger.cli.main", "verify", str(root), *JSON_OPTS],
        capture_output=True,
        text=True,
        check=False,
    )
    first = errors_of(json.loads(checked.stdout))[0]
    assert checked.returncode == 1
    assert expected == {"rule": "signature", "line": first["line"], "file": "events.jsonl"}
    assert first["rule"] == "signature"


# --- the parallel path -----------------------------------------------------------------


class CountingPool(concurrent.futures.ProcessPoolExecutor):
    """A process pool that counts how often verification starts one."""

    started = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).started += 1
        super().__init__(*args, **kwargs)


@pytest.fixture
def counting_pool(monkeypatch: pytest.MonkeyPatch) -> type[CountingPool]:
    """Count pools whether verify imports the class at module load or when it needs it."""
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", CountingPool)
    monkeypatch.setattr(ledger.verify, "ProcessPoolExecutor", CountingPool, raising=False)
    CountingPool.started = 0
    return CountingPool


def test_large_generated_ledger_verifies_on_the_parallel_path(
    large: Path, counting_pool: type[CountingPool]
) -> None:
    assert (large / "events.jsonl").stat().st_size > PARALLEL_MIN_BYTES
    config = Ledger.open(large).config
    report = verify(large, config=config, workers=2, unsafe_allow_test_keys=True)
    assert counting_pool.started == 1
    assert (report.ok, report.findings, report.entries) == (True, [], 10_000)


def test_parallel_path_reports_a_bad_signature_deep_in_the_log_at_its_line(
    large: Path, tmp_path: Path, counting_pool: type[CountingPool]
) -> None:
    root = tmp_path / "claims"
    shutil.copytree(large, root)
    expected = tamper(root, "flip-sig", line=9_321)
    report = verify(root, config=Ledger.open(root).config, workers=2, unsafe_allow_test_keys=True)
    assert counting_pool.started == 1
    assert expected.line == 9_321
    first = report.errors[0]
    assert (first.rule, first.line) == ("signature", 9_321)
    assert [f.rule for f in report.errors if f.line == 9_321] == ["signature"]


# --- the format-vector ledger, byte by byte --------------------------------------------


@pytest.fixture
def vector_ledger(tmp_path: Path) -> Path:
    root = tmp_path / "vectors"
    root.mkdir()
    for name in ("events.jsonl", "checkpoint"):
        (root / name).write_bytes((VECTOR_LEDGER / name).read_bytes())
    (root / "ledger.toml").write_text(VECTOR_TOML, encoding="utf-8")
    return root


def test_format_vector_ledger_verifies_as_published(
    vector_ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = verify_json(vector_ledger, capsys)
    assert (code, doc["findings"], doc["entries"]) == (0, [], 12)


def test_every_sampled_single_byte_change_of_the_format_vectors_is_rejected(
    vector_ledger: Path,
) -> None:
    """300 deterministic positions across events.jsonl and checkpoint, one bit flipped each.

    Rejected means what ``factledger verify`` turns into exit status 1: a report that
    is not ok, returned without raising (a raise would be exit 3, "could not check").
    ``verify`` is called directly because building the command line's parser 300
    times would double the runtime; the exit status mapping is tested above.
    """
    config = Ledger.open(vector_ledger).config
    files = {name: (vector_ledger / name).read_bytes() for name in ("events.jsonl", "checkpoint")}
    positions = [(name, pos) for name, data in files.items() for pos in range(len(data))]
    rng = random.Random(20241125)
    sample = rng.sample(positions, 300)
    assert {name for name, _ in sample} == set(files)
    accepted: list[tuple[str, int, int]] = []
    for name, pos in sample:
        mask = 1 << rng.randrange(8)
        data = bytearray(files[name])
        data[pos] ^= mask
        (vector_ledger / name).write_bytes(bytes(data))
        if verify(vector_ledger, config=config, unsafe_allow_test_keys=True).ok:
            accepted.append((name, pos, mask))
        (vector_ledger / name).write_bytes(files[name])
    assert accepted == []
