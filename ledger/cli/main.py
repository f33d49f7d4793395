"""``factledger``: one console script, one verb per subcommand (DESIGN §13)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from ledger import __version__
from ledger.cli import admin, browse, check, demo, proofs, read, write
from ledger.cli.context import Context
from ledger.cli.options import common_parser
from ledger.errors import EXIT_IO, EXIT_USAGE, LedgerError

EXIT_CODES = """\
exit codes:
  0  ok (for verify: the ledger verified)
  1  verification failed: the ledger is not trustworthy as it stands
  2  usage error: a bad option, id or value
  3  could not check: a file could not be read, written or locked

environment:
  FACTLEDGER_DIR         the ledger directory when --ledger is not given
  FACTLEDGER_KEY         the signing key file when --key is not given
  FACTLEDGER_PASSPHRASE  the passphrase of an encrypted key
"""


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line, like every other error, with where to look for help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message}; see '{self.prog} --help'\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="factledger",
        description="A tamper-evident, event-sourced audit ledger for fact-checkers: every "
        "claim, source, correction and verdict is a signed, append-only entry.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"factledger {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parents = [common_parser()]
    modules = [admin, write, browse, read, check, proofs, demo]
    for module in modules:
        module.register(sub, parents)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = Context(args)
    try:
        code: int = args.func(ctx, args)
    except LedgerError as exc:
        ctx.err.write(f"error: {exc.one_line()}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        ctx.err.write("interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `factledger log | head`): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        ctx.err.write(f"error: {exc.filename or ''}: {exc.strerror or exc}\n")
        return EXIT_IO
    except UnicodeError as exc:
        ctx.err.write(f"error: text that is not valid UTF-8: {exc}\n")
        return EXIT_USAGE
    return code


if __name__ == "__main__":
    sys.exit(main())
