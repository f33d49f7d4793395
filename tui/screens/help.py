"""``?``: every key binding, grouped by where it works, with the id a keymap can remap."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.widgets.styles import DIM

Section = tuple[str, list[Binding]]


def key_label(binding: Binding) -> str:
    """How the key reads on screen: ``[``, ``^p``, ``esc/i/q``."""
    if binding.key_display:
        return binding.key_display
    labels = []
    for key in binding.key.split(","):
        *modifiers, name = key.strip().split("+")
        label = format_key(name)
        if "ctrl" in modifiers:
            label = f"^{label}"
        labels.append(label)
    return "/".join(labels)


def _bindings(source: Sequence[BindingType]) -> list[Binding]:
    return [b for b in Binding.make_bindings(source) if not b.system]


def binding_sections(app_bindings: Sequence[BindingType]) -> list[Section]:
    """Every binding the UI defines, in the order the help screen lists them."""
    from tui.screens.filter import FilterScreen
    from tui.screens.inspector import InspectorScreen
    from tui.screens.jump import JumpScreen
    from tui.screens.main import MainScreen
    from tui.widgets.attributions import AttributionsPane
    from tui.widgets.claim_pane import ClaimPane
    from tui.widgets.claims_table import ClaimsTable
    from tui.widgets.findings import FindingsList
    from tui.widgets.history import HistoryList

    return [
        ("Anywhere", _bindings(app_bindings)),
        ("Time cursor, search and verification", _bindings(MainScreen.BINDINGS)),
        ("Claims list", _bindings(ClaimsTable.BINDINGS)),
        ("History", _bindings(HistoryList.BINDINGS)),
        ("Claim and sources panes", _bindings([*ClaimPane.BINDINGS, *AttributionsPane.BINDINGS])),
        ("Verification findings", _bindings(FindingsList.BINDINGS)),
        ("Event inspector", _bindings(InspectorScreen.BINDINGS)),
        ("Jump (t)", _bindings(JumpScreen.BINDINGS)),
        ("Filter (f)", _bindings(FilterScreen.BINDINGS)),
        ("Help (?)", _bindings(HelpScreen.BINDINGS)),
    ]


def help_text(sections: list[Section]) -> Text:
    out = Text()
    for title, bindings in sections:
        out.append(f"\n{title}\n", style="bold underline")
        # make_bindings splits "escape,i,q" into one binding a key: list them as one
        groups: dict[object, list[Binding]] = {}
        for b in bindings:
            groups.setdefault(b.id if b.id is not None else id(b), []).append(b)
        for group in groups.values():
            b = group[0]
            keys = "/".join(dict.fromkeys(key_label(k) for k in group))
            out.append(f"  {keys:<12}" if len(keys) < 12 else f"  {keys} ", style="bold")
            what = b.tooltip or b.description
            out.append(f"{what:<40}" if len(what) < 40 else f"{what}  ")  # never run into the id
            out.append(f"{b.id or ''}\n", style=DIM)
    out.append(
        "\nEvery pane shows the ledger as of the time cursor; ◆ and reverse video mark what "
        "the event at the cursor changed.\nBadges: ✔ verified  ⊘ void (its key was revoked "
        "as compromised)  ✘ a finding names the entry  ○ not yet checked (press v).",
        style=DIM,
    )
    return out


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss(None)", "close help", id="help.close"),
        # priority: ahead of the focused box's own arrows, which defer each scroll to the
        # next refresh, so a held key moved one line for many presses
        Binding("up", "scroll(-1)", "scroll", id="help.scroll_up", show=False, priority=True),
        Binding("down", "scroll(1)", "scroll", id="help.scroll_down", show=False, priority=True),
    ]

    def __init__(self, sections: list[Section]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text(self.sections), id="help-body")

    def on_mount(self) -> None:
        self.query_one("#help-box").border_title = "Keys"
        self.query_one("#help-box").border_subtitle = "esc closes"

    def action_scroll(self, delta: int) -> None:
        box = self.query_one("#help-box", VerticalScroll)
        box.scroll_relative(y=delta, animate=False, immediate=True)  # a held key: every press


__all__ = ["HelpScreen", "binding_sections", "help_text", "key_label"]
