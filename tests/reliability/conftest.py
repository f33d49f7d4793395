"""Shared ground for the reliability suite: a ledger on disk, its key, the console script.

Randomised tests (the crash loop, the fuzzers, the concurrent writers) run a modest
amount by default so that CI stays fast; ``FACTLEDGER_HEAVY=1`` multiplies it. Either
way each of them reports how much it ran through the ``report_count`` fixture, and
this conftest prints those lines in a "factledger reliability" section of pytest's
terminal summary, so a CI log shows what was exercised.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger import merkle
from ledger.codec import decode_entry
from ledger.entry import event_id
from ledger.keys import SigningKey, save_signing_key
from ledger.ledger import Ledger, utc_now
from ledger.verify import Report, verify
from tests.reliability.append_batches import claim_draft

HEAVY = os.environ.get("FACTLEDGER_HEAVY") == "1"
"""Run the randomised tests many times over (``FACTLEDGER_HEAVY=1``)."""
ORIGIN = "example.org/reliability"
HERE = Path(__file__).resolve().parent
_COUNTS = pytest.StashKey[list[str]]()


def amount(default: int, heavy: int) -> int:
    """How many iterations or examples to run: ``heavy`` under FACTLEDGER_HEAVY=1."""
    return heavy if HEAVY else default


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without FACTLEDGER_* variables (no ledger or key leaks in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTLEDGER_")}
    env.update(extra)
    return env


def factledger_command() -> list[str]:
    """The installed console script, as a user or CI job runs it."""
    script = Path(sys.executable).with_name("factledger")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ledger.cli.main"]


def run_factledger(
    *args: str | Path, timeout: float = 120, **popen: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [*factledger_command(), *map(str, args)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **popen,
    )


def helper_command(script: str, *args: str | Path) -> list[str]:
    """Run one of this directory's helper scripts with the test's interpreter."""
    return [sys.executable, str(HERE / script), *map(str, args)]


def error_lines(stderr: str) -> list[str]:
    """The ``error:`` lines of stderr; a traceback fails the calling assertion."""
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@dataclass(frozen=True)
class Book:
    """A ledger on disk, owned by a freshly generated key (not a published test key)."""

    root: Path
    key_path: Path
    key: SigningKey
    claim: str

    def ledger(self) -> Ledger:
        return Ledger.open(self.root)

    @property
    def events(self) -> Path:
        return self.root / "events.jsonl"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint"

    def lines(self) -> list[bytes]:
        """The log's complete lines (a torn tail, if any, is left out)."""
        data = self.events.read_bytes()
        return data[: data.rfind(b"\n") + 1].splitlines()

    def ids(self) -> list[str]:
        """The event id of every complete line, which must decode strictly."""
        return [event_id(decode_entry(line)) for line in self.lines()]

    def prefix_root(self, size: int) -> bytes:
        """The Merkle root of the log's first ``size`` entries."""
        return merkle.root([bytes.fromhex(eid) for eid in self.ids()[:size]])

    def verify(self) -> Report:
        ledger = self.ledger()
        return verify(self.root, config=ledger.config, now=utc_now(), workers=1)

    def add_claim(self, text: str) -> str:
        (done,) = self.ledger().append([claim_draft(text)], self.key)
        return done.entry.subject


def make_book(directory: Path) -> Book:
    key = SigningKey.generate(comment="olga@example.org")
    key_path = directory / "keys" / "owner.key"
    key_path.parent.mkdir(parents=True)
    save_signing_key(key, key_path, None)
    root = directory / "claims"
    Ledger.init(root, origin=ORIGIN, key=key, owner_name="Olga", description="reliability")
    book = Book(root, key_path, key, claim="")
    return Book(root, key_path, key, claim=book.add_claim("The river rose two metres."))


@pytest.fixture
def book(tmp_path: Path) -> Book:
    """A fresh ledger: genesis and one claim, owned by a key file written 0600."""
    return make_book(tmp_path)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ledger or key leaks in from the environment or the working directory."""
    for name in ("FACTLEDGER_DIR", "FACTLEDGER_KEY", "FACTLEDGER_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def report_count(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Record a line saying how much a randomised test ran, for the terminal summary."""
    mode = "FACTLEDGER_HEAVY=1" if HEAVY else "default"

    def record(text: str) -> None:
        lines = request.config.stash.setdefault(_COUNTS, [])
        lines.append(f"{request.node.nodeid} [{mode}]: {text}")

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(_COUNTS, [])
    if lines:
        terminalreporter.section("factledger reliability: what the randomised tests ran")
        for line in lines:
            terminalreporter.write_line(line)
