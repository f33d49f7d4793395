"""Journeys through the demo ledger, driven by keys as a fact-checker would press them.

Expected values come from the projection queries themselves, so the tests check that
the screen shows what the ledger says, not a copy of it. Verification, the inspector
and reloading are in test_verification_journeys.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from ledger.ledger import Ledger
from ledger.projections import ClaimRow, open_projection, queries
from tests.tui.conftest import (
    SHOWCASE,
    SIZE,
    main_of,
    make_app,
    press,
    screen_text,
    select,
    settle,
    type_text,
)


async def test_opens_at_the_latest_entry_with_the_ledger_in_the_header(demo: Path) -> None:
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = screen_text(app)
        main = main_of(app)
    lines = screen.splitlines()
    assert "demo.factledger.example/firstpost" in lines[0]
    assert "210 entries" in lines[0]
    assert "root 85178bc2" in lines[0]
    assert "unverified" in lines[0]
    assert "unsafe: demo keys" in lines[0]
    assert "#209 of 209" in screen
    assert "Claims (55 as of #209)" in screen
    assert main.position == 209
    assert main.claim_id == "clm_gideosdvlpte"  # the first claim is selected


async def test_stepping_back_through_a_claim_shows_its_earlier_wording_and_the_diff(
    demo: Path,
) -> None:
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, SHOWCASE)
        main = main_of(app)
        # { steps through the claim's own events: 166, 165, ... down to its correction
        while main.position > 121:
            await press(pilot, "left_curly_bracket")
        assert main.position == 121
        view = main.claim_view
        assert view is not None
        assert [(op.op, op.text) for op in view.diff][1:] == [
            ("delete", "al-Qaeda."),
            (
                "insert",
                "al-Qaeda and pledged that Afghan territory would not be used for terrorist "
                "activity against any country.",
            ),
        ]
        corrected = screen_text(app)
        await press(pilot, "left_curly_bracket")
        assert main.position == 23
        earlier = screen_text(app)
        await press(pilot, "left_curly_bracket")  # nothing earlier: the cursor stays
        assert main.position == 23
        await press(pilot, "right_curly_bracket")
        assert main.position == 121
    assert "▶ #121 claim.corrected: clarification" in corrected
    assert "text v2 · #121 · Ravi Menon (demo) · reviewer" in corrected
    assert "al-Qaeda. al-Qaeda and pledged that" in corrected  # removed, then added
    assert "#121 of 209  2024-06-12T14:00:00Z  claim.corrected  clm_adltccitm776" in corrected
    assert "NEW" in earlier
    assert "text v1 · #23" in earlier
    assert "all ties with al-Qaeda." in earlier
    assert "pledged" not in earlier.split("claimant")[0]


async def test_brackets_step_one_event_and_g_and_shift_g_go_to_the_ends(demo: Path) -> None:
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        await press(pilot, "left_square_bracket", "left_square_bracket")
        assert main.position == 207
        await press(pilot, "right_square_bracket")
        assert main.position == 208
        await press(pilot, "g")
        assert main.position == 0
        assert "#0 of 209" in screen_text(app)
        assert "Claims (0 as of #0)" in screen_text(app)
        await press(pilot, "left_square_bracket")
        assert main.position == 0
        await press(pilot, "G")
        assert main.position == 209


async def test_t_jumps_to_a_date_and_to_a_sequence_number(demo: Path) -> None:
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        await press(pilot, "t")
        await type_text(pilot, "2024-06-12")
        await press(pilot, "enter")
        # the end of that UTC day: the last entry stamped on or before it
        assert main.position == 122
        assert "#122 of 209" in screen_text(app)
        await press(pilot, "t")
        await type_text(pilot, "42")
        await press(pilot, "enter")
        assert main.position == 42
        await press(pilot, "t")
        await type_text(pilot, "not a date")
        await press(pilot, "enter")
        assert "give a number" in screen_text(app)  # the jump box explains and stays open
        await press(pilot, "escape")
        assert main.position == 42
        await press(pilot, "t")
        await type_text(pilot, "9999")
        await press(pilot, "enter")
        assert "position 9999 is outside the log (0 to 209)" in screen_text(app)
        assert main.position == 42
        await press(pilot, "escape")
        # a time in any zone, as --at takes it: 11:01 at +02:00 is 09:01 UTC
        with open_projection(Ledger.open(demo)) as projection:
            utc = queries.position(projection, "2024-06-12T09:01:00Z")
        await press(pilot, "t")
        await type_text(pilot, "2024-06-12T11:01:00+02:00")
        await press(pilot, "enter")
        assert main.position == utc
        assert main.position not in (42, 122)
        await press(pilot, "t")
        await type_text(pilot, "2024-06-12T11:01:00")
        await press(pilot, "enter")
        assert "has no time zone; add Z for UTC" in screen_text(app)


async def test_search_narrows_the_claims_list_and_esc_clears_it(demo: Path) -> None:
    with open_projection(Ledger.open(demo)) as projection:
        expected = queries.list_claims(projection, text="haqqani", limit=10)
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        await press(pilot, "slash")
        await type_text(pilot, "Haqqani")
        await press(pilot, "enter")
        screen = screen_text(app)
        assert f'Claims ({expected.total} as of #209) · "Haqqani"' in screen
        assert main.claim_id == expected.rows[0].claim_id
        for row in expected.rows:
            assert row.claim_id in screen
        await press(pilot, "escape", "escape")
        assert "Claims (55 as of #209)" in screen_text(app)


async def test_filter_by_verdict_lists_only_those_claims(demo: Path) -> None:
    with open_projection(Ledger.open(demo)) as projection:
        expected = queries.list_claims(projection, verdict="true", limit=50)
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        # f opens the filters; tab to the verdict, open it, pick "true" (after "no verdict")
        await press(pilot, "f", "tab", "enter", "down", "down", "enter", "ctrl+s")
        assert main.filters.verdict == "true"
        screen = screen_text(app)
    assert f"Claims ({expected.total} as of #209) · verdict=true" in screen
    listed = {row.claim_id for row in expected.rows}
    assert main.claim_id in listed
    assert all(claim in screen for claim in listed)


async def test_the_palette_jumps_to_a_claim_and_filters_by_a_reviewer(demo: Path) -> None:
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        await press(pilot, "ctrl+p")
        await type_text(pilot, "acting interior minister")
        await press(pilot, "enter")
        assert main.claim_id == "clm_r4qlyapecrcn"
        await press(pilot, "ctrl+p")
        await type_text(pilot, "Lena")
        await press(pilot, "enter")
        assert main.filters.author is not None
        assert main.filters.author.startswith("Lena")


async def test_at_a_status_entry_the_claim_pane_shows_its_end_after_a_longer_text(
    demo: Path,
) -> None:
    """The pane scrolls to the status line it highlights once the new, longer text is
    laid out, not to where the previous claim's text ended."""
    from ledger.events import ClaimCorrectedBody, ClaimStatusBody
    from ledger.keys import load_signing_key
    from ledger.ledger import Draft, new_salt
    from tui.widgets.claim_pane import ClaimPane

    keys = Path(__file__).parents[2] / "fixtures" / "keys"
    ledger = Ledger.open(demo)
    long_text = " ".join(f"word{i}" for i in range(400))
    salt = new_salt(lambda n: b"\x04" * n)
    correction = ClaimCorrectedBody(
        salt=salt, text=long_text, correction="clarification", reason="longer"
    )
    lena, kofi = (load_signing_key(keys / f"demo-{n}.key", None) for n in ("lena", "kofi"))
    ledger.append([Draft("claim.corrected", SHOWCASE, correction)], lena, at="2024-07-25T09:00:00Z")
    status = ClaimStatusBody(salt=salt, status="in_review", reason="re-check")
    ledger.append([Draft("claim.status", SHOWCASE, status)], kofi, at="2024-07-25T09:05:00Z")
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, SHOWCASE)
        await settle(pilot)
        pane = app.screen.query_one(ClaimPane)
        assert main_of(app).claim_view is not None
        assert pane.max_scroll_y > 10
        assert pane.scroll_y == pane.max_scroll_y
        # A held key: the status view, then at once the correction's, which starts at
        # the top; the status view's deferred scroll must not land on it.
        main = main_of(app)
        info, at_status = main.info, main.claim_view
        assert info is not None
        assert at_status is not None
        reader = main.reader
        assert reader is not None
        at_correction = reader.claim(SHOWCASE, at_status.position - 1)
        pane.show(at_correction, info.scale, main.roles)
        await settle(pilot)
        pane.show(at_status, info.scale, main.roles)
        pane.show(at_correction, info.scale, main.roles)
        await settle(pilot)
        assert pane.scroll_y == 0


