"""The real ``factledger tui DIR`` in a real terminal (tmux, 120x40): it draws, it moves,
it quits. Skipped only when tmux is not installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
FACTLEDGER = Path(sys.executable).with_name("factledger")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[list[str]]:
    """A private tmux server (its own socket), killed at the end."""
    assert TMUX is not None
    socket = [TMUX, "-S", str(tmp_path / "tmux.sock")]
    yield socket
    subprocess.run([*socket, "kill-server"], capture_output=True, check=False)


def screen(tmux: list[str]) -> str:
    done = subprocess.run(
        [*tmux, "capture-pane", "-p", "-t", "tui"], capture_output=True, text=True, check=False
    )
    return done.stdout


def wait_for(tmux: list[str], *texts: str, timeout: float = 30.0) -> str:
    """The screen, once it shows every one of ``texts`` (the panes fill in separately)."""
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen(tmux)
        if all(text in shown for text in texts):
            return shown
        time.sleep(0.1)
    raise AssertionError(f"{texts!r} never all appeared; the screen was:\n{shown}")


def test_factledger_tui_draws_steps_and_quits_in_a_real_terminal(
    tmux: list[str], demo: Path
) -> None:
    env = {**os.environ, "TERM": "xterm-256color"}
    command = f"{FACTLEDGER} tui --unsafe-allow-test-keys {demo}"
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", "120", "-y", "40", "-s", "tui", command],
        check=True,
        env=env,
    )
    first = wait_for(tmux, "Claims (55 as of #209)", "History (1 event)", "text v1 · #20")
    lines = first.splitlines()
    assert len(lines) == 40
    assert "demo.factledger.example/firstpost" in lines[0]
    assert "210 entries" in lines[0]
    assert "unsafe: demo keys" in lines[0]
    assert "clm_gideosdvlpte" in first
    assert "History (1 event)" in first
    assert "step" in lines[-1]
    assert "verify" in lines[-1]

    subprocess.run([*tmux, "send-keys", "-t", "tui", "["], check=True)
    stepped = wait_for(tmux, "Claims (55 as of #208)", "#208 of 209")
    assert "clm_gideosdvlpte" in stepped

    subprocess.run([*tmux, "send-keys", "-t", "tui", "v"], check=True)
    verified = wait_for(tmux, "✔ 210 entries verified", "✔ verified 210")
    assert "claim.asserted        ✔" in verified

    subprocess.run([*tmux, "send-keys", "-t", "tui", "q"], check=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        alive = subprocess.run([*tmux, "has-session", "-t", "tui"], capture_output=True)
        if alive.returncode != 0:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the UI did not quit on q")
