"""``ledger.toml``: a ledger's origin, pinned trust root and events file (DESIGN §3)."""

from __future__ import annotations

import json
from typing import Any, Final

import msgspec

from ledger.errors import DecodeError

CONFIG_NAME: Final = "ledger.toml"
FORMAT: Final = 1


class LedgerConfig(msgspec.Struct, frozen=True):
    """``ledger.toml``: the origin, the pinned trust root and the events file."""

    origin: str
    trust_root: str
    events: str = "events.jsonl"
    format: int = FORMAT

    def to_toml(self) -> str:

        return (
            f"format = {self.format}\n"
            f"origin = {json.dumps(self.origin)}\n"
            f"trust_root = {json.dumps(self.trust_root)}\n"
            f"events = {json.dumps(self.events)}\n"
        )

    @classmethod
    def parse(cls, text: str, *, path: str = CONFIG_NAME) -> LedgerConfig:
        data = _plain_toml(text)
        if data is None:
            import tomllib  # here: a config as ``to_toml`` writes it needs no TOML parser

            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise DecodeError(
                    f"not valid TOML: {exc}", path=path, line=_toml_line(text, exc), rule="config"
                ) from None
        unknown = sorted(set(data) - _PLAIN_KEYS)
        if unknown:
            raise DecodeError(
                f"unknown key {unknown[0]!r}: the keys are origin, trust_root, events and format",
                path=path,
                rule="config",
            )
        try:
            config = cls(
                origin=data["origin"],
                trust_root=data["trust_root"],
                events=data.get("events", "events.jsonl"),
                format=data.get("format", FORMAT),
            )
        except KeyError as exc:
            raise DecodeError(f"missing key {exc}", path=path, rule="config") from None
        if type(config.format) is not int or config.format != FORMAT:  # not True, not 1.0
            raise DecodeError(
                f"format {config.format!r} is not supported: it is the integer {FORMAT}",
                path=path,
                rule="config",
            )
        values = (config.origin, config.trust_root, config.events)
        if not all(isinstance(v, str) for v in values):
            raise DecodeError("origin, trust_root and events are strings", path=path, rule="config")
        if any(not v or any(ord(c) < 0x20 or c == "\x7f" for c in v) for v in values):
            raise DecodeError(
                "origin, trust_root and events are non-empty and hold no control characters",
                path=path,
                rule="config",
            )
        if "/" in config.events or config.events.startswith("."):
            raise DecodeError("events names a file beside ledger.toml", path=path, rule="config")
        if config.events in (CONFIG_NAME, "checkpoint"):
            raise DecodeError(
                f"events names {config.events}, one of the ledger's own files, as its log",
                path=path,
                rule="config",
            )
        return config


def _toml_line(text: str, exc: ValueError) -> int:
    """The line tomllib's message names ("at line 3, column 1", or "at end of document")."""
    import re

    found = re.search(r"\bat line (\d+)", str(exc))
    return int(found.group(1)) if found else max(1, len(text.splitlines()))


_PLAIN_KEYS: Final = frozenset({"format", "origin", "trust_root", "events"})


def _plain_toml(text: str) -> dict[str, Any] | None:
    """The table of a config in the plain form ``to_toml`` writes, else None.

    Only lines ``key = "text"`` (no escapes, quotes or control characters) and
    ``format = digits``, each key once, each line ending in a newline: what TOML
    reads them as is evident. Anything else (comments, escapes, CRLF…) is for tomllib.
    """
    if not text.endswith("\n"):
        return None
    data: dict[str, Any] = {}
    for line in text[:-1].split("\n"):
        key, sep, value = line.partition(" = ")
        if not sep or key not in _PLAIN_KEYS or key in data:
            return None
        if key == "format":
            if not (value.isascii() and value.isdigit()) or (value[0] == "0" and value != "0"):
                return None
            data[key] = int(value)
            continue
        if len(value) < 2 or value[0] != '"' or value[-1] != '"':
            return None
        inner = value[1:-1]
        if any(c < " " or c in '"\\\x7f' for c in inner):
            return None
        data[key] = inner
    return data