async def test_the_banner_fits_the_pane_when_the_text_brings_a_scrollbar(demo: Path) -> None:
    """Jumping straight to the correction: the pane gets its scrollbar with that text,
    and the banner, cut to the width before it, wrapped a stray word onto a line."""
    from tui.widgets.claim_pane import ClaimPane

    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        main.select_claim(SHOWCASE)
        main.go(121, force=True)
        await settle(pilot)
        pane = app.screen.query_one(ClaimPane)
        banner = next(line for line in str(pane._shown).splitlines() if line.startswith("▶"))
        assert pane.show_vertical_scrollbar
        assert len(banner) <= pane.scrollable_content_region.width
        assert banner.startswith("▶ #121 claim.corrected: clarification:")


def far_claim(demo: Path) -> tuple[str, int, list[ClaimRow]]:
    """The demo's last claim, its row in the list and the list: far below the rows the
    list reads first."""
    claim = "clm_iyhjg7cl7ocv"
    projection = open_projection(Ledger.open(demo))
    index = queries.claim_index(projection, claim)
    rows = list(queries.list_claims(projection, limit=500).rows)
    assert index == len(rows) - 1
    assert index > 50  # not among the rows first read
    return claim, index, rows


async def test_a_claim_picked_in_the_palette_off_the_loaded_rows_gets_the_list_cursor(
    demo: Path,
) -> None:
    """The list reads the rows around its viewport: a claim picked far below must still
    be the row the cursor is on, so that the next arrow moves on from it (before, it
    moved on from the row the cursor had been on)."""
    claim, index, rows = far_claim(demo)
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        await press(pilot, "ctrl+p")
        await type_text(pilot, "visiting fellowship")
        await press(pilot, "enter")
        assert main.claim_id == claim
        assert main.table.cursor_row == index
        listed = screen_text(app).split("╭─ Claims")[1].split("╭─ Claim ─")[0]
        assert claim in listed  # scrolled into view
        main.table.focus()
        await press(pilot, "up")
        assert main.claim_id == rows[index - 1].claim_id


