"""Key bindings shared by the list widgets, each with an id (so a keymap can remap it)."""

from __future__ import annotations

from textual.binding import Binding, BindingType

_MOVE = Binding.Group("move", compact=True)
_SCROLL = Binding.Group("scroll", compact=True)


def list_bindings(prefix: str) -> list[BindingType]:
    """Up/down (shown in the footer as one "move" group) and paging (listed in help)."""
    return [
        Binding("up", "cursor_up", "up", id=f"{prefix}.up", group=_MOVE),
        Binding("down", "cursor_down", "down", id=f"{prefix}.down", group=_MOVE),
        Binding("pageup", "page_up", "page up", id=f"{prefix}.page_up", show=False),
        Binding("pagedown", "page_down", "page down", id=f"{prefix}.page_down", show=False),
        Binding("home", "first", "first", id=f"{prefix}.first", show=False),
        Binding("end", "last", "last", id=f"{prefix}.last", show=False),
    ]


def scroll_bindings(prefix: str) -> list[BindingType]:
    """Keyboard scrolling for a focusable pane (replaces the container's id-less ones)."""
    return [
        Binding("up", "scroll_up", "scroll", id=f"{prefix}.scroll_up", group=_SCROLL),
        Binding("down", "scroll_down", "scroll", id=f"{prefix}.scroll_down", group=_SCROLL),
        Binding("pageup", "page_up", "page up", id=f"{prefix}.page_up", show=False),
        Binding("pagedown", "page_down", "page down", id=f"{prefix}.page_down", show=False),
        Binding("home", "scroll_home", "top", id=f"{prefix}.top", show=False),
        Binding("end", "scroll_end", "bottom", id=f"{prefix}.bottom", show=False),
    ]


__all__ = ["list_bindings", "scroll_bindings"]
