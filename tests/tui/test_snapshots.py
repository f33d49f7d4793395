"""How the UI looks (pytest-textual-snapshot), at 120x40 on the demo ledger.

Nothing time-dependent is on screen: no clock, no durations, no paths. Update with
``pytest tests/tui/test_snapshots.py --snapshot-update`` after looking at the report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tests.tui.conftest import SHOWCASE, SIZE, make_app, press, settle, type_text

Compare = Callable[..., bool]


def journey(
    *keys: str, claim: str | None = None, at: int | None = None
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Settle, select ``claim`` (moving down the list), jump to ``at``, press ``keys``."""

    async def run(pilot: Pilot[Any]) -> None:
        from tests.tui.test_journeys import select

        await settle(pilot)
        if claim is not None:
            await select(pilot, claim)
        if at is not None:
            await press(pilot, "t")
            await type_text(pilot, str(at))
            await press(pilot, "enter")
        await press(pilot, *keys)
        await settle(pilot)

    return run


def test_main_screen(snap_compare: Compare, demo: Path) -> None:
    """The demo at its latest entry: header, timeline, claims, the first claim."""
    assert snap_compare(make_app(demo), terminal_size=SIZE, run_before=journey())


def test_claim_at_an_earlier_cursor(snap_compare: Compare, demo: Path) -> None:
    """The showcase claim stepped back to its correction (#121): the word diff."""
    keys = ["left_curly_bracket"] * 9 + ["left_curly_bracket"]
    assert snap_compare(
        make_app(demo), terminal_size=SIZE, run_before=journey(*keys, claim=SHOWCASE)
    )


def test_event_inspector(snap_compare: Compare, demo: Path) -> None:
    """The inspector on the correction: canonical line, signature, inclusion proof."""
    keys = ["left_curly_bracket"] * 10 + ["i"]
    assert snap_compare(
        make_app(demo), terminal_size=SIZE, run_before=journey(*keys, claim=SHOWCASE)
    )


def test_help(snap_compare: Compare, demo: Path) -> None:
    assert snap_compare(make_app(demo), terminal_size=SIZE, run_before=journey("question_mark"))


def test_verification_findings(snap_compare: Compare, tampered: Path) -> None:
    """A tampered copy verified: three findings, the first selected."""
    assert snap_compare(make_app(tampered), terminal_size=SIZE, run_before=journey("v"))
