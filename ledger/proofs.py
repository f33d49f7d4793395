"""Receipts and dossiers: offline proof that entries are in the ledger (DESIGN §5).

A **receipt** for one event is a C2SP ``tlog-proof@v1`` file
(https://c2sp.org/tlog-proof): the entry's index, its RFC 9162 inclusion proof
and the signed checkpoint, verbatim. Its ``extra`` line carries, base64-encoded,
a canonical JSON *context*: the entry's line and the **key chain** — the genesis
entry and the ``key.granted`` entries, each with its own inclusion proof, that
connect the pinned owner key to the entry's author and the checkpoint's signer.
Nothing in ``extra`` is trusted: every line in it is checked against the root.

A **dossier** covers a claim: every entry of its stream and of the sources it
cites, with proofs against one checkpoint, plus the key chain, as canonical JSON.

:func:`check_receipt` verifies either offline against a pinned owner fingerprint.
It proves inclusion and signatures, not that a key was still authorised at the
entry's position: that needs the whole log (``factledger verify``).
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import msgspec

from ledger import merkle
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.codec import b64decode_canonical, canonical, decode_entry
from ledger.entry import check_signature, event_id
from ledger.errors import BadKey, DecodeError, InvalidProof, RuleViolation
from ledger.events import (
    ClaimAssertedBody,
    Entry,
    KeyGrantedBody,
    LedgerCreatedBody,
    SourceAttributedBody,
)
from ledger.keys import PublicKey, parse_public_key
from ledger.rules import ROLE_KINDS
from ledger.trust import is_test_key

TLOG_PROOF_HEADER: Final = "c2sp.org/tlog-proof@v1"
DOSSIER_FORMAT: Final = "factledger-dossier/v1"
MAX_PROOF_BYTES: Final = 64 << 20
_CANONICAL_INDEX: Final = re.compile(r"0|[1-9][0-9]{0,18}")
"""ASCII decimal without leading zeros (``str.isdigit`` admits other scripts' digits)."""


class ProvenLine(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One entry line, its index in the log and its inclusion proof (base64 hashes)."""

    index: int
    line: str
    proof: list[str]


class ReceiptContext(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The ``extra`` of a receipt: the entry and the key chain."""

    entry: str
    keys: list[ProvenLine]


class Dossier(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    format: str
    claim: str
    checkpoint: str
    entries: list[ProvenLine]
    keys: list[ProvenLine]


@dataclass(frozen=True)
class Checked:
    """What a verified receipt or dossier proves."""

    origin: str
    size: int
    root: bytes
    entries: tuple[tuple[int, Entry], ...]
    signers: dict[str, str]
    claim: str | None = None
    """The claim of a dossier (None for a receipt of one entry)."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str, what: str) -> bytes:
    raw = b64decode_canonical(text)
    if raw is None:
        raise DecodeError(f"{what} is not canonical standard base64", rule="receipt")
    return raw


# --- writing (pure) -----------------------------------------------------------------


def proven(index: int, line: bytes, proof: Sequence[bytes]) -> ProvenLine:
    return ProvenLine(index=index, line=line.decode(), proof=[_b64(h) for h in proof])


def make_receipt(entry: ProvenLine, keys: Sequence[ProvenLine], checkpoint_note: str) -> str:
    """A C2SP tlog-proof for ``entry`` whose ``extra`` carries the entry and key chain."""
    context = ReceiptContext(entry=entry.line, keys=list(keys))
    lines = [TLOG_PROOF_HEADER, f"extra {_b64(canonical(context))}", f"index {entry.index}"]
    lines.extend(entry.proof)
    return "\n".join(lines) + "\n\n" + checkpoint_note


def make_dossier(
    claim: str, entries: Sequence[ProvenLine], keys: Sequence[ProvenLine], checkpoint_note: str
) -> str:
    doc = Dossier(
        format=DOSSIER_FORMAT,
        claim=claim,
        checkpoint=checkpoint_note,
        entries=list(entries),
        keys=list(keys),
    )
    return canonical(doc).decode() + "\n"


# --- checking (pure) ----------------------------------------------------------------


def check_receipt(
    text: str | bytes, trust_root: str, *, unsafe_allow_test_keys: bool = False
) -> Checked:
    """Verify a receipt or dossier against the pinned owner fingerprint; raise on failure.

    A published demo or test key is refused as the trust root (anyone can sign a
    receipt with it) unless ``unsafe_allow_test_keys``, as in :func:`ledger.verify.verify`.
    """
    if is_test_key(trust_root) and not unsafe_allow_test_keys:
        raise RuleViolation(
            f"the trust root {trust_root} is a published demo/test key, which anyone can sign "
            "with, so a receipt under it proves nothing",
            rule="trust-root",
            hint="pin the ledger owner's real key; for the bundled demo pass "
            "--unsafe-allow-test-keys",
        )
    data = text.encode() if isinstance(text, str) else text
    if len(data) > MAX_PROOF_BYTES:
        raise DecodeError("the file is too large to be a receipt", rule="receipt")
    if data.startswith(TLOG_PROOF_HEADER.encode() + b"\n"):
        checkpoint_note, items, keys = _parse_tlog_proof(data)
    else:
        try:
            dossier = msgspec.json.decode(data, type=Dossier)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
            raise DecodeError(f"neither a receipt nor a dossier: {exc}", rule="receipt") from None
        if dossier.format != DOSSIER_FORMAT:
            raise DecodeError(f"unknown dossier format {dossier.format!r}", rule="receipt")
        checked = _check(dossier.checkpoint, dossier.entries, dossier.keys, trust_root)
        _check_dossier(dossier.claim, checked)
        return dataclasses.replace(checked, claim=dossier.claim)
    return _check(checkpoint_note, items, keys, trust_root)


def _check_dossier(claim: str, checked: Checked) -> None:
    """A dossier holds its claim's stream, unbroken from its assertion, and only the
    streams of every source that claim cites (each from its registration), each entry
    once.

    Inclusion proofs cannot show that no entry after the last one listed was left out;
    this shows that none was left out before it, and that nothing foreign was put in.
    """
    entries = sorted(checked.entries, key=lambda item: item[0])
    if len({index for index, _ in entries}) != len(entries):
        raise RuleViolation("the dossier lists an entry twice", rule="receipt")
    cited: set[str] = set()
    heads: dict[str, str | None] = {}
    for index, entry in entries:
        if entry.subject == claim:
            body = entry.body
            if isinstance(body, SourceAttributedBody):
                cited.add(body.source)
            elif isinstance(body, ClaimAssertedBody) and body.appearance:
                cited.add(body.appearance.source)
        if entry.parent != heads.get(entry.subject):
            raise RuleViolation(
                f"entry {index} of {entry.subject} does not follow the dossier's previous entry "
                "of that stream: the dossier leaves entries out",
                rule="receipt",
            )
        heads[entry.subject] = event_id(entry)
    if claim not in heads:
        raise RuleViolation(f"the dossier holds no entry of its claim {claim}", rule="receipt")
    left_out = sorted(cited - set(heads))
    if left_out:
        raise RuleViolation(
            f"the dossier leaves out {left_out[0]}, which its claim {claim} cites",
            rule="receipt",
        )
    foreign = sorted(set(heads) - cited - {claim})
    if foreign:
        raise RuleViolation(
            f"the dossier holds entries of {foreign[0]}, which its claim {claim} does not cite",
            rule="receipt",
        )


def _parse_tlog_proof(data: bytes) -> tuple[str, list[ProvenLine], list[ProvenLine]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("the receipt is not UTF-8", rule="receipt") from None
    head, sep, checkpoint_note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or len(lines) < 3 or not lines[1].startswith("extra "):
        raise DecodeError("malformed receipt: header, extra and index lines", rule="receipt")
    index_text = lines[2].removeprefix("index ")
    if not lines[2].startswith("index ") or not _CANONICAL_INDEX.fullmatch(index_text):
        raise DecodeError("malformed receipt: the index is not a canonical number", rule="receipt")
    try:
        context = msgspec.json.decode(_unb64(lines[1][6:], "extra"), type=ReceiptContext)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise DecodeError(f"malformed receipt context: {exc}", rule="receipt") from None
    entry = ProvenLine(index=int(index_text), line=context.entry, proof=lines[3:])
    return checkpoint_note, [entry], context.keys


def _check(
    note: str, items: Sequence[ProvenLine], keys: Sequence[ProvenLine], trust_root: str
) -> Checked:
    chain = sorted(keys, key=lambda k: k.index)
    if not chain or chain[0].index != 0:
        raise RuleViolation("the key chain does not start at the genesis entry", rule="receipt")
    decoded = [(k, decode_entry(k.line.encode())) for k in chain]
    genesis = decoded[0][1]
    if not isinstance(genesis.body, LedgerCreatedBody):
        raise RuleViolation("entry 0 of the chain is not ledger.created", rule="receipt")
    owner = _public(genesis.body.owner)
    if owner.fingerprint != trust_root:
        raise RuleViolation(
            f"the ledger's owner is {owner.fingerprint}, not the pinned {trust_root}",
            rule="trust-root",
            hint="check the fingerprint you pinned; this receipt is for another ledger",
        )
    signers = {owner.fingerprint: genesis.body.owner_name}
    known = {owner.fingerprint: owner}
    # Each key's grants in log order, (position, role): a role is judged as of an entry's
    # position, as verify judges it (a later grant may change it).
    roles: dict[str, list[tuple[int, str]]] = {owner.fingerprint: [(0, "admin")]}
    check_signature(genesis, owner)
    for proven_line, entry in decoded[1:]:
        body = entry.body
        if not isinstance(body, KeyGrantedBody):
            raise RuleViolation(
                f"a key chain entry is {entry.kind}, not key.granted", rule="receipt"
            )
        granter = known.get(entry.author)
        if granter is None or _role_at(roles, entry.author, proven_line.index) != "admin":
            raise RuleViolation(
                "a key in the chain is not granted by the owner or an admin", rule="receipt"
            )
        check_signature(entry, granter)
        key = _public(body.key)
        known[key.fingerprint] = key
        roles.setdefault(key.fingerprint, []).append((proven_line.index, body.role))
        signers[key.fingerprint] = body.name
    origin = genesis.body.origin
    cp: Checkpoint = open_checkpoint(note, origin, list(known.values()))
    for proven_line, entry in decoded:
        _check_inclusion(proven_line, entry, cp)
    out: list[tuple[int, Entry]] = []
    for item in items:
        entry = decode_entry(item.line.encode())
        author = known.get(entry.author)
        role = _role_at(roles, entry.author, item.index)
        if author is None or role is None:
            raise RuleViolation(
                f"entry {item.index} is signed by {entry.author}, not in the key chain before it",
                rule="receipt",
            )
        genesis_item = item.index == 0 and entry.author == owner.fingerprint
        if entry.kind not in ROLE_KINDS[role] and not (
            genesis_item and entry.kind == "ledger.created"
        ):
            raise RuleViolation(
                f"entry {item.index} is a {entry.kind}, which its author's role "
                f"({role}) may not sign",
                rule="role",
            )
        check_signature(entry, author)
        _check_inclusion(item, entry, cp)
        out.append((item.index, entry))
    return Checked(origin, cp.size, cp.root, tuple(out), signers)


def _role_at(roles: dict[str, list[tuple[int, str]]], author: str, index: int) -> str | None:
    """The role of ``author``'s last grant before position ``index`` (None: none yet)."""
    before = [role for at, role in roles.get(author, []) if at < index or at == index == 0]
    return before[-1] if before else None


def _public(line: str) -> PublicKey:
    try:
        return parse_public_key(line)
    except BadKey as exc:
        raise RuleViolation(
            f"a key in the chain is not admissible: {exc.message}", rule="receipt"
        ) from None


def _check_inclusion(item: ProvenLine, entry: Entry, cp: Checkpoint) -> None:
    proof = [_unb64(h, "a proof hash") for h in item.proof]
    leaf = bytes.fromhex(event_id(entry))
    try:
        merkle.check_inclusion(item.index, cp.size, leaf, proof, cp.root)
    except InvalidProof as exc:
        raise InvalidProof(
            f"entry {item.index} is not in the checkpointed tree: {exc.message}",
            rule="inclusion",
            hint="the receipt was altered, or made against another checkpoint",
        ) from None