async def test_a_claim_kept_selected_through_time_is_scrolled_back_to_as_the_list_grows(
    demo: Path,
) -> None:
    """At the first event no claim is listed and the list scrolls to its top; back at
    the last, the claim still selected is listed far below the rows first read. Before,
    the cursor stayed on the top row (not the claim's) and the claim was off screen."""
    claim, index, rows = far_claim(demo)
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        main.table.focus()
        await press(pilot, "end")
        assert main.claim_id == claim
        await press(pilot, "g")
        await settle(pilot)
        assert main.table.total == 0
        await press(pilot, "G")
        await settle(pilot)
        assert main.claim_id == claim
        assert main.table.cursor_row == index
        listed = screen_text(app).split("╭─ Claims")[1].split("╭─ Claim ─")[0]
        assert claim in listed
        await press(pilot, "up")
        assert main.claim_id == rows[index - 1].claim_id


async def test_the_palette_offers_no_screenshot_that_cannot_be_saved(demo: Path) -> None:
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
    assert "Screenshot" not in titles
    assert {"Theme", "Quit", "Keys"} <= set(titles)


async def test_a_search_selects_its_first_match_wherever_the_cursor_was(demo: Path) -> None:
    from tui.model import Filters

    first = (
        queries.list_claims(open_projection(Ledger.open(demo)), text="haqqani", limit=5)
        .rows[0]
        .claim_id
    )
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        await press(pilot, "down", "down", "down")
        assert main.claim_id != first
        await press(pilot, "slash")
        await type_text(pilot, "haqqani")
        await press(pilot, "enter")
        assert main.filters == Filters(text="haqqani")
        assert main.claim_id == first
        assert main.table.cursor_row == 0


