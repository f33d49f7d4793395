"""Every key is discoverable: it has an id (a keymap can remap it), ``?`` lists it, the
footer shows the main ones, and docs/tui.md documents each."""

from __future__ import annotations

import re
from pathlib import Path

from tests.tui.conftest import SIZE, make_app, press, screen_text, settle
from tui.app import FactLedgerApp
from tui.screens.help import HelpScreen, binding_sections, help_text, key_label

DOCS = Path(__file__).parents[2] / "docs" / "tui.md"


def all_bindings():  # type: ignore[no-untyped-def]
    return [b for _, bindings in binding_sections(FactLedgerApp.BINDINGS) for b in bindings]


def test_every_binding_has_an_id_naming_one_action() -> None:
    bindings = all_bindings()
    assert all(b.id for b in bindings), [b.key for b in bindings if not b.id]
    actions: dict[str, set[str]] = {}
    for b in bindings:  # "esc,i,q" is one binding (one id) on three keys
        actions.setdefault(b.id or "", set()).add(b.action)
    assert {i: a for i, a in actions.items() if len(a) > 1} == {}


def test_help_lists_every_binding_with_its_key() -> None:
    """On the binding's own row: every key of it, "esc/i/q" for the inspector's close."""
    text = help_text(binding_sections(FactLedgerApp.BINDINGS)).plain
    rows = [line.split() for line in text.splitlines() if line.startswith("  ")]
    keys_of: dict[str, set[str]] = {}
    for row in rows:
        keys_of.setdefault(row[-1], set()).update(row[0].split("/") if row[0] != "/" else "/")
    for binding in all_bindings():
        assert binding.id in keys_of, binding.id
        assert key_label(binding) in keys_of[binding.id], (binding.id, key_label(binding))
    assert keys_of["inspector.close"] == {"esc", "i", "q"}
    assert "⊘ void" in text  # the badges the history shows, all of them


def test_keys_read_as_typed() -> None:
    labels = {b.id: key_label(b) for b in all_bindings()}
    assert labels["cursor.back"] == "["
    assert labels["cursor.claim_forward"] == "}"
    assert labels["cursor.last"] == "G"
    assert labels["search"] == "/"
    assert labels["help"] == "?"
    assert labels["palette"] == "^p"


async def test_question_mark_opens_help_and_escape_closes_it(demo: Path) -> None:
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "cursor.claim_back" in screen_text(app)
        await press(pilot, "escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_a_held_down_arrow_scrolls_the_help_a_line_a_press(demo: Path) -> None:
    from textual.containers import VerticalScroll

    from tests.tui.conftest import key_event

    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "question_mark")
        for _ in range(10):  # as a held key repeats: no pause between the presses
            app.post_message(key_event("down"))
        await settle(pilot)
        assert app.screen.query_one("#help-box", VerticalScroll).scroll_y == 10


async def test_the_footer_shows_the_main_bindings(demo: Path) -> None:
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
    for shown in ("[] step", "{} claim", "gG ends", "t jump", "/ search", "f filter"):
        assert shown in footer
    for shown in ("v verify", "i inspect", "? help", "^p palette", "q quit"):
        assert shown in footer


async def test_help_and_quit_stay_in_a_footer_too_narrow_for_every_key(demo: Path) -> None:
    """At 80 columns (a terminal's default) the footer cannot show every key: the cut
    ones must be those help lists, never help and quit themselves."""
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
    assert footer.rstrip().endswith("? help q quit")
    assert footer.startswith(" ↑↓ move  [] step")
    assert "^p palette" not in footer  # cut, for the two that matter most


def test_docs_document_every_binding() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z_.]+)`", text))
    missing = [b.id for b in all_bindings() if b.id not in documented]
    assert not missing, f"docs/tui.md does not document {missing}"
