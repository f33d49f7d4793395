"""The CI recipe in docs/ci.md works as written, against a real (shallow) clone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
HOOKS = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def recipe() -> str:
    section = DOC.split("## What the workflow runs", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    bindir = Path(sys.executable).parent
    return {
        "HOME": str(tmp_path),
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "LC_ALL": "C.UTF-8",
    }


def make_origin(tmp_path: Path, env: dict[str, str]) -> tuple[Path, str]:
    """A repository with a ledger in claims/: a base commit, then an appending commit."""
    origin = tmp_path / "origin"
    origin.mkdir()
    steps = [
        ["git", "-c", "init.defaultBranch=main", "init", "-q"],
        ["factledger", "key", "new", str(tmp_path / "owner.key")],
        [
            "factledger",
            "init",
            "claims",
            "--origin",
            "example.org/ci",
            "--key",
            str(tmp_path / "owner.key"),
        ],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "base"],
    ]
    for step in steps:
        done = run(step, origin, env)
        assert done.returncode == 0, done.stderr
    base = run(["git", "rev-parse", "HEAD"], origin, env).stdout.strip()
    key_env = {**env, "FACTLEDGER_KEY": str(tmp_path / "owner.key")}
    done = run(["factledger", "--version"], origin, key_env)
    for step in (
        [
            "factledger",
            "source",
            "add",
            "--ledger",
            "claims",
            "--title",
            "A report",
            "--kind",
            "report",
        ],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "append"],
    ):
        done = run(step, origin, key_env)
        assert done.returncode == 0, done.stderr
    return origin, base


def test_documented_commands_pass_on_an_appending_change_in_a_shallow_clone(
    tmp_path: Path, env: dict[str, str]
) -> None:
    origin, base = make_origin(tmp_path, env)
    clone = tmp_path / "clone"
    done = run(["git", "clone", "-q", "--depth=1", f"file://{origin}", str(clone)], tmp_path, env)
    assert done.returncode == 0, done.stderr
    script = "set -euo pipefail\n" + recipe()
    ci = run(["bash", "-c", script], clone, {**env, "BASE_SHA": base, "LEDGER": "claims"})
    assert ci.returncode == 0, ci.stdout + ci.stderr
    assert "verified" in ci.stdout


def test_without_the_fetch_a_shallow_clone_cannot_check_and_says_how_to_fetch(
    tmp_path: Path, env: dict[str, str]
) -> None:
    origin, base = make_origin(tmp_path, env)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", "--depth=1", f"file://{origin}", str(clone)], tmp_path, env)
    done = run(["factledger", "verify", "claims", "--since", f"git:{base}"], clone, env)
    assert done.returncode == 3
    assert f"git revision '{base}' is not in this clone, which is shallow" in done.stderr
    assert "git fetch" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_revision_missing_from_a_full_clone_is_not_blamed_on_a_shallow_one(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """It said "(a shallow checkout?)" and to fetch more history, in a clone that has
    all of it: the revision is wrong, not missing."""
    origin, _ = make_origin(tmp_path, env)
    done = run(["factledger", "verify", "claims", "--since", "git:HEAD~50"], origin, env)
    assert done.returncode == 3
    assert "git revision 'HEAD~50' is not in this repository's history" in done.stderr
    assert "shallow" not in done.stderr
    assert "git fetch" not in done.stderr


def test_documented_commands_fail_a_change_that_rewrites_history(
    tmp_path: Path, env: dict[str, str]
) -> None:
    origin, base = make_origin(tmp_path, env)
    events = origin / "claims" / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    events.write_bytes(lines[-1])  # drop the genesis: only the new entry is left
    for step in (["git", "add", "-A"], ["git", "commit", "-qm", "rewrite"]):
        assert run(step, origin, env).returncode == 0
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", "--depth=1", f"file://{origin}", str(clone)], tmp_path, env)
    script = "set -euo pipefail\n" + recipe()
    ci = run(["bash", "-c", script], clone, {**env, "BASE_SHA": base, "LEDGER": "claims"})
    assert ci.returncode == 1
    assert "::error file=claims/events.jsonl" in ci.stdout


def test_pre_commit_hook_definition_runs_the_append_only_check() -> None:
    assert "entry: factledger verify --since git:HEAD" in HOOKS
    assert HOOKS.strip() in DOC
