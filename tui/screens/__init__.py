"""The screens of the terminal UI, one per module, each with its own stylesheet."""

from __future__ import annotations

from tui.screens.filter import FilterScreen
from tui.screens.help import HelpScreen
from tui.screens.inspector import InspectorScreen
from tui.screens.jump import JumpScreen
from tui.screens.main import MainScreen

__all__ = ["FilterScreen", "HelpScreen", "InspectorScreen", "JumpScreen", "MainScreen"]
