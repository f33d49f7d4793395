"""The bundled demo ledger: reproducible, verifiable, true to its article, and complete.

The ledger in fixtures/ledgers/firstpost-2024-al-qaeda-taliban is built from
fixtures/demo/firstpost-2024-al-qaeda-taliban.toml by scripts/make_fixtures.py.
The article it quotes is not part of the project; the tests that need it read it
from ../shared/seeds/ beside the repository and skip when it is not there.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ledger.entry import event_id
from ledger.events import (
    AttributionWithdrawnBody,
    ClaimAssertedBody,
    ClaimCorrectedBody,
    Entry,
    EntryRedactedBody,
    KeyGrantedBody,
    KeyRevokedBody,
    NoteAddedBody,
    SourceAttributedBody,
    SourceRegisteredBody,
    VerdictIssuedBody,
)
from ledger.keys import parse_public_key
from ledger.ledger import Ledger
from ledger.trust import TEST_KEY_FINGERPRINTS
from ledger.verify import verify

REPO = Path(__file__).resolve().parents[2]
NAME = "firstpost-2024-al-qaeda-taliban"
LEDGER_DIR = REPO / "fixtures" / "ledgers" / NAME
KEYS_DIR = REPO / "fixtures" / "keys"
ARTICLE = REPO.parent / "shared" / "seeds" / f"{NAME}.txt"
MAX_QUOTE_WORDS = 25


def _load_make_fixtures() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_fixtures", REPO / "scripts/make_fixtures.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


make_fixtures = _load_make_fixtures()


@pytest.fixture(scope="module")
def fresh_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("build") / NAME
    make_fixtures.build(dest)
    return dest


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    return [entry for _, entry in Ledger.open(LEDGER_DIR).entries()]


@pytest.fixture(scope="module")
def article() -> bytes:
    if not ARTICLE.parent.is_dir():
        pytest.skip(f"the seed article is not available ({ARTICLE.parent} is absent)")
    return ARTICLE.read_bytes()


def bodies(entries: list[Entry], kind: type) -> list:  # type: ignore[type-arg]
    return [e.body for e in entries if isinstance(e.body, kind)]


# --- reproducible -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["events.jsonl", "checkpoint", "ledger.toml", ".gitignore", ".gitattributes"]
)
def test_committed_demo_ledger_equals_a_fresh_build(fresh_build: Path, name: str) -> None:
    assert (fresh_build / name).read_bytes() == (LEDGER_DIR / name).read_bytes()


def test_committed_demo_readme_equals_a_fresh_build(fresh_build: Path) -> None:
    readme = (LEDGER_DIR / "README.md").read_text(encoding="utf-8")
    assert readme == (fresh_build / "README.md").read_text(encoding="utf-8")
    assert "not a published fact-check" in readme
    assert "scripts/make_fixtures.py" in readme


def test_make_fixtures_check_passes_on_the_committed_ledger() -> None:
    assert make_fixtures.main(["--check"]) == 0


def test_make_fixtures_check_reports_a_changed_file(fresh_build: Path, tmp_path: Path) -> None:
    for name in make_fixtures.FILES:
        (tmp_path / name).write_bytes((fresh_build / name).read_bytes())
    assert make_fixtures.differences(fresh_build, tmp_path) == []
    (tmp_path / "checkpoint").write_bytes(b"tampered\n")
    assert make_fixtures.differences(fresh_build, tmp_path) == [
        "checkpoint: differs from a fresh build"
    ]


def test_demo_keys_are_the_derived_public_test_keys() -> None:
    labels = sorted(
        p.name.removeprefix("demo-").removesuffix(".key.pub") for p in KEYS_DIR.glob("*.pub")
    )
    assert len(labels) == 6
    keys = make_fixtures.load_keys(KEYS_DIR, labels)
    for label, key in keys.items():
        assert key.public.fingerprint in TEST_KEY_FINGERPRINTS, label
        assert key.public.comment == f"{label}@demo.factledger.example (DEMO KEY - never trust)"
        private = (KEYS_DIR / f"demo-{label}.key").read_bytes()
        assert private.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")


# --- verifiable ---------------------------------------------------------------------


def test_demo_ledger_verifies_with_unsafe_allow_test_keys() -> None:
    ledger = Ledger.open(LEDGER_DIR)
    report = verify(LEDGER_DIR, config=ledger.config, unsafe_allow_test_keys=True)
    assert report.findings == []
    assert report.entries == 210


def test_demo_ledger_is_refused_without_unsafe_allow_test_keys() -> None:
    ledger = Ledger.open(LEDGER_DIR)
    report = verify(LEDGER_DIR, config=ledger.config)
    assert not report.ok
    # the owner is a published key, and so is every key it granted
    assert {f.rule for f in report.errors} == {"trust-root", "key-grant"}
    grants = [f for f in report.errors if f.rule == "key-grant"]
    assert all("published demo/test key" in f.message for f in grants)
    assert len(grants) == len(ledger.load().state.keys) - 1


# --- true to the article (which the project does not contain) -------------------------


def _quotes(entries: list[Entry]) -> list[str]:
    quotes = [b.appearance.quote for b in bodies(entries, ClaimAssertedBody) if b.appearance]
    quotes += [b.quote for b in bodies(entries, SourceAttributedBody) if b.quote]
    return quotes


def test_every_quote_is_a_short_verbatim_fragment_of_the_article(
    entries: list[Entry], article: bytes
) -> None:
    text = article.decode("utf-8")
    quotes = _quotes(entries)
    assert len(quotes) > 50
    for quote in quotes:
        assert quote in text, quote
        assert len(quote.split()) <= MAX_QUOTE_WORDS, quote


def test_recorded_content_hash_is_the_articles(entries: list[Entry], article: bytes) -> None:
    hashes = {b.content_sha256 for b in bodies(entries, SourceRegisteredBody) if b.content_sha256}
    assert hashes == {hashlib.sha256(article).hexdigest()}


def test_project_files_do_not_copy_the_article(article: bytes) -> None:
    words = article.decode("utf-8").split()
    window = MAX_QUOTE_WORDS + 5
    needles = {" ".join(words[i : i + window]) for i in range(0, len(words) - window, window)}
    assert needles
    for directory in ("fixtures", "tests", "scripts", "ledger", "docs"):
        for path in (REPO / directory).rglob("*"):
            if not path.is_file() or path.stat().st_size > 4 << 20:
                continue
            text = " ".join(path.read_bytes().decode("utf-8", "replace").split())
            assert not any(needle in text for needle in needles), path


# --- complete: it shows every part of the format -----------------------------------------


def test_demo_has_many_claims_of_every_kind(entries: list[Entry]) -> None:
    claims = bodies(entries, ClaimAssertedBody)
    assert len(claims) >= 25
    assert {"factual", "opinion", "prediction"} <= {c.kind for c in claims}


def test_demo_has_keys_with_different_roles(entries: list[Entry]) -> None:
    grants = bodies(entries, KeyGrantedBody)
    signers = {e.author for e in entries}
    assert len(signers) >= 3
    assert {"admin", "editor", "reviewer"} <= {"admin"} | {g.role for g in grants}


def test_demo_retires_a_key_and_grants_its_replacement(entries: list[Entry]) -> None:
    grants = {
        e.subject: (i, e.body) for i, e in enumerate(entries) if isinstance(e.body, KeyGrantedBody)
    }
    retired = [
        (i, e.subject)
        for i, e in enumerate(entries)
        if isinstance(e.body, KeyRevokedBody) and e.body.reason == "retired"
    ]
    assert retired
    at, old = retired[0]
    name = grants[old][1].name
    replacements = [fp for fp, (i, g) in grants.items() if fp != old and g.name == name and i > at]
    assert replacements
    assert any(e.author == replacements[0] for e in entries[at:])
    assert all(e.author != old for e in entries[at:])


def test_demo_has_a_redaction_and_a_reply_to_the_redacted_note(entries: list[Entry]) -> None:
    ids = {event_id(e): e for e in entries}
    (redaction,) = bodies(entries, EntryRedactedBody)
    target = ids[redaction.target]
    assert target.redacted
    assert target.kind == "note.added"
    assert [e for e in entries if e.redacted] == [target]
    replies = [b for b in bodies(entries, NoteAddedBody) if b.in_reply_to == redaction.target]
    assert replies


def test_demo_withdraws_an_attribution(entries: list[Entry]) -> None:
    assert bodies(entries, AttributionWithdrawnBody)


def test_demo_has_each_kind_of_correction(entries: list[Entry]) -> None:
    kinds = {b.correction for b in bodies(entries, ClaimCorrectedBody)}
    assert kinds == {"typo", "clarification", "substantive"}


def test_demo_revises_a_verdict(entries: list[Entry]) -> None:
    verdicts = bodies(entries, VerdictIssuedBody)
    assert any(v.revision == "correction" and v.changes_rating for v in verdicts)
    assert any(v.revision == "update" for v in verdicts)
    assert any(e.kind == "verdict.voided" for e in entries)


# --- factledger demo ------------------------------------------------------------------


def _factledger(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTLEDGER_")}
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_factledger_demo_copies_verifies_and_walks_through(tmp_path: Path) -> None:
    dest = tmp_path / "demo"
    done = _factledger("demo", str(dest), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name in ("ledger.toml", "events.jsonl", "checkpoint"):
        assert (dest / name).read_bytes() == (LEDGER_DIR / name).read_bytes()
    assert "verified" in done.stdout
    assert "claim.asserted" in done.stdout
    assert "factledger show" in done.stdout
    assert "public demo keys" in done.stderr


def test_factledger_demo_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("mine\n", encoding="utf-8")
    done = _factledger("demo", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert "not empty" in done.stderr
    assert (tmp_path / "something").read_text(encoding="utf-8") == "mine\n"
    assert not (tmp_path / "ledger.toml").exists()


def test_factledger_demo_no_open_copies_only(tmp_path: Path) -> None:
    dest = tmp_path / "demo"
    done = _factledger("demo", "--no-open", str(dest), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(dest)
    assert (dest / "events.jsonl").is_file()


def test_demo_keys_parse_as_admitted_public_keys() -> None:
    for pub in KEYS_DIR.glob("*.pub"):
        key = parse_public_key(pub.read_text(encoding="utf-8").removesuffix("\n"))
        assert key.fingerprint in TEST_KEY_FINGERPRINTS
