"""``factledger log``: the history of the ledger, one line per event, newest last."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ledger.cli.context import Context
from ledger.codec import encode_entry
from ledger.entry import event_id
from ledger.ids import resolve
from ledger.ledger import Ledger

Sub = Any


def register(sub: Sub, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "log",
        parents=parents,
        help="list events, newest last",
        description="One line per event: sequence number, author-stated time, signer, kind, "
        "subject and short event id. --claim limits it to one claim's stream.",
    )
    p.add_argument("--claim", metavar="CLAIM", help="only this claim (id or unique prefix)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_log)


def cmd_log(ctx: Context, args: argparse.Namespace) -> int:
    ledger = ctx.ledger()
    with ledger.reading(on_wait=ctx.waiting):
        return _log(ctx, args, ledger)


def _log(ctx: Context, args: argparse.Namespace, ledger: Ledger) -> int:
    snap = ledger.load()
    names = {fp: key.name for fp, key in snap.state.keys.items()}
    only = resolve(args.claim, snap.state.claims, "claim") if args.claim is not None else None
    for line, entry in ledger.entries():
        if only is not None and entry.subject != only:
            continue
        eid = event_id(entry)
        if args.json:
            doc = {"seq": line.index, "id": eid, "entry": json.loads(encode_entry(entry))}
            ctx.emit_data(json.dumps(doc, ensure_ascii=False, sort_keys=True))
            continue
        who = names.get(entry.author, entry.author[:15])
        mark = " [redacted]" if entry.redacted else ""
        ctx.emit(
            f"{line.index:>6}  {entry.at}  {who:<18.18}  {entry.kind:<22}  "
            f"{entry.subject[:20]:<20}  {eid[:12]}{mark}"
        )
    return 0
