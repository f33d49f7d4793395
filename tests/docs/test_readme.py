"""The README's examples run, so the docs cannot rot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def shell_block(after_heading: str) -> str:
    section = README.split(after_heading, 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match is not None, f"no sh block after {after_heading!r}"
    return match.group(1)


def test_readme_quick_start_has_exactly_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", quick, re.S)
    assert len(blocks) == 2
    assert all(len(b.strip().splitlines()) == 1 for b in blocks)
    assert "factledger demo" in blocks[0]
    assert "pytest" in blocks[1]


def test_ci_runs_the_test_command_the_readme_gives() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    test_command = re.findall(r"```sh\n(.*?)```", quick, re.S)[1]
    runner = test_command.strip().split("&& ")[-1].replace(".venv/bin/", "")
    assert runner in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("bash") is None, reason="the tour is a bash script")
def test_readme_tour_runs_and_its_receipt_checks(tmp_path: Path) -> None:
    script = "set -euo pipefail\n" + shell_block("## A tour")
    bindir = Path(sys.executable).parent
    env = {
        "HOME": str(tmp_path),
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "LC_ALL": "C.UTF-8",
    }
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "verified: 8 entries, 0 error(s)" in done.stdout
    assert "claim.corrected" in done.stdout
    assert "valid:" in done.stderr
    assert (tmp_path / "owner.key").stat().st_mode & 0o777 == 0o600