async def test_a_reviewer_picked_in_the_palette_narrows_the_search_instead_of_dropping_it(
    demo: Path,
) -> None:
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        await press(pilot, "slash")
        await type_text(pilot, "taliban")
        await press(pilot, "enter")
        assert main.filters.text == "taliban"
        await press(pilot, "ctrl+p")
        await type_text(pilot, "Lena")
        await press(pilot, "enter")
        screen = screen_text(app)
    assert main.filters.text == "taliban"  # the search box still shows it
    assert main.filters.author is not None
    assert main.filters.author.startswith("Lena")
    assert '"taliban"' in screen  # the list's title names both
    assert "author=Lena" in screen


async def test_two_steps_faster_than_the_claim_is_read_still_show_the_claim_at_the_cursor(
    demo: Path,
) -> None:
    """Each step crosses an entry already seen that does not touch the claim, but the
    claim read for the first step has not landed when the second is taken: the pane
    must not carry the state from before the first step over the claim's own change
    (its status changes at #155)."""
    claim = "clm_gkniu5we5cwo"
    projection = open_projection(Ledger.open(demo))
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        main.select_claim(claim)
        for start in (154, 150, 160):
            for position in (start + 1, start + 2):  # the entries crossed are known now
                main.go(position, force=True)
                await settle(pilot)
            main.go(start, force=True)
            await settle(pilot)
            main.action_step(1)
            main.action_step(1)  # in the same tick: the first step's read is in flight
            await settle(pilot)
            assert main.position == start + 2
            view = main.claim_view
            assert view is not None
            assert view.position == main.position
            assert view.state is not None
            fresh = queries.claim_state(projection, claim, as_of=main.position)
            # a step that changes nothing keeps the state read earlier, as_of and all
            assert msgspec.structs.replace(view.state, as_of=main.position) == fresh


async def test_the_history_keeps_the_claims_latest_event_in_view_at_the_head(
    demo: Path,
) -> None:
    """At the head the history highlights the claim's last event, the end of its list:
    it must show it, not scroll it under the bottom edge to keep a row above it."""
    projection = open_projection(Ledger.open(demo))
    last = queries.claim_history(projection, SHOWCASE)[-1].event
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, SHOWCASE)
        screen = screen_text(app)
    assert f"#{last.seq:<6}2024-06-26 10:00  {last.kind}" in screen


async def test_a_filter_by_a_source_that_matches_nothing_is_not_left_half_applied(
    demo: Path,
) -> None:
    """The list kept the old rows and title while the filter (and its dialog) held the
    new one (found by a sweep): the filter now reverts to what is listed."""
    from dataclasses import replace

    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = main_of(app)
        told: list[tuple[str, str]] = []
        main.notify = lambda text, *, title="", **kw: told.append((title, text))  # type: ignore[method-assign,assignment]
        before = screen_text(app)
        main.set_filters(replace(main.filters, source="zzz"))
        await settle(pilot)
        assert main.filters.source is None
        assert told == [("filter not applied", "no source matches 'zzz'")]
        assert "source=zzz" not in screen_text(app)
        assert "Claims (55 as of #209)" in before
        assert "Claims (55 as of #209)" in screen_text(app)


async def test_the_palette_lists_a_reviewer_who_changed_keys_once(demo: Path) -> None:
    """Ravi's two keys gave two identical rows that filtered alike (found by a sweep)."""
    from tui.commands import reviewers

    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        catalog = main_of(app).catalog
        assert catalog is not None
        keys = list(catalog.keys.values())
        listed = reviewers(keys)
    names = [name for name, _ in listed]
    assert len(names) == len(set(names)) == len({k.name for k in keys})
    assert len(names) < len(keys)  # someone in the demo has two keys
    twice = [detail for _, detail in listed if "keys" in detail]
    assert twice
    assert all(detail.endswith(" · 2 keys") for detail in twice)


