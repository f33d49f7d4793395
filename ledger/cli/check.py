"""``factledger verify``: what CI runs on every push and pull request."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from ledger.findings import Report, Since

from ledger import gitrev
from ledger.cli.context import Context
from ledger.cli.options import fingerprint, hours, path, processes
from ledger.errors import EXIT_FINDINGS, EXIT_OK, LedgerError, StorageError, UsageError, io_error
from ledger.ledger import CHECKPOINT_NAME, CONFIG_NAME, Ledger, LedgerConfig, utc_now
from ledger.text import visible

Sub = Any


def register(sub: Sub, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        parents=parents,
        help="check every entry, signature, rule and the checkpoint",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Stream the log and report every finding: canonical encoding, schema, "
        "signatures, key authority and roles at each position, stream parents, references, "
        "genesis and trust root, times, redactions, torn tail, and the signed checkpoint.\n\n"
        "With --since REF it also proves the log only appended to an earlier checkpoint: "
        "REF is a checkpoint file, or git:REV to read the checkpoint and ledger.toml (trust "
        "root and policy) from that revision, so a pull request cannot loosen its own check.",
        epilog="exit codes: 0 verified, 1 findings, 2 usage error, 3 could not check",
    )
    p.add_argument(
        "dir", metavar="DIR", nargs="?", type=path, help="the ledger (default: as --ledger)"
    )
    p.add_argument("--since", metavar="REF", help="checkpoint file, or git:REV (e.g. git:main)")
    p.add_argument(
        "--trust-root",
        metavar="FP",
        type=fingerprint,
        help="pin the genesis owner's fingerprint (SHA256:…), instead of ledger.toml's",
    )
    p.add_argument(
        "--format", choices=["text", "json", "github", "junit"], default="text", dest="fmt"
    )
    p.add_argument(
        "--max-skew",
        metavar="HOURS",
        type=hours,
        default=24.0,
        help="how far in the future an entry's time may be (default 24)",
    )
    p.add_argument(
        "--workers",
        type=processes,
        metavar="N",
        help="signature-checking processes, 1 to check in this process alone (default: the "
        "number of CPUs)",
    )
    p.add_argument(
        "--unsafe-allow-test-keys",
        action="store_true",
        help="accept a published demo/test key as trust root (only for the bundled demo)",
    )
    p.set_defaults(func=cmd_verify)


def _since(ctx: Context, ledger: Ledger, ref: str) -> Since | None:
    """The earlier state to prove appends against; None for a ledger new at ``git:REV``."""
    from ledger.findings import Since

    if ref.startswith("git:"):
        rev = ref[4:]
        revision = gitrev.Revision(ledger.root, rev)
        place = revision.locate(ledger.root, ledger.config.origin)
        if place is None:
            # The change creates the ledger (the pull request, or the first commit, that
            # adds it): there is nothing to append to, so all of it is checked.
            ctx.warn(f"the ledger is new at {rev}: nothing to append to; verifying all of it")
            return None
        if place not in revision.places(ledger.root):
            ctx.warn(f"the ledger was in {place}/ at {rev}: checking appends against that")
        note = revision.show(gitrev.join(place, CHECKPOINT_NAME))
        config_bytes = revision.show(gitrev.join(place, CONFIG_NAME))
        if note is None:
            raise StorageError(
                f"there is no checkpoint at {rev} for this ledger, though its ledger.toml is there",
                hint="restore the checkpoint on that revision, or verify without --since",
            )
        config = None
        if config_bytes is not None:
            config = LedgerConfig.parse(
                config_bytes.decode("utf-8", "replace"), path=f"{rev}:{CONFIG_NAME}"
            )
        return Since(note, config, label=f"the checkpoint at {rev}")
    path = Path(ref)
    try:
        note = path.read_bytes()
    except OSError as exc:
        raise io_error("read it", path, exc) from None
    # Relative to the ledger, as every finding's file, both resolved as the text
    # report's base is (through a symlinked ledger, `..` then folds in the right place).
    where = os.path.relpath(path.resolve(), ledger.root.resolve())
    return Since(note, None, label=f"checkpoint {path}", file=where)


def cmd_verify(ctx: Context, args: argparse.Namespace) -> int:
    try:
        return _verify(ctx, args)
    except LedgerError as exc:
        # A script or a CI system reads stdout in the format it asked for, also when the
        # check could not run; the one error line stays on stderr.
        if args.fmt != "text":
            from ledger.cli import report

            refusal = {
                "json": report.refusal_json,
                "github": report.refusal_github,
                "junit": report.refusal_junit,
            }[args.fmt]
            ctx.out.write(refusal(exc))
        raise


def _verify(ctx: Context, args: argparse.Namespace) -> int:
    ctx.name_ledger(args.dir)
    ledger = ctx.ledger()
    if args.since is not None and not args.since.strip():
        raise UsageError(
            "--since is empty, so there is no earlier checkpoint to prove appends against",
            hint="pass a checkpoint file or git:REV (an unset CI variable gives an empty value)",
        )
    since = _since(ctx, ledger, args.since) if args.since else None
    if args.unsafe_allow_test_keys:
        ctx.warn("--unsafe-allow-test-keys: a published demo/test key is accepted as trust root")
    progress = _progress(ctx) if sys.stderr.isatty() and args.fmt == "text" else None
    report = _run(ledger, args, since, progress, ctx.waiting)
    if progress is not None:
        ctx.err.write("\r\x1b[K")
    return _print(ctx, ledger, args, report)


def _run(
    ledger: Ledger,
    args: argparse.Namespace,
    since: Since | None,
    progress: Any,
    on_wait: Callable[[], None],
) -> Report:
    from ledger.verify import verify

    return verify(
        ledger.root,
        config=ledger.config,
        trust_root=args.trust_root,
        since=since,
        now=utc_now(),
        skew=timedelta(hours=args.max_skew),
        workers=args.workers,
        progress=progress,
        unsafe_allow_test_keys=args.unsafe_allow_test_keys,
        on_wait=on_wait,
    )


def _print(ctx: Context, ledger: Ledger, args: argparse.Namespace, report: Report) -> int:
    from ledger.cli import report as fmt

    base = _relative(ledger.root)
    if args.fmt == "json":
        ctx.out.write(fmt.as_json(report))
    elif args.fmt == "github":
        ctx.out.write(visible(fmt.as_github(report, base=base)))
    elif args.fmt == "junit":
        ctx.out.write(fmt.as_junit(report, base=base))
    else:
        ctx.out.write(fmt.as_text(report, base=base, colour=ctx.out.isatty()))
    return EXIT_OK if report.ok else EXIT_FINDINGS


def _relative(root: Path) -> str:
    try:
        return root.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(root)


def _progress(ctx: Context) -> Any:
    def report(done: int, total: int) -> None:
        if total < 8 << 20:
            return
        ctx.err.write(f"\rverifying… {100 * done // max(total, 1):3d}% of {total >> 20} MiB")
        ctx.err.flush()

    return report
