"""Fixtures of the command-line tests: an isolated environment, the test keys, a ledger."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ledger.cli.main import main
from ledger.keys import SigningKey, save_signing_key
from tests.cli.support import Keys, Result, Run


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ledger or key leaks in from the environment or an enclosing directory."""
    for name in ("FACTLEDGER_DIR", "FACTLEDGER_KEY", "FACTLEDGER_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def call(*argv: str | Path) -> Result:
        capsys.readouterr()
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse: --help, usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return call


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    made = []
    for n, name in enumerate(["owner", "editor", "reviewer"], start=1):
        path = tmp_path / "keys" / f"{name}.key"
        path.parent.mkdir(exist_ok=True)
        save_signing_key(SigningKey.from_seed(bytes([n]) * 32, f"{name}@example.org"), path, None)
        made.append(path)
    return Keys(*made)


@pytest.fixture
def ledger_dir(tmp_path: Path, keys: Keys, run: Run) -> Path:
    """An initialised ledger with an editor and a reviewer; cwd is inside it."""
    root = tmp_path / "claims"
    assert run("init", root, "--origin", "example.org/claims", "--key", keys.owner).code == 0
    os.chdir(root)
    assert run("key", "grant", f"{keys.editor}.pub", "--name", "Edna", "--role", "editor",
               "--key", keys.owner).code == 0  # fmt: skip
    assert run("key", "grant", f"{keys.reviewer}.pub", "--name", "Rui", "--role",
               "reviewer", "--key", keys.owner).code == 0  # fmt: skip
    return root
