"""Key-press-to-repaint latency of the terminal UI's time cursor.

    python scripts/bench/tui_latency.py                      # the bundled demo ledger
    python scripts/bench/tui_latency.py --ledger DIR         # e.g. 1,000,000 generated entries
    python scripts/bench/tui_latency.py --presses 50 --start 500000

What is measured, exactly: the app runs headless (Textual's ``run_test``, 120x40) on
the ledger, with the projection already built and the claim pane showing the first
claim. The cursor is put at ``--start`` (default: the middle of the log) and the
app is left to settle. Then, for each of ``--presses`` presses of ``]`` (one event
forward), the clock runs from just before the key event is posted to the app until

1. the key was dispatched to its binding and the cursor moved,
2. every read that move started — the entry at the cursor (``queries.event_at``),
   the selected claim as of the cursor with its history (``queries.claim_state``,
   ``queries.claim_history``, cached) and the visible page of the claims list
   (``queries.list_claims(limit=, offset=)``) — ran in its thread worker and its
   result was applied to the widgets, and
3. the screen was repainted after that (``call_after_refresh``; headless, so the
   repaint is composed but not written to a terminal).

That is :meth:`tui.screens.main.MainScreen.settled`. The timeline strip's marker and
the header move on the key press itself, before any read; this figure is the time
until *every* pane shows the new position. Presses are sequential: each waits for
the previous one to settle (a held-down key is cheaper: stale reads are skipped).
Prints the median and the range; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEMO = ROOT / "fixtures" / "ledgers" / "firstpost-2024-al-qaeda-taliban"


@dataclass(frozen=True)
class Latency:
    entries: int
    start: int
    samples: tuple[float, ...]
    """Seconds from key press to repaint, one per press."""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def line(self) -> str:
        ms = [s * 1000 for s in self.samples]
        return (
            f"']' x{len(ms)} on {self.entries:,} entries from #{self.start}: "
            f"median {statistics.median(ms):.1f} ms, min {min(ms):.1f} ms, "
            f"max {max(ms):.1f} ms, p90 {sorted(ms)[int(len(ms) * 0.9) - 1]:.1f} ms"
        )


async def measure(root: Path, *, presses: int = 50, start: int | None = None) -> Latency:
    from textual import events

    from ledger.ledger import Ledger
    from tui.app import FactLedgerApp
    from tui.screens.main import MainScreen

    app = FactLedgerApp(Ledger.open(root), unsafe_allow_test_keys=True)
    async with app.run_test(size=(120, 40)) as pilot:
        main = next(s for s in app.screen_stack if isinstance(s, MainScreen))
        while main.info is None or main.claim_view is None:
            if main.error:
                raise SystemExit(f"could not open {root}: {main.error}")
            await pilot.pause(0.05)
        await main.settled()
        head = main.info.head
        first = head // 2 if start is None else start
        first = max(0, min(first, head - presses))
        main.go(first)
        await main.settled()
        samples = []
        for _ in range(presses):
            target = main.position + 1
            began = time.perf_counter()
            app.post_message(events.Key("right_square_bracket", "]"))
            while main.position != target:
                await asyncio.sleep(0)
            await main.settled()
            samples.append(time.perf_counter() - began)
            if main.event is None or main.event.seq != target:
                raise SystemExit(f"the screen did not end on #{target}")
        return Latency(entries=head + 1, start=first, samples=tuple(samples))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ledger", type=Path, help="ledger directory (default: the demo)")
    parser.add_argument("--presses", type=int, default=50, help="presses of ] (default 50)")
    parser.add_argument("--start", type=int, help="first position (default: the middle)")
    args = parser.parse_args(argv)
    if args.ledger is None:
        # The demo is copied: opening it builds a projection cache beside it.
        work = Path(tempfile.mkdtemp(prefix="tui-latency-"))
        root = work / "demo"
        shutil.copytree(DEMO, root)
    else:
        work, root = None, args.ledger
    try:
        result = asyncio.run(measure(root, presses=args.presses, start=args.start))
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    print(result.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
