"""Options shared by many verbs, as argparse parent parsers, and their value parsers."""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import datetime
from pathlib import Path

from ledger.ledger import format_time
from ledger.snapshot import parse_time
from ledger.text import is_hidden, is_web_url


class Parser(argparse.ArgumentParser):
    """An argument parser whose help is as wide as argparse makes it, found without shutil.

    argparse asks ``shutil.get_terminal_size`` for every argument added; importing
    shutil (and the archive modules it imports) is a noticeable part of the start-up
    of a single write verb, which never prints help.
    """

    def _get_formatter(self) -> argparse.HelpFormatter:
        formatter = self.formatter_class
        if isinstance(formatter, type) and issubclass(formatter, argparse.HelpFormatter):
            return formatter(prog=self.prog, width=terminal_columns() - 2)
        return super()._get_formatter()


def terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: $COLUMNS, else the terminal's, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    stdout = sys.__stdout__
    try:
        columns = os.get_terminal_size(stdout.fileno()).columns if stdout is not None else 0
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns or 80


def common_parser() -> argparse.ArgumentParser:
    """``--ledger``: which ledger to use."""
    p = Parser(add_help=False)
    p.add_argument(
        "--ledger",
        metavar="DIR",
        type=path,
        help="the ledger directory (default: $FACTLEDGER_DIR, else the nearest directory "
        "upward holding ledger.toml)",
    )
    return p


def signing_parser() -> argparse.ArgumentParser:
    """``--key``, ``--at`` and ``--json``: for verbs that sign and append an entry."""
    p = Parser(add_help=False)
    p.add_argument(
        "--key",
        metavar="FILE",
        type=path,
        help="signing key: OpenSSH or PKCS#8 Ed25519 private key (default: $FACTLEDGER_KEY; "
        "passphrase from $FACTLEDGER_PASSPHRASE or a prompt)",
    )
    p.add_argument(
        "--at",
        metavar="TIME",
        type=timestamp,
        help="author-stated time, RFC 3339 (e.g. 2024-04-02T09:15:00Z; default: now)",
    )
    p.add_argument("--json", action="store_true", help="print the full entry as JSON, not its id")
    return p


def timestamp(text: str) -> str:
    """An RFC 3339 time with a zone, normalised to ``YYYY-MM-DDTHH:MM:SSZ``."""
    try:
        when = parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if when.microsecond:
        raise argparse.ArgumentTypeError(f"{text!r}: times are recorded in whole seconds")
    return format_time(when)


def date(text: str) -> str:
    """A calendar date ``YYYY-MM-DD``."""
    try:
        return datetime.strptime(text, "%Y-%m-%d").date().isoformat()  # 4-digit years
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-04-02") from None


def web_url(text: str) -> str:
    """An absolute http(s) URL: the export publishes it, so no ``javascript:`` or ``file:``."""
    if not is_web_url(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http:// or https:// URL with a host (and no spaces, "
            "controls or invisible characters)"
        )
    return text


def url_template(text: str) -> str:
    """A fact check's page URL with ``{claim}`` where the claim id goes: each review needs
    its own page, and the result is published, so it must be an http(s) URL."""
    placeholders = re.findall(r"\{[^{}]*\}", text)
    if "{claim}" not in placeholders:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no {{claim}}: every review would link to the same page"
        )
    other = sorted(set(placeholders) - {"{claim}"})
    if other:
        raise argparse.ArgumentTypeError(f"{text!r} has {other[0]}; only {{claim}} is filled in")
    example = text.replace("{claim}", "clm_aaaaaaaaaaaa")
    if not is_web_url(example):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http:// or https:// URL with a host (and no spaces, "
            "controls or invisible characters)"
        )
    return text


def utf8_text(text: str) -> str:
    """Text a search or query can take: the command line's bytes must be UTF-8."""
    try:
        text.encode()
    except UnicodeEncodeError:  # Python keeps undecodable bytes as lone surrogates
        raise argparse.ArgumentTypeError("is not UTF-8 text") from None
    return text


def nonempty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def person_name(text: str) -> str:
    """A key's display name (``key grant --name``, ``init --owner-name``): one line,
    without hidden characters or outer spaces, and not spelled like a fingerprint, which
    ``key revoke`` would take it for."""
    nonempty(text)
    utf8_text(text)
    if text != text.strip() or any(c in "\t\n" or is_hidden(c) for c in text):
        raise argparse.ArgumentTypeError(
            "must be one line without outer spaces, controls or invisible characters"
        )
    if text.upper().startswith("SHA256:"):
        raise argparse.ArgumentTypeError(
            f"{text!r} reads as a key fingerprint; a name must not ('key revoke' takes either)"
        )
    return text


def path(text: str) -> Path:
    """A file or directory name; an empty one (an unset variable, say) is refused, not
    taken as the current directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is an empty path")
    return Path(text)


def fingerprint(text: str) -> str:
    """An SSH-style key fingerprint, ``SHA256:`` and 43 base64 digits."""
    digits = text.removeprefix("SHA256:")
    if digits == text or len(digits) != 43 or not set(digits) <= _BASE64:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a key fingerprint like SHA256:A2WjCPt3b1Wv… (43 base64 digits); "
            "'factledger key new' and 'factledger init' print it"
        )
    return text


_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def processes(text: str) -> int:
    """A number of worker processes, 1 (this process alone) to 1024."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 1024:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of processes from 1 (this process alone) to 1024"
        )
    return value


def credibility(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 6:
        raise argparse.ArgumentTypeError(f"{text!r}: credibility is a whole number from 1 to 6")
    return value


def sha256_hex(text: str) -> str:
    """64 lowercase hex digits."""
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a SHA-256 in lowercase hex")
    return text


def hours(text: str) -> float:
    """A number of hours from 0 to ten years."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 24 * 366 * 10:  # also false for NaN
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours from 0 to 87840")
    return value
