"""The factledger terminal UI: composes the screens, the global bindings and the theme."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.theme import Theme

from ledger.ledger import Ledger
from ledger.projections import Projection
from tui import jobs
from tui.screens.help import HelpScreen, binding_sections
from tui.screens.main import MainScreen

THEME = Theme(
    name="factledger",
    primary="#5FA8D3",
    secondary="#8FBC8F",
    accent="#D7A65F",
    warning="#E5C07B",
    error="#E06C75",
    success="#98C379",
    background="#1B1F24",
    surface="#22272E",
    panel="#2D333B",
    dark=True,
)


class FactLedgerApp(App[None]):
    """Review a ledger's claims and step through its history."""

    TITLE = "factledger"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "help", id="help", tooltip="every key, and what it does"),
        Binding(
            "ctrl+p",
            "command_palette",
            "palette",
            id="palette",
            priority=True,
            tooltip="command palette: go to a claim, a source, a reviewer, or an action",
        ),
        Binding("q", "quit", "quit", id="quit"),
        Binding(
            "ctrl+q",
            "quit",
            "quit",
            id="quit.now",
            show=False,
            priority=True,
            tooltip="quit, even from a dialog",
        ),
        Binding("ctrl+c", "help_quit", show=False, system=True),
    ]

    def __init__(
        self,
        ledger: Ledger,
        *,
        projection: Projection | None = None,
        unsafe_allow_test_keys: bool = False,
    ) -> None:
        super().__init__()
        with contextlib.suppress(OSError):
            jobs.prepare(ledger.events_path.stat().st_size)
        self.ledger = ledger
        self.projection = projection
        self.unsafe_allow_test_keys = unsafe_allow_test_keys
        self.register_theme(THEME)
        self.theme = THEME.name

    def on_mount(self) -> None:
        main = MainScreen(
            self.ledger,
            projection=self.projection,
            unsafe_allow_test_keys=self.unsafe_allow_test_keys,
        )
        self.push_screen(main)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own palette commands, less Screenshot: it saves to a downloads
        folder a terminal machine rarely has, and then only says that it failed."""
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot":
                yield command

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(binding_sections(self.BINDINGS)))


def run(
    ledger: Ledger,
    *,
    projection: Projection | None = None,
    unsafe_allow_test_keys: bool = False,
) -> None:
    """Open the terminal UI on ``ledger`` and return when the user quits.

    ``projection``, when given, is an already opened (caught-up) projection of it.
    """
    app = FactLedgerApp(
        ledger, projection=projection, unsafe_allow_test_keys=unsafe_allow_test_keys
    )
    app.run()


__all__ = ["THEME", "FactLedgerApp", "run"]
