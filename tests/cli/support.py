"""What the command-line tests share: results, the test keys, and small steps."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLAIM_ID = re.compile(r"clm_[a-z2-7]{12}")
SOURCE_ID = re.compile(r"src_[a-z2-7]{12}")
EVENT_ID = re.compile(r"[0-9a-f]{64}")
PASSPHRASE = "correct horse battery staple"


class Terminal:
    """A stderr that says it is a terminal, keeping what was written to it."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def one_error_line(self) -> str:
        """The single ``error:`` line on stderr; fails if there is a traceback or several."""
        assert "Traceback" not in self.err, self.err
        errors = [line for line in self.err.splitlines() if "error:" in line]
        assert len(errors) == 1, self.err
        return errors[0]


Run = Callable[..., Result]


@dataclass(frozen=True)
class Keys:
    owner: Path
    editor: Path
    reviewer: Path


def add_claim(run: Run, keys: Keys, text: str = "The river rose two metres.") -> str:
    result = run("claim", "add", text, "--key", keys.reviewer)
    assert result.code == 0, result.err
    return result.out.strip()


def add_source(run: Run, keys: Keys) -> str:
    result = run("source", "add", "--title", "Gauge records", "--kind", "dataset", "--key",
                 keys.reviewer)  # fmt: skip
    assert result.code == 0, result.err
    return result.out.strip()


def log_json(run: Run, *extra: str | Path) -> list[dict[str, Any]]:
    result = run("log", "--json", *extra)
    assert result.code == 0, result.err
    return [json.loads(line) for line in result.out.splitlines()]


def factledger(*args: str | bytes | Path, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    script = Path(sys.executable).with_name("factledger")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "ledger.cli.main"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTLEDGER_")}
    return subprocess.run(
        [*command, *[a if isinstance(a, bytes) else str(a) for a in args]],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )


def files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}
