"""Ledger text is data: markup, terminal escapes, bidi and invisible characters are shown
harmlessly — as the characters they are, or as a visible ``⟨U+XXXX⟩`` token."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from tests.tui.conftest import HOSTILE, SIZE, make_app, screen_text, settle
from tui.widgets.safe import MARK_STYLE, is_hidden, safe_text, shorten, visible

ESCAPE = "\x1b"


def rendered(text: Text) -> str:
    """What a real terminal would be sent for ``text`` (with colour codes)."""
    console = Console(force_terminal=True, color_system="truecolor", width=200)
    with console.capture() as capture:
        console.print(text)
    return capture.get()


def test_rich_markup_is_shown_as_written_not_applied() -> None:
    text = safe_text(HOSTILE["markup"])
    assert text.plain == HOSTILE["markup"]
    assert not text.spans
    assert "[bold red]x[/]" in rendered(text)


def test_ansi_csi_sequences_are_made_visible() -> None:
    text = safe_text(HOSTILE["csi"])
    assert ESCAPE not in text.plain
    assert text.plain == "red ⟨U+001B⟩[31mALERT⟨U+001B⟩[0m ⟨U+001B⟩[2J"
    assert "\x1b[31mALERT" not in rendered(text)


def test_osc8_hyperlinks_are_made_visible_and_inert() -> None:
    text = safe_text(HOSTILE["osc8"])
    assert ESCAPE not in text.plain
    assert text.plain.startswith("⟨U+001B⟩]8;;http://evil.example⟨U+001B⟩\\click me")
    assert "\x1b]8;;http://evil" not in rendered(text)


@pytest.mark.parametrize(
    "char", ["\u202e", "\u202a", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u200f"]
)
def test_bidi_controls_are_made_visible(char: str) -> None:
    text = safe_text(f"a{char}b")
    assert text.plain == f"a⟨U+{ord(char):04X}⟩b"


@pytest.mark.parametrize("char", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"])
def test_zero_width_characters_are_made_visible(char: str) -> None:
    assert safe_text(f"Tal{char}iban").plain == f"Tal⟨U+{ord(char):04X}⟩iban"


def test_made_visible_characters_stand_out() -> None:
    text = safe_text("a\u202eb")
    assert [(s.start, s.end, s.style) for s in text.spans] == [(1, 9, MARK_STYLE)]


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x08", "\r", "\t", "\x7f", "\x85", "\x9b"])
def test_c0_c1_controls_and_del_are_hidden(char: str) -> None:
    assert is_hidden(char)
    assert char not in safe_text(f"x{char}y").plain


def test_ordinary_text_is_untouched() -> None:
    plain = "Café — “quoted” 日本語 ☕ al-Qaeda's $25 million [sic]"
    assert safe_text(plain).plain == plain
    assert visible(plain) == plain


def test_newlines_stay_only_where_asked() -> None:
    assert safe_text("a\nb").plain == "a⟨U+000A⟩b"
    assert safe_text("a\nb", multiline=True).plain == "a\nb"


def test_shorten_spells_out_and_cuts_to_width() -> None:
    assert shorten("abc\u202edef", 20) == "abc⟨U+202E⟩def"
    assert shorten("a" * 30, 10) == "a" * 9 + "…"
    assert shorten("日本語日本語", 7) == "日本語…"


async def test_hostile_ledger_text_is_shown_harmlessly_on_every_pane(hostile: Path) -> None:
    app = make_app(hostile, unsafe=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down")  # the second claim: the ANSI one
        await settle(pilot)
        screen = screen_text(app)
        svg = app.export_screenshot()
    assert ESCAPE not in screen
    assert "⟨U+001B⟩[31mALERT" in screen  # claims list and claim pane
    assert "[bold red]x[/]" in screen  # the claimant, as typed
    assert "⟨U+202E⟩" in screen  # the quote's bidi override
    for char in ("\u202e", "\u2066", "\u200b", "\ufeff", "\x1b"):
        assert char not in svg


async def test_hostile_key_name_and_reason_are_shown_harmlessly(hostile: Path) -> None:
    app = make_app(hostile, unsafe=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)  # the first claim: markup, corrected with a zero-width reason
        screen = screen_text(app)
    assert "Mallory ⟨U+001B⟩[31m[b]owner[/b]⟨U+202E⟩" in screen
    assert "Tal⟨U+200B⟩iban⟨U+FEFF⟩" in screen
    assert "[/]" in screen


async def test_command_palette_shows_hostile_claims_as_text(hostile: Path) -> None:
    app = make_app(hostile, unsafe=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"markup")
        await settle(pilot)
        await pilot.pause(0.3)
        screen = screen_text(app)
    assert "claim    markup: [bold red]x[/] [link=http://evil.example]click[/link]" in screen
    assert ESCAPE not in screen
