"""``factledger``: one console script, one verb per subcommand (DESIGN §13)."""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from ledger import __version__
from ledger.cli.context import Context
from ledger.cli.options import Parser, common_parser
from ledger.errors import EXIT_IO, EXIT_USAGE, LedgerError, UsageError
from ledger.text import holds_private_key, message

EXIT_CODES = """\
exit codes:
  0  ok (for verify: the ledger verified)
  1  verification failed, or the rules refused an entry: not trustworthy as it stands
  2  usage error: a bad option, id or value
  3  could not check: a file could not be read, written or locked, or a git revision is missing

environment:
  FACTLEDGER_DIR         the ledger directory when --ledger is not given
  FACTLEDGER_KEY         the signing key file when --key is not given
  FACTLEDGER_PASSPHRASE  the passphrase of an encrypted key
"""


class _Parser(Parser):
    """Usage errors are one line, like every other error, with where to look for help."""

    def error(self, text: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message(text)}; see '{self.prog} --help'\n")


GROUPS: dict[str, str] = {
    "init": "admin",
    "key": "admin",
    "redact": "admin",
    "repair": "admin",
    "source": "write",
    "claim": "write",
    "log": "browse",
    "show": "read",
    "history": "read",
    "query": "read",
    "export": "read",
    "verify": "check",
    "prove": "proofs",
    "check-receipt": "proofs",
    "merge": "proofs",
    "demo": "demo",
    "tui": "tui_cmd",
}
"""Which module of ``ledger.cli`` defines each command, in help order."""


def build_parser(command: str | None = None, verb: str | None = None) -> argparse.ArgumentParser:
    """The parser for every command, or only for ``command``'s group when it is known.

    Registering one group imports only what that command needs, which keeps the
    start-up of a single write verb short; ``--help`` and unknown words get them all.
    A group that offers ``register_only`` registers just ``command verb`` when it
    knows that verb (``command --help`` and unknown verbs still list them all).
    """
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
    wanted = [GROUPS[command]] if command in GROUPS else list(dict.fromkeys(GROUPS.values()))
    for name in wanted:
        module = importlib.import_module(f"ledger.cli.{name}")
        only = getattr(module, "register_only", None)
        if command is None or verb is None or only is None or not only(sub, parents, command, verb):
            module.register(sub, parents)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except KeyboardInterrupt:  # while the parser is built, before a command runs
        sys.stderr.write("interrupted\n")
        return 130


def _run(argv: Sequence[str] | None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(*words[:2])
    if argv is None:
        # Run as the program: what is loaded by now lives until the process ends, so
        # the cyclic collector need not scan it again, neither while the command runs
        # nor at exit, where those scans would take longer than a write's own work.
        gc.freeze()
    args = parser.parse_args(words)
    ctx = Context(args)
    try:
        refuse_private_keys(args)
        code: int = args.func(ctx, args)
        ctx.out.flush()  # here, where a full disk is one error line, not at exit
    except LedgerError as exc:
        ctx.err.write(f"error: {message(exc.one_line())}\n")
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
        where = f"{exc.filename}: " if exc.filename else ""
        ctx.err.write(f"error: {message(f'{where}{exc.strerror or exc}')}\n")
        return EXIT_IO
    except UnicodeError as exc:
        ctx.err.write(f"error: text that is not valid UTF-8: {message(str(exc))}\n")
        return EXIT_USAGE
    except Exception as exc:
        if interrupted(exc):
            ctx.err.write("interrupted\n")
            return 130
        if type(exc).__module__ not in ("duckdb", "_duckdb"):
            raise  # a bug: its traceback is what a report needs
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        ctx.err.write(
            f"error: the projections' database failed: {message(first)}; "
            "run the command again, and if it fails again delete the ledger's .cache "
            "directory (it is rebuilt from the log)\n"
        )
        return EXIT_IO
    return code


def refuse_private_keys(args: argparse.Namespace) -> None:
    """Refuse any argument that holds a private key (``"$(cat KEY)"`` where a name or
    text belongs), before the command runs: a claim, note or reason would publish it in
    the ledger for good, and an error quoting the value would print it."""
    for name, value in vars(args).items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str | Path) and holds_private_key(str(item)):
                raise UsageError(
                    f"the value given for {name.replace('_', '-')} holds a private key; "
                    "nothing was done",
                    hint="keep a private key in a file (mode 0600) and give that file's "
                    "name; 'factledger key pub FILE' prints its public key",
                )


def interrupted(exc: BaseException) -> bool:
    """Ctrl-C as DuckDB raises it when it arrives during a statement or a commit."""
    name = type(exc).__name__
    return name == "InterruptException" or (
        isinstance(exc, RuntimeError) and str(exc) == "Query interrupted"
    )


if __name__ == "__main__":
    sys.exit(main())
