"""``factledger tui [DIR]``: open the terminal UI on a ledger.

Textual (and DuckDB, through the projections) is imported inside the command, so
that every other verb — ``factledger verify`` above all — starts without them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ledger.cli.context import Context, build_progress
from ledger.cli.options import path
from ledger.errors import EXIT_OK, DecodeError, UsageError
from ledger.ledger import Ledger

Sub = Any


def register(sub: Sub, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tui",
        parents=parents,
        help="review claims and step through their history in the terminal",
        description="Open the terminal UI: the claims list, each claim as of a time cursor "
        "with its word-level diff, sources and signed history, the event inspector, and "
        "full verification (v). Press ? inside for every key.",
        epilog="exit codes: 0 ok, 1 the log does not decode (factledger verify lists why), "
        "2 usage error, 3 the ledger could not be read",
    )
    p.add_argument(
        "dir",
        metavar="DIR",
        nargs="?",
        type=path,
        help="the ledger directory (default: --ledger, $FACTLEDGER_DIR, else the nearest "
        "directory upward holding ledger.toml)",
    )
    p.add_argument(
        "--unsafe-allow-test-keys",
        action="store_true",
        help="verify a ledger whose owner is a published demo/test key (the bundled demo); "
        "the header says so. Never use it for a real ledger.",
    )
    p.set_defaults(func=cmd_tui)


def cmd_tui(ctx: Context, args: argparse.Namespace) -> int:
    ctx.name_ledger(args.dir)
    ledger = ctx.ledger()
    missing = not_a_terminal()
    if missing is not None:
        raise UsageError(
            f"the terminal UI needs a terminal, and {missing} is not one",
            hint="in a script use 'factledger log', 'show', 'history' or 'query'",
        )
    try:
        open_tui(ledger, unsafe_allow_test_keys=args.unsafe_allow_test_keys)
    except DecodeError as exc:  # the projection takes only a log that decodes
        exc.hint = exc.hint or "run 'factledger verify' for every finding in the log"
        raise
    return EXIT_OK


def not_a_terminal() -> str | None:
    """Which of stdin, stdout and stderr is not a terminal (Textual reads keys from
    stdin and draws on stderr; stdout is where a user looks), or None."""
    for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout), ("stderr", sys.stderr)):
        if stream is None or not stream.isatty():
            return name
    return None


def open_tui(ledger: Ledger, *, unsafe_allow_test_keys: bool = False) -> None:
    """Run the terminal UI until the user quits (imports Textual only now).

    The projection is built or caught up first, while the terminal is still a plain
    terminal: a long rebuild says how far it is here, not over the UI.
    """
    from ledger.projections import open_projection
    from tui import run

    sys.stderr.write("opening the ledger (a large one's first opening builds its projection)\n")
    ledger.on_fold = None  # nothing may write to the terminal under the UI,
    with build_progress(sys.stderr) as tell:
        projection = open_projection(ledger, on_build=tell, long_lived=True)
    projection.on_build = None  # not even a rebuild there (after 'r')
    with projection:
        run(ledger, projection=projection, unsafe_allow_test_keys=unsafe_allow_test_keys)


__all__ = ["cmd_tui", "not_a_terminal", "open_tui", "register"]
