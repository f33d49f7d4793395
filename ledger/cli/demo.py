"""``factledger demo [DIR]``: copy the bundled demo ledger and open it in the terminal UI.

The demo ledger (``fixtures/ledgers/firstpost-2024-al-qaeda-taliban``, built by
``scripts/make_fixtures.py``) is signed with public demo keys, so it is verified here
with ``unsafe_allow_test_keys`` and a warning. On a terminal the command opens the
terminal UI on the copy (which says, in its header, that demo keys are allowed); when
stdin, stdout or stderr is not a terminal (a pipe, a test) it prints a short
walk-through instead: the
verification summary, the log of one claim, and the commands to try next.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any, Final

from ledger.cli import browse
from ledger.cli import report as fmt
from ledger.cli.context import Context
from ledger.cli.options import path
from ledger.cli.tui_cmd import not_a_terminal, open_tui
from ledger.errors import EXIT_FINDINGS, EXIT_OK, StorageError, UsageError
from ledger.events import ClaimAssertedBody, ClaimCorrectedBody, VerdictIssuedBody
from ledger.ledger import CHECKPOINT_NAME, CONFIG_NAME, Ledger, utc_now
from ledger.verify import verify

Sub = Any

DEMO_NAME: Final = "firstpost-2024-al-qaeda-taliban"
OPTIONAL_FILES: Final = (".gitignore", "README.md")


def bundled_ledger() -> Path:
    """Where the demo ledger lives in a source checkout (or an install that ships fixtures)."""
    return Path(__file__).resolve().parents[2] / "fixtures" / "ledgers" / DEMO_NAME


def register(sub: Sub, parents: list[argparse.ArgumentParser]) -> None:
    # ``parents`` (--ledger) is not passed on: the demo makes its own ledger in DIR.
    p = sub.add_parser(
        "demo",
        help="copy the demo ledger into DIR and open it in the terminal UI",
        description="Copy the bundled demo ledger (a fictional team's review of a 2024 "
        "Firstpost opinion piece; demonstration data, not a published fact-check) into DIR "
        "and open it in the terminal UI (factledger tui). Off a terminal (stdin, stdout or "
        "stderr is not one), "
        "verify it and print a short walk-through instead. The demo keys are public, so the "
        "demo is verified with --unsafe-allow-test-keys; never trust them.",
        epilog="exit codes: 0 ok, 1 the copy did not verify, 2 DIR is not empty, "
        "3 the demo ledger is missing or could not be copied",
    )
    p.add_argument(
        "dir",
        metavar="DIR",
        nargs="?",
        type=path,
        help="an empty or new directory (default: a new temporary directory)",
    )
    p.add_argument(
        "--no-open",
        action="store_true",
        help="copy only: print DIR and stop, without opening the terminal UI",
    )
    p.set_defaults(func=cmd_demo)


def copy_demo(dest: Path | None, source: Path | None = None) -> Path:
    """Copy the demo ledger into ``dest`` (new or empty; default a new temporary directory)."""
    source = source if source is not None else bundled_ledger()
    if not (source / CONFIG_NAME).is_file():
        raise StorageError(
            f"the demo ledger is not installed (no {source / CONFIG_NAME})",
            hint="run factledger demo from a source checkout, or build it with "
            "'python scripts/make_fixtures.py'",
        )
    config = Ledger.open(source).config
    if dest is None:
        dest = Path(tempfile.mkdtemp(prefix="factledger-demo-"))
    elif dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} exists and is not a directory", hint="choose a new directory")
    elif dest.is_dir() and any(dest.iterdir()):
        raise UsageError(f"{dest} is not empty", hint="choose a new or empty directory")
    names = [CONFIG_NAME, config.events, CHECKPOINT_NAME]
    names += [name for name in OPTIONAL_FILES if (source / name).is_file()]
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(source / name, dest / name)
    except OSError as exc:
        raise StorageError(
            f"could not copy the demo ledger to {dest}: {exc.strerror or exc}", path=str(dest)
        ) from None
    return dest


def cmd_demo(ctx: Context, args: argparse.Namespace) -> int:
    dest = copy_demo(args.dir)
    if args.no_open:
        ctx.info(f"demo ledger copied to {dest}")
        ctx.emit(str(dest))
        return EXIT_OK
    ctx.info(f"demo ledger copied to {dest}")
    ctx.warn(
        "the demo ledger is signed with public demo keys that anyone can sign with; "
        "it is verified with --unsafe-allow-test-keys. Never trust these keys."
    )
    ledger = Ledger.open(dest)
    if not_a_terminal() is None:
        open_tui(ledger, unsafe_allow_test_keys=True)
        ctx.info(
            f"the demo ledger is in {dest}; reopen it with "
            f"'factledger tui --unsafe-allow-test-keys {shlex.quote(str(dest))}'"
        )
        return EXIT_OK
    where = shlex.quote(str(dest))

    ctx.emit("1. Verify every signature, rule and the checkpoint")
    ctx.emit("")
    ctx.emit(f"$ factledger verify --unsafe-allow-test-keys {where}")
    report = verify(dest, config=ledger.config, now=utc_now(), unsafe_allow_test_keys=True)
    ctx.out.write(fmt.as_text(report))
    if not report.ok:
        return EXIT_FINDINGS

    claim, text = _showcase_claim(ledger)
    ctx.emit("")
    ctx.emit(f"2. The history of one claim: {text}")
    ctx.emit("")
    ctx.emit(f"$ factledger log --ledger {where} --claim {claim}")
    log_args = argparse.Namespace(ledger=str(dest), claim=claim, json=False)
    browse.cmd_log(Context(log_args, out=ctx.out, err=ctx.err), log_args)

    ctx.emit("")
    ctx.emit(f"3. Try next ({report.entries} events in all)")
    ctx.emit("")
    steps = [
        (f"factledger log --ledger {where}", "every event, newest last"),
        (f"factledger show --ledger {where} {claim}", "the claim as it stands"),
        (f"factledger history --ledger {where} {claim}", "every version, who signed each"),
        (f"factledger verify {where}", "refused: the demo keys are public"),
    ]
    width = max(len(command) for command, _ in steps)
    for command, what in steps:
        ctx.emit(f"  {command:<{width}}   {what}")
    return EXIT_OK


def _showcase_claim(ledger: Ledger) -> tuple[str, str]:
    """The first claim whose verdict was revised with a rating change, else the busiest one.

    Returns its id and current text (shortened).
    """
    texts: dict[str, str] = {}
    counts: dict[str, int] = {}
    revised: str | None = None
    for _, entry in ledger.entries():
        body, subject = entry.body, entry.subject
        if isinstance(body, ClaimAssertedBody | ClaimCorrectedBody):
            texts[subject] = body.text
        if subject in texts:
            counts[subject] = counts.get(subject, 0) + 1
        if isinstance(body, VerdictIssuedBody) and body.changes_rating and revised is None:
            revised = subject
    if revised is None:
        if not counts:
            raise UsageError("the demo ledger has no claims")
        revised = max(counts, key=lambda c: counts[c])
    text = texts[revised]
    return revised, (text if len(text) <= 90 else text[:89] + "…")
