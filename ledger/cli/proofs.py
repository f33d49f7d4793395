"""``prove``, ``check-receipt`` and ``merge``: evidence for readers, and combining branches."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ledger.cli.context import Context
from ledger.cli.options import fingerprint, nonempty, path
from ledger.cli.output import print_appended, write_output
from ledger.errors import LedgerError, RuleViolation, StorageError
from ledger.ledger import Ledger

# The commands import their machinery when they run, so that start-up of every
# other command stays short (the benchmark's `claim add` target).

Sub = Any


def register(sub: Sub, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "prove",
        parents=parents,
        help="write a receipt (EVENT) or a dossier (CLAIM)",
        description="For an event id: a C2SP tlog-proof receipt (entry, inclusion proof, signed "
        "checkpoint, key chain). For a claim id: a dossier of every entry of the claim and of "
        "its sources, with proofs against one checkpoint. Both verify offline with "
        "'factledger check-receipt'.",
    )
    p.add_argument("target", metavar="EVENT|CLAIM")
    p.add_argument(
        "-o", "--output", metavar="FILE", type=path, help="write here ('-' or default: stdout)"
    )
    p.set_defaults(func=cmd_prove)

    p = sub.add_parser(
        "check-receipt",
        help="verify a receipt or dossier offline, without the log",
        description="Check the inclusion proofs, entry signatures and the checkpoint "
        "signature against a pinned owner fingerprint. Exit 0 valid, 1 invalid.",
    )
    p.add_argument("file", metavar="FILE", type=nonempty)
    p.add_argument(
        "--trust-root",
        required=True,
        metavar="FP",
        type=fingerprint,
        help="the ledger owner's key fingerprint (SHA256:…)",
    )
    p.add_argument("--json", action="store_true", help="print what was proven as JSON")
    p.add_argument(
        "--unsafe-allow-test-keys",
        action="store_true",
        help="accept a published demo/test key as the trust root (only for the bundled demo)",
    )
    p.set_defaults(func=cmd_check_receipt)

    p = sub.add_parser(
        "merge",
        parents=parents,
        help="append a diverged branch's new entries after ours",
        description="Keep the common prefix, append the other events file's new entries after "
        "ours without re-signing them, and re-sign the checkpoint (with --key). Stops, writing "
        "nothing, when both sides changed the same subject from the same parent (a fork), "
        "unless --skip-conflicts.",
    )
    p.add_argument("other", metavar="OTHER_EVENTS_FILE", type=nonempty)
    p.add_argument(
        "--key",
        metavar="FILE",
        type=path,
        help="key that re-signs the checkpoint (needed when there is something to merge)",
    )
    p.add_argument(
        "--skip-conflicts",
        action="store_true",
        help="append every entry but those on a claim or source both sides changed; list "
        "those on stderr (to re-apply by hand) and exit 1",
    )
    p.add_argument("--json", action="store_true", help="print the appended entries as JSON")
    p.set_defaults(func=cmd_merge, at=None)


def cmd_prove(ctx: Context, args: argparse.Namespace) -> int:
    ledger = ctx.ledger()
    with ledger.reading(on_wait=ctx.waiting):  # the log and the checkpoint as one state
        text = _prove(ledger, args.target)
    if write_output(ctx, ledger, args.output, text):
        ctx.info(f"wrote {args.output}")
    return 0


def _prove(ledger: Ledger, target: str) -> str:
    from ledger import receipts

    if target.startswith("clm_"):
        return receipts.dossier(ledger, target)
    return receipts.receipt(ledger, target)


def cmd_check_receipt(ctx: Context, args: argparse.Namespace) -> int:
    from ledger.proofs import MAX_PROOF_BYTES, check_receipt

    if args.unsafe_allow_test_keys:
        ctx.warn("--unsafe-allow-test-keys: a published demo/test key is accepted as trust root")
    path = Path(args.file)
    try:
        try:
            if args.file == "-":
                data = sys.stdin.buffer.read(MAX_PROOF_BYTES + 1)
            else:
                with path.open("rb") as handle:  # no more than a receipt may hold
                    data = handle.read(MAX_PROOF_BYTES + 1)
        except OSError as exc:
            raise StorageError(f"could not read it: {exc.strerror}", path=str(path)) from None
        checked = check_receipt(
            data, args.trust_root, unsafe_allow_test_keys=args.unsafe_allow_test_keys
        )
    except LedgerError as exc:
        if exc.path is None:
            exc.path = str(path)  # the one error line names the file
        if args.json:  # a script reads the verdict from stdout; the error line stays on stderr
            error = {"rule": exc.rule, "message": exc.message, "hint": exc.hint}
            ctx.emit_json({"ok": False, "file": str(path), "error": error})
        raise
    if args.json:
        ctx.emit_data(  # exact data, like every --json
            json.dumps(
                {
                    "ok": True,
                    "claim": checked.claim,
                    "origin": checked.origin,
                    "checkpoint": {"size": checked.size, "root": checked.root.hex()},
                    "entries": [
                        {
                            "index": i,
                            "kind": e.kind,
                            "subject": e.subject,
                            "at": e.at,
                            "author": e.author,
                            "author_name": checked.signers.get(e.author),
                        }
                        for i, e in checked.entries
                    ],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    for index, entry in checked.entries:
        who = checked.signers.get(entry.author, entry.author)
        ctx.emit(f"{index:>6}  {entry.at}  {who}  {entry.kind}  {entry.subject}")
    of = f" of claim {checked.claim}" if checked.claim else ""
    ctx.info(
        f"valid: {_entries(len(checked.entries))}{of} "
        f"included in {checked.origin} at size {checked.size}, signed by keys its chain "
        "grants (a receipt carries no revocations: compare the checkpoint with the ledger's)"
    )
    return 0


def _entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def cmd_merge(ctx: Context, args: argparse.Namespace) -> int:
    from ledger.merge import merge_file

    other = Path(args.other)
    # a key only if needed
    merged = merge_file(
        ctx.ledger(),
        other,
        lambda: ctx.key("re-signs the checkpoint over what it appends"),
        skip_conflicts=args.skip_conflicts,
        on_wait=ctx.waiting,
    )
    if not merged.appended and not merged.skipped:
        ctx.info("nothing to merge: the other file has no entries ours lacks")
    print_appended(ctx, merged.appended, many=True)
    if not merged.skipped:
        return 0
    for s in merged.skipped:
        ctx.info(
            f"{other}:{s.line}: left out {s.event_id[:12]} ({s.entry.kind} on {s.entry.subject})"
        )
    raise RuleViolation(
        f"merged {_entries(len(merged.appended))} and left out {len(merged.skipped)} on "
        f"{', '.join(merged.forked)}, which both branches changed",
        rule="fork",
        hint="re-apply the changes left out (the lines above) once, with 'factledger "
        "claim ...' or 'source ...'; a later merge of this file lists them again, so drop "
        "the branch once they are in",
    )
