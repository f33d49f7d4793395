"""What every command gets: the parsed options, the ledger, the key, and where to write.

stdout carries data (ids, JSON, tables); stderr carries messages.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import msgspec

from ledger.cli.keyfile import load_key
from ledger.errors import PassphraseNeeded, UsageError
from ledger.keys import SigningKey, key_file_is_private, load_signing_key
from ledger.ledger import Appended, Draft, Ledger, Snapshot, open_ledger
from ledger.text import holds_private_key, message, one_line


class Context(msgspec.Struct):
    args: argparse.Namespace
    out: TextIO = msgspec.field(default_factory=lambda: sys.stdout)
    err: TextIO = msgspec.field(default_factory=lambda: sys.stderr)
    _ledger: Ledger | None = None
    _waited: bool = False

    def ledger(self) -> Ledger:
        """The ledger named by --ledger, $FACTLEDGER_DIR, or the nearest one upward."""
        if self._ledger is None:
            path = getattr(self.args, "ledger", None)
            self._ledger = open_ledger(Path(path) if path else None)
            if self.err.isatty():
                self._ledger.on_fold = self.folding
        return self._ledger

    def name_ledger(self, directory: Path | None) -> None:
        """A command's DIR argument names the ledger as ``--ledger`` does. Both naming
        one directory is fine; two different ones is refused, not one silently used."""
        if directory is None:
            return
        other = getattr(self.args, "ledger", None)
        if other is not None and Path(other).resolve() != directory.resolve():
            raise UsageError(
                f"two ledgers are named: {directory} and --ledger {other}",
                hint="give the ledger once, as DIR or as --ledger",
            )
        self.args.ledger = directory

    def folding(self, done: int, end: int) -> None:
        """A long fold of the log (no usable state cache, or one far behind) says how far
        it is, on a terminal only."""
        if done >= end:
            self.err.write("\r\x1b[K")
        else:
            self.err.write(
                f"\rreading the log… {100 * done // end:3d}% of {end >> 20} MiB "
                "(once: the next command starts from the cached state)"
            )
        self.err.flush()

    def key(self, signs: str = "signs an entry") -> SigningKey:
        """The signing key from --key or $FACTLEDGER_KEY (passphrase: env or prompt);
        ``signs`` says what it signs, should there be none."""
        name = getattr(self.args, "key", None) or os.environ.get("FACTLEDGER_KEY")
        if not name:
            raise UsageError(
                f"this command {signs} and needs a key",
                hint="pass --key FILE or set FACTLEDGER_KEY",
            )
        if holds_private_key(str(name)):  # an argument holding one was refused by main
            raise UsageError(
                "$FACTLEDGER_KEY holds a private key itself, not the name of a file: keep "
                "the key in a file (mode 0600) and give that file's name"
            )
        path = Path(name)
        env = os.environ.get("FACTLEDGER_PASSPHRASE")
        passphrase = env.encode() if env is not None else None
        # Warned only about a file that holds a private key (told before any prompt for
        # its passphrase); a public key passed by mistake gets the one error line.
        exposed = path.exists() and not key_file_is_private(path)
        try:
            key = load_key(path, passphrase)
        except PassphraseNeeded:
            if passphrase is not None or not sys.stdin.isatty():
                raise  # $FACTLEDGER_PASSPHRASE is set (if empty): it is the answer
            self._warn_exposed(path, exposed)
            import getpass

            try:
                typed = getpass.getpass(f"passphrase for {path}: ")
            except EOFError:
                raise UsageError(
                    f"no passphrase given for {path}",
                    hint="type it at the prompt, or set FACTLEDGER_PASSPHRASE",
                ) from None
            return load_signing_key(path, typed.encode())
        self._warn_exposed(path, exposed)
        return key

    def _warn_exposed(self, path: Path, exposed: bool) -> None:
        if exposed:
            self.warn(f"key file {path} is readable by other users; run 'chmod 600 {path}'")

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    def emit(self, text: str) -> None:
        """One human-readable line on stdout; ledger text in it cannot drive the terminal,
        nor start a line of its own."""
        self.out.write(one_line(text) + "\n")

    def emit_data(self, text: str) -> None:
        """One line of machine-readable data (e.g. JSON Lines) on stdout, unchanged."""
        self.out.write(text + "\n")

    def emit_json(self, data: Any) -> None:
        import json  # here, not at start-up: most commands print no JSON

        self.out.write(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")

    def emit_json_items(self, items: Iterable[Any]) -> None:
        """A JSON array written an item at a time: byte for byte what :meth:`emit_json`
        writes for the whole list, without holding the list."""
        import json

        opening = "[\n"
        for item in items:
            text = json.dumps(item, ensure_ascii=False, indent=2, sort_keys=True)
            self.out.write(opening + "  " + text.replace("\n", "\n  "))
            opening = ",\n"
        self.out.write("[]\n" if opening == "[\n" else "\n]\n")

    def append(
        self, build: Callable[[Snapshot], Sequence[Draft]], at: str | None
    ) -> list[Appended]:
        """Sign with :meth:`key` and append what ``build`` drafts from the folded log."""
        return self.ledger().append(build, self.key(), at=at, on_wait=self.waiting)

    def waiting(self) -> None:
        """Told when a writer holds the ledger's lock; says so once per command (a merge
        may wait as a reader, then as a writer)."""
        if self._waited:
            return
        self._waited = True
        self.err.write("waiting for another writer to finish…\n")
        self.err.flush()

    def warn(self, text: str) -> None:
        self.err.write(f"warning: {message(text)}\n")

    def info(self, text: str) -> None:
        self.err.write(message(text) + "\n")


@contextlib.contextmanager
def build_progress(err: TextIO) -> Iterator[Callable[[int, int], None] | None]:
    """On a terminal, a long build of the projections says how far it is on one line,
    rewritten in place and cleared at the end; elsewhere nothing is told (``None``)."""
    if not err.isatty():
        yield None
        return
    told = False

    def tell(done: int, end: int) -> None:
        nonlocal told
        told = True
        step = (
            "writing the tables" if done >= end else f"{100 * done // end:3d}% of {end >> 20} MiB"
        )
        err.write(
            f"\r\x1b[Kbuilding the projections… {step} "
            "(once: the next command reads them from the cache)"
        )
        err.flush()

    try:
        yield tell
    finally:
        if told:
            err.write("\r\x1b[K")
            err.flush()
