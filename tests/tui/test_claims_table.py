"""The claims list renders and asks for only what is visible, however long the list is."""

from __future__ import annotations

from textual.app import App, ComposeResult

from ledger.projections import ClaimPage, ClaimRow
from tests.tui.conftest import SIZE, press, screen_text
from tui.messages import ClaimHighlighted, PageWanted
from tui.model import Filters
from tui.widgets.claims_table import ClaimsTable

TOTAL = 100_000
REDACTED = 3
"""The row whose (current) verdict was redacted: there is one, its rating gone."""


def row(i: int) -> ClaimRow:
    return ClaimRow(
        claim_id=f"clm_{i:012d}",
        text=f"claim number {i}",
        claimant="someone",
        status="open",
        verdict=None,
        verdict_redacted=i == REDACTED,
        sources=i % 7,
        last_seq=i,
        last_at="2024-06-03T10:00:00Z",
    )


class Host(App[None]):
    """A ClaimsTable over 100,000 synthetic claims, answering its page requests."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[int, int]] = []
        self.highlighted: list[str] = []

    def compose(self) -> ComposeResult:
        yield ClaimsTable(id="claims")

    def on_mount(self) -> None:
        table = self.query_one(ClaimsTable)
        table.focus()
        table.set_query((0, Filters()))

    def on_page_wanted(self, message: PageWanted) -> None:
        self.asked.append((message.offset, message.limit))
        end = min(message.offset + message.limit, TOTAL)
        rows = [row(i) for i in range(message.offset, end)]
        page = ClaimPage(
            total=TOTAL, offset=message.offset, limit=message.limit, as_of=0, rows=rows
        )
        self.query_one(ClaimsTable).apply_page(page, Filters())

    def on_claim_highlighted(self, message: ClaimHighlighted) -> None:
        self.highlighted.append(message.claim_id)


async def test_a_hundred_thousand_claims_are_paged_not_loaded() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(ClaimsTable)
        assert table.total == TOTAL
        assert app.asked[0][0] == 0
        await press(pilot, "end")
        await pilot.pause()
        assert table.cursor_row == TOTAL - 1
        assert app.highlighted[-1] == f"clm_{TOTAL - 1:012d}"
        assert f"clm_{TOTAL - 1:012d}" in screen_text(app)
        await press(pilot, "pageup", "up")
        assert table.cursor_row < TOTAL - 1
        loaded = len(table.rows)
    assert all(limit <= 100 for _, limit in app.asked)  # a window around the viewport
    assert any(offset > TOTAL - 100 for offset, _ in app.asked)
    assert loaded < 300  # rows held: the windows seen, never the list


async def test_a_redacted_verdict_is_told_from_no_verdict() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        lines = {line.split()[0]: line for line in screen_text(app).splitlines() if "clm_" in line}
    judged, unjudged = lines[f"clm_{REDACTED:012d}"], lines[f"clm_{REDACTED - 1:012d}"]
    assert ("[redacted]" in judged, "—" in judged) == (True, False)
    assert ("[redacted]" in unjudged, "—" in unjudged) == (False, True)


async def test_a_narrow_list_leaves_columns_out_before_the_claims_text() -> None:
    """At 60 columns the fixed columns took the whole width and the text was cut off
    the screen; now the last change, the source count and the claimant give way."""
    app = Host()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        lines = screen_text(app).splitlines()
    header = lines[0].split()
    assert header == ["claim", "status", "verdict", "text"]
    rows = [line for line in lines if "clm_" in line]
    assert rows
    assert all("claim number" in line for line in rows)
    assert all(len(line) <= 60 for line in lines)


async def test_a_wide_list_shows_every_column() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        lines = screen_text(app).splitlines()
    assert lines[0].split() == [
        "claim", "status", "verdict", "src", "changed", "claimant", "text",
    ]  # fmt: skip
    first = next(line for line in lines if "clm_000000000001" in line)
    assert "2024-06-03" in first
    assert "someone" in first
    assert "claim number 1" in first
