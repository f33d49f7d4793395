"""``factledger check-receipt``: what a reader holding only a file and a fingerprint relies on.

A dossier is checked for more than its proofs: it must hold its claim's stream without
a gap and only the sources that claim cites, each entry once; a published test key is
no trust root; and a file too large to be a receipt is refused before it is read.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledger.keys import SigningKey
from scripts.bench.measure import run_command
from tests.cli.support import Keys, Run, add_claim, add_source

pytestmark = pytest.mark.usefixtures("isolated")

OWNER = SigningKey.from_seed(bytes([1]) * 32).public.fingerprint  # the `keys` fixture's owner
DEMO_OWNER = "SHA256:cMucLRnf0Rb9q+dECBCiDDTHvlRgzRmoRNqGWsUagbE"  # a published demo key


def claim_with_history(run: Run, keys: Keys) -> str:
    """A claim citing a source, corrected and noted: a dossier of two streams."""
    source = add_source(run, keys)
    claim = run("claim", "add", "The river rose two metres.", "--appears-in", source,
                "--key", keys.reviewer).out.strip()  # fmt: skip
    for argv in (
        ("claim", "attribute", claim, source, "--stance", "supports"),
        (
            "claim",
            "correct",
            claim,
            "The river rose three metres.",
            "--kind",
            "substantive",
            "--reason",
            "gauge re-read",
        ),
        ("claim", "note", claim, "Checked twice."),
    ):
        assert run(*argv, "--key", keys.reviewer).code == 0
    return claim


@pytest.fixture
def dossier(run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path) -> dict[str, Any]:
    """A dossier of one claim; another claim, added first, is proven alongside it."""
    other = add_claim(run, keys, "The bridge was closed.")
    claim = claim_with_history(run, keys)
    docs = {}
    for name, target in (("claim", claim), ("other", other)):
        assert run("prove", target, "-o", tmp_path / f"{name}.json").code == 0
        docs[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert docs["claim"]["checkpoint"] == docs["other"]["checkpoint"]  # one state of the log
    return {"doc": docs["claim"], "other": docs["other"], "claim": claim}


def check(run: Run, tmp_path: Path, doc: dict[str, Any], *extra: str) -> Any:
    path = tmp_path / "checked.json"
    path.write_text(json.dumps(doc))
    return run("check-receipt", path, "--trust-root", OWNER, *extra)


def test_an_unchanged_dossier_is_valid_and_names_its_claim(
    run: Run, tmp_path: Path, dossier: dict[str, Any]
) -> None:
    result = check(run, tmp_path, dossier["doc"], "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["claim"] == dossier["claim"]
    assert (
        len(doc["entries"]) == len(dossier["doc"]["entries"]) == 5
    )  # the source's one, the claim's four
    plain = check(run, tmp_path, dossier["doc"])
    assert f"of claim {dossier['claim']} included in" in plain.err


def _no_entries(doc: dict[str, Any], other: dict[str, Any]) -> None:
    doc["entries"] = []


def _another_claim(doc: dict[str, Any], other: dict[str, Any]) -> None:
    doc["claim"] = other["claim"]


def _twice(doc: dict[str, Any], other: dict[str, Any]) -> None:
    doc["entries"].append(doc["entries"][-1])


def _gap(doc: dict[str, Any], other: dict[str, Any]) -> None:
    claims = [e for e in doc["entries"] if '"subject":"clm_' in e["line"]]
    doc["entries"].remove(claims[1])  # the attribution, between assertion and correction


def _foreign(doc: dict[str, Any], other: dict[str, Any]) -> None:
    doc["entries"].extend(other["entries"])


def _source_left_out(doc: dict[str, Any], other: dict[str, Any]) -> None:
    doc["entries"] = [e for e in doc["entries"] if '"subject":"src_' not in e["line"]]


MUTATIONS: dict[str, tuple[Callable[[dict[str, Any], dict[str, Any]], None], str]] = {
    "no entries": (_no_entries, "holds no entry of its claim"),
    "another claim's id": (_another_claim, "holds no entry of its claim"),
    "an entry twice": (_twice, "lists an entry twice"),
    "a gap in the stream": (_gap, "leaves entries out"),
    "another claim's entries": (_foreign, "which its claim"),
    "its source left out": (_source_left_out, "leaves out src_"),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_a_dossier_that_proves_less_or_other_than_its_claim_is_refused(
    run: Run, tmp_path: Path, dossier: dict[str, Any], name: str
) -> None:
    mutate, says = MUTATIONS[name]
    doc = json.loads(json.dumps(dossier["doc"]))
    mutate(doc, {**dossier["other"], "claim": dossier["other"]["claim"]})
    result = check(run, tmp_path, doc)
    assert result.code == 1
    line = result.one_error_line()
    assert line.startswith(f"error: {tmp_path / 'checked.json'}: [receipt] ")  # names the file
    assert says in line


def test_a_verdict_stays_provable_after_its_author_is_granted_a_lesser_role(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    """The role that counts is the one in force where the entry is, as verify judges it."""
    claim = add_claim(run, keys)
    judged = run("claim", "verdict", claim, "false", "--rationale", "r", "--key", keys.editor,
                 "--json")  # fmt: skip
    assert judged.code == 0, judged.err
    verdict = json.loads(judged.out)["id"]
    assert run("key", "grant", f"{keys.editor}.pub", "--name", "Edna", "--role", "reviewer",
               "--key", keys.owner).code == 0  # fmt: skip
    assert run("verify").code == 0
    for target, name in ((verdict, "verdict.receipt"), (claim, "claim.json")):
        assert run("prove", target, "-o", tmp_path / name).code == 0
        checked = run("check-receipt", tmp_path / name, "--trust-root", OWNER)
        assert checked.code == 0, checked.err


def test_the_genesis_entry_has_a_receipt_that_checks(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    """The owner signs ledger.created, which no role may sign after it: entry 0 only."""
    genesis = json.loads(run("log", "--json").out.splitlines()[0])
    assert (genesis["seq"], genesis["entry"]["kind"]) == (0, "ledger.created")
    assert run("prove", genesis["id"], "-o", tmp_path / "genesis.receipt").code == 0
    checked = run("check-receipt", tmp_path / "genesis.receipt", "--trust-root", OWNER)
    assert checked.code == 0, checked.err


def test_a_receipt_under_a_published_demo_key_is_refused_unless_asked_for(
    run: Run, tmp_path: Path
) -> None:
    demo = tmp_path / "demo"
    assert run("demo", demo, "--no-open").code == 0
    event = json.loads(run("log", "--ledger", demo, "--json").out.splitlines()[-1])["id"]
    receipt = tmp_path / "demo.receipt"
    assert run("prove", "--ledger", demo, event, "-o", receipt).code == 0
    refused = run("check-receipt", receipt, "--trust-root", DEMO_OWNER)
    assert refused.code == 1
    assert "[trust-root]" in refused.one_error_line()
    assert "published demo/test key" in refused.err
    allowed = run("check-receipt", receipt, "--trust-root", DEMO_OWNER, "--unsafe-allow-test-keys")
    assert allowed.code == 0, allowed.err
    assert allowed.err.startswith("warning: --unsafe-allow-test-keys")


def test_a_huge_file_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    huge = tmp_path / "huge"
    with huge.open("wb") as f:
        f.truncate(1 << 30)  # 1 GiB, sparse: nothing on disk
    done = run_command(
        [sys.executable, "-m", "ledger.cli.main", "check-receipt", str(huge), "--trust-root",
         OWNER], peak_rss=True,
    )  # fmt: skip
    assert done.returncode == 1
    assert b"too large to be a receipt" in done.stderr
    assert 0 < done.peak_rss_mib < 400  # it read 64 MiB and a byte, never the 1 GiB


def test_a_directory_is_one_line_naming_it_once_and_json_still_answers(
    run: Run, tmp_path: Path
) -> None:
    result = run("check-receipt", tmp_path, "--trust-root", OWNER, "--json")
    assert result.code == 3
    line = result.one_error_line()
    assert line == f"error: {tmp_path}: could not read it: Is a directory"
    doc = json.loads(result.out)
    assert doc["ok"] is False
    assert doc["file"] == str(tmp_path)