async def test_the_dialogs_fit_a_small_terminal(demo: Path) -> None:
    """At 60x20 the filter dialog was 64 columns wide and taller than the screen, its
    buttons below the last row; the jump and help boxes were wider than the screen."""
    app = make_app(demo)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        for key, box in (("f", "#filter-box"), ("t", "#jump-box"), ("question_mark", "#help-box")):
            await press(pilot, key)
            region = app.screen.query_one(box).region
            assert app.screen.region.contains_region(region), (box, region)
            await press(pilot, "escape")
        await press(pilot, "f")
        for _ in range(12):  # tab to the last button: the box scrolls to show it
            if app.focused is not None and app.focused.id == "filter-cancel":
                break
            await press(pilot, "tab")
        assert app.focused is not None
        assert app.focused.id == "filter-cancel"
        assert app.screen.region.contains_region(app.focused.region)


ZAWAHIRI = "clm_3y3j5kx3hsmz"
"""A claim low in the list with two sources, the second attributed at #205."""


async def jump(pilot: Any, position: int, claim: str | None = None) -> None:
    """``t position`` (with ``claim`` selected first, when given)."""
    if claim is not None:
        await select(pilot, claim)
    await press(pilot, "t")
    await type_text(pilot, str(position))
    await press(pilot, "enter")
    await settle(pilot)


async def screen_at(demo: Path, position: int, size: tuple[int, int] = SIZE) -> str:
    """The screen at ``position`` with the Zawahiri claim selected."""
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await jump(pilot, position, ZAWAHIRI)
        return screen_text(app)


async def test_the_sources_pane_scrolls_to_the_attribution_the_cursors_entry_made(
    demo: Path,
) -> None:
    # the second attribution, below the fold of a pane of five lines
    sources = (await screen_at(demo, 205, (SIZE[0], 30))).split("╭─ Sources (2)")[1]
    assert "◆ src_wb2ybl4lq36h  supports" in sources


async def test_a_shorter_terminal_keeps_the_selected_claim_in_view(demo: Path) -> None:
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, ZAWAHIRI)
        table = main_of(app).table
        await pilot.resize_terminal(SIZE[0], 24)
        await settle(pilot)
        top, rows = int(table.scroll_offset.y), table.size.height - 1
        listed = screen_text(app).split("╭─ Claims")[1].split("╭─ Claim ─")[0]
    assert top <= table.cursor_row < top + rows
    assert ZAWAHIRI in listed


async def test_stepping_in_the_inspector_shows_each_entry_from_its_top(demo: Path) -> None:
    app = make_app(demo)
    async with app.run_test(size=(SIZE[0], 24)) as pilot:  # the entry is taller than the box
        await settle(pilot)
        await jump(pilot, 206)  # a verdict with a long rationale
        await press(pilot, "i")
        await settle(pilot)
        await press(pilot, *["down"] * 12)  # to the proof, below the entry's name
        scrolled = screen_text(app)
        await press(pilot, "left_square_bracket")
        await settle(pilot)
        stepped = screen_text(app)
    assert "entry #206 of 209" not in scrolled
    assert "entry #205 of 209" in stepped


async def test_a_verdict_issued_again_with_the_same_rating_says_what_it_did(demo: Path) -> None:
    history = (await screen_at(demo, 206)).split("─ History")[1]
    assert "verdict true kept (update): Update: the rat…" in history  # not just its kind


