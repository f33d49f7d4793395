"""``factledger tui``, ``python -m tui`` and ``factledger demo`` on the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ledger.cli.main import main

FACTLEDGER = Path(sys.executable).with_name("factledger")


def test_tui_is_a_subcommand_with_the_unsafe_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["tui", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--unsafe-allow-test-keys" in out
    assert "DIR" in out


def test_python_m_tui_is_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tui", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "--unsafe-allow-test-keys" in done.stdout


def test_tui_on_a_missing_ledger_is_a_one_line_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(FACTLEDGER), "tui", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 3
    assert done.stderr.startswith("error: ")
    assert done.stderr.count("\n") == 1


def test_tui_without_a_terminal_is_a_usage_error_not_a_hang(tmp_path: Path) -> None:
    """In CI or a pipe there is nobody to press a key: before, the UI drew into the log
    and waited for input until the job timed out."""
    demo = subprocess.run(
        [str(FACTLEDGER), "demo", str(tmp_path / "demo"), "--no-open"],
        capture_output=True,
        check=True,
    )
    ledger = demo.stdout.decode().strip()
    done = subprocess.run(
        [str(FACTLEDGER), "tui", "--unsafe-allow-test-keys", ledger],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "error: the terminal UI needs a terminal, and stdin is not one; in a script use "
        "'factledger log', 'show', 'history' or 'query'\n"
    )


def test_demo_off_a_terminal_prints_the_walk_through_instead_of_opening_the_ui(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [str(FACTLEDGER), "demo", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert "1. Verify every signature" in done.stdout


def test_factledger_verify_does_not_load_the_ui() -> None:
    code = (
        "import sys\n"
        "from ledger.cli.main import build_parser\n"
        "build_parser()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tui', 'textual', 'duckdb')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_tui_on_a_log_that_does_not_decode_says_where_and_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The exit code is the one --help lists for it, and the line points to verify."""
    from ledger.cli import tui_cmd
    from tests.tui.conftest import DEMO, copy_ledger

    root = copy_ledger(DEMO, tmp_path / "demo")
    path = root / "events.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[49] = b"garbage here"
    path.write_bytes(b"\n".join(lines))
    monkeypatch.setattr(tui_cmd, "not_a_terminal", lambda: None)
    code = main(["tui", "--unsafe-allow-test-keys", str(root)])
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert "exit codes: 0 ok, 1 the log does not decode" in " ".join(tui_cmd_help(capsys).split())
    error = [line for line in err if line.startswith("error:")]
    assert len(error) == 1
    assert "events.jsonl:50" in error[0]
    assert error[0].endswith("run 'factledger verify' for every finding in the log")


def tui_cmd_help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main(["tui", "--help"])
    return capsys.readouterr().out
