"""Gather what a receipt or dossier needs from a ledger on disk (the I/O side of proofs).

The key chain holds the genesis entry and every ``key.granted`` entry: a ledger has
few keys, and this always covers the entries' authors and the checkpoint's signer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger import merkle
from ledger.checkpoint import open_checkpoint
from ledger.codec import encode_entry
from ledger.entry import event_id
from ledger.errors import InconsistentTree, StorageError
from ledger.events import ClaimAssertedBody, SourceAttributedBody
from ledger.ids import resolve
from ledger.ledger import Ledger, Snapshot
from ledger.proofs import ProvenLine, make_dossier, make_receipt, proven


@dataclass
class _Scan:
    leaves: list[bytes] = field(default_factory=list)
    lines: dict[int, bytes] = field(default_factory=dict)
    chain: list[int] = field(default_factory=list)

    def prove(self, index: int) -> ProvenLine:
        proof = merkle.prove_inclusion(index, len(self.leaves), self.leaves)
        return proven(index, self.lines[index], proof)

    def key_chain(self) -> list[ProvenLine]:
        return [self.prove(i) for i in self.chain]


def _scan(ledger: Ledger, subjects: set[str], indexes: set[int]) -> _Scan:
    scan = _Scan()
    for line, entry in ledger.entries():
        scan.leaves.append(bytes.fromhex(event_id(entry)))
        is_key = line.index == 0 or entry.kind == "key.granted"
        if is_key:
            scan.chain.append(line.index)
        if is_key or line.index in indexes or entry.subject in subjects:
            scan.lines[line.index] = encode_entry(entry)
    return scan


def _checkpoint_note(ledger: Ledger, snap: Snapshot) -> str:
    try:
        note = ledger.checkpoint_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"could not read the checkpoint: {exc}") from None
    keys = [k.public for k in snap.state.keys.values()]
    cp = open_checkpoint(note, ledger.config.origin, keys)
    if cp.size != snap.size or cp.root != snap.root():
        raise InconsistentTree(
            f"the checkpoint ({cp.size} entries) does not match the log ({snap.size})",
            hint="a checkpoint a crash left behind the log is re-signed by "
            "'factledger repair --key KEY'; else run 'factledger verify' to find out why"
            if cp.size < snap.size
            else "run 'factledger verify' to find out why",
        )
    return note


def receipt(ledger: Ledger, event: str) -> str:
    """A C2SP tlog-proof receipt for one event (id or unique prefix)."""
    snap = ledger.load(use_cache=False)
    eid = resolve(event, snap.state.events, "event")
    index = snap.state.events[eid].seq
    note = _checkpoint_note(ledger, snap)
    scan = _scan(ledger, set(), {index})
    return make_receipt(scan.prove(index), scan.key_chain(), note)


def dossier(ledger: Ledger, claim: str) -> str:
    """Every entry of a claim and of the sources it cites, proven against one checkpoint."""
    snap = ledger.load(use_cache=False)
    cid = resolve(claim, snap.state.claims, "claim")
    note = _checkpoint_note(ledger, snap)
    sources: set[str] = set()
    for _, entry in ledger.entries():
        if entry.subject != cid:
            continue
        if isinstance(entry.body, SourceAttributedBody):
            sources.add(entry.body.source)
        elif isinstance(entry.body, ClaimAssertedBody) and entry.body.appearance:
            sources.add(entry.body.appearance.source)
    subjects = {cid, *sources}
    scan = _scan(ledger, subjects, set())
    wanted = sorted(info.seq for info in snap.state.events.values() if info.subject in subjects)
    items = [scan.prove(i) for i in wanted]
    return make_dossier(cid, items, scan.key_chain(), note)
