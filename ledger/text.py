"""Ledger text shown on a terminal as data, never as terminal control (pure).

Everything in a ledger was typed by someone: a claim, a quote, a key name. Printed
as it is, it can drive the terminal (ANSI CSI such as ``\\x1b[2J``, OSC 8 links and
window titles, C1 controls), reorder what the reader sees (bidi overrides, the
Trojan Source trick) or hide words (zero-width characters). :func:`visible` replaces
each such character with a visible token like ``⟨U+202E⟩``. The command line applies
it to every human-readable line; JSON output stays exact data (its consumers parse
it). The terminal UI has its own styled version (``tui.widgets.safe``).
"""

from __future__ import annotations

import re
from typing import Final

_EXPLICIT: Final = frozenset(
    {
        *range(0x202A, 0x202F),  # bidi embeddings and overrides
        *range(0x2066, 0x206A),  # bidi isolates
        0x200E,  # LEFT-TO-RIGHT MARK
        0x200F,  # RIGHT-TO-LEFT MARK
        0x061C,  # ARABIC LETTER MARK
        *range(0x200B, 0x200E),  # zero-width space, non-joiner, joiner
        *range(0x2060, 0x2065),  # word joiner, invisible operators
        0x2028,  # LINE SEPARATOR
        0x2029,  # PARAGRAPH SEPARATOR
        0xFEFF,  # ZERO WIDTH NO-BREAK SPACE
        0x00AD,  # SOFT HYPHEN
    }
)
_HIDDEN_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
_CANDIDATES: Final = re.compile(r"[^\t\n\x20-\x7e]")
"""Printable ASCII, tab and newline are always safe; look at everything else."""


def is_hidden(char: str) -> bool:
    """A character that controls the terminal or hides/reorders text."""
    import unicodedata  # here, not at start-up: only text beyond printable ASCII needs it

    code = ord(char)
    if char in "\t\n":
        return False
    return code in _EXPLICIT or unicodedata.category(char) in _HIDDEN_CATEGORIES


def _token(match: re.Match[str]) -> str:
    char = match.group()
    return f"⟨U+{ord(char):04X}⟩" if is_hidden(char) else char


def visible(text: str) -> str:
    """``text`` with every hidden or controlling character replaced by ``⟨U+XXXX⟩``."""
    return _CANDIDATES.sub(_token, text)


def one_line(text: str) -> str:
    """:func:`visible`, and a newline shown as ``⟨U+000A⟩`` too: for a line of output
    that quotes ledger text, where a newline in a claim or a key name would start a
    line of its own that looks like the command's (a forged ``status`` or ``verdict``)."""
    return visible(text).replace("\n", "⟨U+000A⟩")


def is_web_url(text: str | None) -> bool:
    """An absolute http(s) URL with a host, and nothing hidden in it: what the export
    publishes (a source written by another tool or merged from a branch may hold a
    ``javascript:`` URL; the command line refuses one when it is recorded)."""
    if not text:
        return False
    scheme, sep, rest = text.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return (
        bool(sep)
        and scheme.lower() in ("http", "https")
        and bool(host)
        and all(c.isprintable() and not c.isspace() for c in text)  # also bidi, zero-width
    )


_PRIVATE_KEY: Final = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)"
    # A body without its PEM lines, to the first character no base64 line holds: its
    # lines may be joined by newlines, spaces, or the two characters "\n" of a repr.
    # (What follows the key in a message may be hidden with it; never a part of it.)
    r"|b3BlbnNzaC1rZXktdjE(?:[A-Za-z0-9+/=\s]|\\[rn])*"  # OpenSSH (openssh-key-v1)
    r"|MC4CAQAwBQYDK2VwBCIE(?:[A-Za-z0-9+/=\s]|\\[rn])*",  # PKCS#8 Ed25519 DER
    re.DOTALL,
)
KEY_NOT_SHOWN: Final = "⟨private key, not shown⟩"


def holds_private_key(text: str) -> bool:
    """Whether ``text`` holds a private key (PEM, OpenSSH, or their base64 body): the key
    itself given where its file's name belongs, say ``FACTLEDGER_KEY="$(cat key)"``."""
    return _PRIVATE_KEY.search(text) is not None


def hide_private_keys(text: str) -> str:
    """``text`` with any private key in it replaced by :data:`KEY_NOT_SHOWN`: every
    message the command line prints goes through it, since many quote what was typed."""
    return _PRIVATE_KEY.sub(KEY_NOT_SHOWN, text)


LONG_WORD: Final = 200
"""A word longer than this is cut in a message: a run of characters without a space,
a quote or a semicolon (so that the quotes and the rest of the sentence stay)."""
_LONG: Final = re.compile(rf"[^\s'\";]{{{LONG_WORD + 1},}}")


def _cut(match: re.Match[str]) -> str:
    word = match.group()
    return f"{word[: LONG_WORD // 2]}…⟨{len(word) - LONG_WORD // 2} more characters⟩"


def message(text: str) -> str:
    """One line of a message the command line prints (an error, a warning, a note): any
    private key hidden, every character shown as data (:func:`one_line`), and a word
    longer than :data:`LONG_WORD` cut to its start, so that a pasted document given as
    an id says which argument it was in one line, not in screens of it."""
    return _LONG.sub(_cut, one_line(hide_private_keys(text)))
