"""Ledger text as data, never as markup or terminal control (pure).

Everything in a ledger was typed by someone else: a claim, a quote, a key name, a
reason. Shown carelessly, it can restyle the screen (Rich markup ``[bold red]``),
drive the terminal (ANSI CSI ``\\x1b[31m``, OSC 8 hyperlinks ``\\x1b]8;;…\\x1b\\\\``),
reorder what the reader sees (bidi overrides, U+202E) or hide words (zero-width
characters, U+200B, U+FEFF). :func:`safe_text` turns any value into a
:class:`rich.text.Text` that is never parsed as markup and in which every such
character is replaced by a visible, styled token such as ``⟨U+202E⟩``.

Widgets pass ledger strings through :func:`safe_text` (styled) or :func:`visible`
(plain, for places that need a ``str``); they never hand a ledger string to an
API that parses markup.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from rich.cells import cell_len, set_cell_size
from rich.style import Style
from rich.text import Text

__all__ = ["MARK_STYLE", "is_hidden", "safe_text", "shorten", "visible"]

MARK_STYLE: Final = Style(color="black", bgcolor="yellow", bold=True)
"""How a made-visible character is drawn: it must stand out from the text around it."""

_EXPLICIT: Final = frozenset(
    {
        # bidi embeddings, overrides and isolates (Trojan Source, CVE-2021-42574)
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        0x200E,  # LEFT-TO-RIGHT MARK
        0x200F,  # RIGHT-TO-LEFT MARK
        0x061C,  # ARABIC LETTER MARK
        # zero-width and invisible formatting
        0x00AD,  # SOFT HYPHEN
        0x034F,  # COMBINING GRAPHEME JOINER
        0x115F,  # HANGUL CHOSEONG FILLER
        0x1160,  # HANGUL JUNGSEONG FILLER
        0x17B4,  # KHMER VOWEL INHERENT AQ
        0x17B5,  # KHMER VOWEL INHERENT AA
        0x180E,  # MONGOLIAN VOWEL SEPARATOR
        *range(0x200B, 0x200E),  # ZERO WIDTH SPACE, NON-JOINER, JOINER
        *range(0x2060, 0x2065),  # WORD JOINER, invisible operators
        0x2028,  # LINE SEPARATOR
        0x2029,  # PARAGRAPH SEPARATOR
        0x3164,  # HANGUL FILLER
        0xFEFF,  # ZERO WIDTH NO-BREAK SPACE (BOM)
        0xFFA0,  # HALFWIDTH HANGUL FILLER
        *range(0xFFF9, 0xFFFC),  # interlinear annotation controls
    }
)
_HIDDEN_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_WHITESPACE: Final = re.compile(r"\s+")


def is_hidden(char: str) -> bool:
    """True for a character that would be invisible, move text, or control the terminal.

    Controls (C0, DEL, C1: ESC, CSI, OSC …), format characters (bidi, zero-width,
    tags), surrogates, private use and unassigned code points. A plain space is
    not hidden; any other whitespace but the newline (which callers decide on) is.
    """
    code = ord(char)
    if char == " ":
        return False
    if code in _EXPLICIT:
        return True
    return unicodedata.category(char) in _HIDDEN_CATEGORIES


def _token(char: str) -> str:
    return f"⟨U+{ord(char):04X}⟩"


def visible(value: object, *, multiline: bool = False) -> str:
    """``value`` as a plain string with every hidden character spelled ``⟨U+XXXX⟩``.

    With ``multiline`` a newline stays a newline; otherwise it is made visible too.
    The result is safe to measure and to print, but it is a plain ``str``: hand it
    only to APIs that do not parse markup (use :func:`safe_text` otherwise).
    """
    text = "" if value is None else str(value)
    return "".join(_token(c) if is_hidden(c) and not (multiline and c == "\n") else c for c in text)


def safe_text(
    value: object,
    style: str | Style = "",
    *,
    multiline: bool = False,
    mark_style: Style = MARK_STYLE,
) -> Text:
    """``value`` as a Rich :class:`~rich.text.Text` that displays exactly what it holds.

    Markup is never interpreted (the characters ``[bold]`` stay characters), and every
    hidden character (:func:`is_hidden`) becomes a ``⟨U+XXXX⟩`` token drawn in
    ``mark_style``. ``None`` is the empty text.
    """
    text = "" if value is None else str(value)
    if text.isascii() and text.isprintable():
        return Text(text, style=style, end="")
    out = Text(style=style, end="", no_wrap=False)
    run: list[str] = []
    for char in text:
        if is_hidden(char) and not (multiline and char == "\n"):
            if run:
                out.append("".join(run))
                run.clear()
            out.append(_token(char), style=mark_style)
        else:
            run.append(char)
    if run:
        out.append("".join(run))
    return out


def shorten(value: object, width: int) -> str:
    """One line of at most ``width`` cells: whitespace runs collapsed, hidden characters
    spelled out (:func:`visible`), an ellipsis where it was cut."""
    text = _WHITESPACE.sub(" ", visible(value)).strip()
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, width - 1).rstrip() + "…"
