"""Shared fixtures for the terminal UI tests: ledgers in tmp, and ways to read the screen.

Every test runs the real app headless at a fixed size (120x40) on a *copy* of a
ledger, and waits for the app to settle — no worker running, no read in flight —
before it looks at the screen, so what it sees does not depend on timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
import shutil
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.app import App
from textual.keys import _character_to_key, _get_unicode_name_from_key
from textual.pilot import Pilot
from textual.widgets import Input
from textual.worker import WorkerCancelled, WorkerFailed

from ledger.events import (
    Appearance,
    ClaimAssertedBody,
    ClaimCorrectedBody,
    SourceRegisteredBody,
)
from ledger.keys import SigningKey
from ledger.ledger import Draft, Ledger, format_time, new_id, new_salt
from tui.app import FactLedgerApp
from tui.screens.main import MainScreen

SIZE = (120, 40)
DEMO = Path(__file__).parents[2] / "fixtures" / "ledgers" / "firstpost-2024-al-qaeda-taliban"
SHOWCASE = "clm_adltccitm776"
"""The demo's claim with a correction, a withdrawn attribution and a revised verdict."""
TAMPERED_LINE = 122
"""The line (1-based) the tampered copy changes: the showcase claim's correction."""

HOSTILE = {
    "markup": "[bold red]x[/] [link=http://evil.example]click[/link]",
    "csi": "red \x1b[31mALERT\x1b[0m \x1b[2J",
    "osc8": "\x1b]8;;http://evil.example\x1b\\click me\x1b]8;;\x1b\\",
    "bidi": "invoice\u202egnp.exe \u2066isolate\u2069",
    "zero_width": "Tal\u200biban\ufeff says\u200d so\u2060",
}


def copy_ledger(source: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in ("ledger.toml", "events.jsonl", "checkpoint"):
        shutil.copyfile(source / name, dest / name)
    return dest


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests on a fresh event loop (Textual's Pilot is async; no plugin)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


@pytest.fixture(autouse=True)
def _no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor would make screenshots depend on timing."""
    monkeypatch.setattr(Input, "cursor_blink", False)


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return copy_ledger(DEMO, tmp_path / "demo")


@pytest.fixture
def tampered(tmp_path: Path) -> Path:
    """The demo with one byte flipped in the text of line 122 (the showcase's correction)."""
    root = copy_ledger(DEMO, tmp_path / "tampered")
    path = root / "events.jsonl"
    lines = path.read_bytes().split(b"\n")
    line = lines[TAMPERED_LINE - 1]
    at = line.index(b"pledged")
    lines[TAMPERED_LINE - 1] = line[:at] + b"P" + line[at + 1 :]
    path.write_bytes(b"\n".join(lines))
    return root


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[Path]:
    """A small ledger whose claims, claimant, source title and key name are hostile text."""
    rng = random.Random(5)
    key = SigningKey.from_seed(b"\x07" * 32, "owner@example.org")
    clock = datetime(2024, 4, 1, 9, 0, tzinfo=UTC)

    def at() -> str:
        nonlocal clock
        clock += timedelta(minutes=1)
        return format_time(clock)

    root = tmp_path / "hostile"
    ledger = Ledger.init(
        root,
        origin="hostile.example/claims",
        key=key,
        owner_name="Mallory \x1b[31m[b]owner[/b]\u202e",
        now=lambda: clock,
        rng=rng.randbytes,
    )
    source = new_id("src_", rng.randbytes)
    ledger.append(
        [
            Draft(
                "source.registered",
                source,
                SourceRegisteredBody(
                    salt=new_salt(rng.randbytes),
                    title="Source " + HOSTILE["osc8"],
                    kind="article",
                    publisher=None,
                    url=None,
                    published=None,
                    reliability="C",
                    archive_url=None,
                    content_sha256=None,
                ),
            )
        ],
        key,
        at=at(),
    )
    for name, text in HOSTILE.items():
        claim = new_id("clm_", rng.randbytes)
        body = ClaimAssertedBody(
            salt=new_salt(rng.randbytes),
            text=f"{name}: {text}",
            kind="factual",
            claimant=HOSTILE["markup"],
            appearance=Appearance(source=source, quote=HOSTILE["bidi"], locator=HOSTILE["csi"]),
            topics=[],
        )
        ledger.append([Draft("claim.asserted", claim, body)], key, at=at())
        if name == "markup":
            fix = ClaimCorrectedBody(
                salt=new_salt(rng.randbytes),
                text=f"{name}: {text} [/]",
                correction="typo",
                reason=HOSTILE["zero_width"],
            )
            ledger.append([Draft("claim.corrected", claim, fix)], key, at=at())
    return root


def make_app(root: Path, *, unsafe: bool = True) -> FactLedgerApp:
    return FactLedgerApp(Ledger.open(root), unsafe_allow_test_keys=unsafe)


async def settle(pilot: Pilot[None]) -> None:
    """Wait until no worker is pending or running, no read is in flight, and the screen
    has not changed for two ticks (a layout can land a tick after its content)."""
    app = pilot.app
    quiet, shown = 0, ""
    for _ in range(4000):
        await pilot.pause(0.005)
        with contextlib.suppress(WorkerCancelled, WorkerFailed):
            await app.workers.wait_for_complete()  # a failed read is the app's to report
        main = main_screen(app)
        if main is not None and main.busy:
            await main.settled()
            quiet = 0
        elif any(not worker.is_finished for worker in app.workers):
            quiet = 0
        else:
            now = screen_text(app)
            quiet = quiet + 1 if now == shown else 0
            shown = now
            if quiet == 2:
                return
    raise AssertionError("the app did not settle")


def key_event(key: str) -> events.Key:
    """The key event Textual's Pilot would send for ``key`` (a key name or a character)."""
    if len(key) == 1:
        return events.Key(key if key.isalnum() else _character_to_key(key), key)
    try:
        char: str | None = unicodedata.lookup(_get_unicode_name_from_key(key))
    except KeyError:
        char = None
    return events.Key(key, char)


def main_screen(app: object) -> MainScreen | None:
    stack = getattr(app, "screen_stack", [])
    return next((s for s in stack if isinstance(s, MainScreen)), None)


def screen_text(app: App[Any]) -> str:
    """What the terminal shows, as text (the top screen, composited)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def press(pilot: Pilot[None], *keys: str) -> None:
    """Press keys one at a time, letting the app settle after each (as a person would).

    The key events are posted as Pilot posts them, but the wait is for this app's own
    "settled" signal rather than Pilot's CPU-idle heuristic, which DuckDB's threads slow.
    """
    for key in keys:
        pilot.app.post_message(key_event(key))
        await settle(pilot)


async def type_text(pilot: Pilot[None], text: str) -> None:
    """Type ``text`` into the focused input, then let the app settle once."""
    for char in text:
        pilot.app.post_message(key_event(char))
    await settle(pilot)


def main_of(app: FactLedgerApp) -> MainScreen:
    screen = main_screen(app)
    assert screen is not None
    return screen


async def select(pilot: object, claim_id: str) -> None:
    """Move down the claims list until ``claim_id`` is selected."""
    app = pilot.app  # type: ignore[attr-defined]
    for _ in range(60):
        if main_of(app).claim_id == claim_id:
            return
        await press(pilot, "down")  # type: ignore[arg-type]
    raise AssertionError(f"{claim_id} is not in the list")