async def test_an_empty_claims_list_says_why_and_what_to_do(demo: Path, tmp_path: Path) -> None:
    from ledger.keys import SigningKey

    key = SigningKey.from_seed(b"\x09" * 32, "owner@example.org")
    empty = tmp_path / "empty"
    Ledger.init(empty, origin="empty.example/claims", key=key, owner_name="Owner")
    app = make_app(empty)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fresh = screen_text(app).split("╭─ Claims")[1].split("╰")[0]
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "slash")
        await type_text(pilot, "no claim says this")
        await press(pilot, "enter")
        unmatched = screen_text(app).split("╭─ Claims")[1].split("╰")[0]
    assert "No claims as of #0; 'factledger claim add' adds one." in fresh
    assert "No claim matches the search and filters here: esc clears them." in unmatched


def history_rows(app: Any) -> list[str]:
    from tui.widgets.history import HistoryList

    pane = app.screen.query_one(HistoryList)
    return [str(pane.get_option_at_index(i).prompt) for i in range(pane.option_count)]


async def test_the_history_is_laid_out_again_for_a_resized_terminal(demo: Path) -> None:
    async def rows_at(size: tuple[int, int]) -> list[str]:
        app = make_app(demo)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await select(pilot, SHOWCASE)
            return history_rows(app)

    wide, narrow = (160, 50), (80, 24)
    app = make_app(demo)
    async with app.run_test(size=wide) as pilot:
        await settle(pilot)
        await select(pilot, SHOWCASE)
        before = history_rows(app)
        await pilot.resize_terminal(*narrow)
        await settle(pilot)
        shrunk = history_rows(app)
        await pilot.resize_terminal(*wide)
        await settle(pilot)
        grown = history_rows(app)
    assert shrunk == await rows_at(narrow)  # as a terminal of that size draws it
    assert shrunk != before
    assert grown == before


async def test_the_footer_drops_whole_keys_and_never_cuts_a_label(demo: Path) -> None:
    async def footer_at(width: int) -> str:
        app = make_app(demo)
        async with app.run_test(size=(width, 24)) as pilot:
            await settle(pilot)
            await pilot.resize_terminal(width + 1, 24)  # and laid out again on a resize
            await settle(pilot)
            await pilot.resize_terminal(width, 24)
            await settle(pilot)
            return screen_text(app).splitlines()[-1]

    whole = (await footer_at(200)).split("▏")[0].rstrip()
    for width in (70, 80, 90, 100):
        keys, kept = (await footer_at(width)).split("▏")
        shown = keys.rstrip()
        assert whole.startswith(shown), (width, shown)
        assert whole[len(shown)] == " ", (width, shown)  # ends where a key ends
        assert kept.split() == ["?", "help", "q", "quit"]
    assert len((await footer_at(70)).split("▏")[0].rstrip()) < len(whole)


async def test_the_footer_fitted_before_its_keys_are_laid_out_fits_them_once_they_are(
    demo: Path,
) -> None:
    """At start-up the footer could measure its keys just after a recompose, before
    their layout (every region still empty): nothing was cut, and the key under help
    and quit showed a stub of its label ("f filter v v▏? help") until a resize."""
    from unittest import mock

    from textual.geometry import Region
    from textual.widget import Widget

    from tui.widgets.footer import KeysFooter

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        footer = app.screen.query_one(KeysFooter)
        for child in footer.children:
            child.display = True  # as a recompose leaves them
        unlaid = mock.PropertyMock(return_value=Region())
        with mock.patch.object(Widget, "region", new_callable=lambda: unlaid):
            footer._fit()  # measured before the layout: every region empty
        await settle(pilot)
        kept = next(c for c in footer.children if c.has_class("-kept"))
        shown = [c for c in footer.children if c.display and c is not kept]
        assert shown
        assert all(c.region.right <= kept.region.x for c in shown)
        assert screen_text(app).splitlines()[-1].split("▏")[0].rstrip().endswith("f filter")


async def test_the_jump_box_says_where_the_cursor_is_in_a_narrow_terminal(demo: Path) -> None:
    app = make_app(demo)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        await press(pilot, "t")
        screen = screen_text(app)
        await press(pilot, "escape")
    assert "Jump from #209 to a sequence" in screen  # in the label, which wraps
    assert "e.g. 42, 2024-06-12 or 2024-06-12T14:00:00Z" in screen
