"""RFC 9162 §2.1 Merkle tree math as pure functions over bytes.

Modelled on Go's ``golang.org/x/mod/sumdb/tlog``: no storage, no I/O. Callers pass
leaf hashes (the ledger's event ids *are* RFC 9162 leaf hashes) and get hashes back.

- RFC 9162 §2.1.1: the Merkle Tree Hash (:func:`root`, :func:`subtree_root`), computed
  level by level so a million leaves neither recurse nor take long; and the right
  edge (:class:`RightEdge`, :func:`append_leaf`, :func:`edge_root`) for O(log n) appends.
- RFC 9162 §2.1.3: inclusion proofs (:func:`prove_inclusion`, :func:`check_inclusion`).
- RFC 9162 §2.1.4: consistency proofs (:func:`prove_consistency`, :func:`check_consistency`).

``check_*`` return ``None`` or raise :class:`~ledger.errors.InvalidProof`; they never
return a bool. ``prove_*`` raise :class:`~ledger.errors.UsageError` when asked for a
proof that cannot exist.

Edge-case conventions (see also ``docs/merkle.md``). RFC 9162 defines consistency
proofs only for ``0 < old_size < new_size``; for the rest we follow the upstream
transparency-dev/merkle verifier, with one stricter rule:

1. Consistency *from* size 0 is an error, whatever the proof: it proves nothing.
2. ``old_size == new_size`` is consistent iff the proof is empty and the roots are equal.
3. Every root, leaf hash and proof element must be exactly :data:`HASH_SIZE` bytes,
   including in case 2 (upstream compares roots of any length there; we do not).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ledger.errors import InvalidProof, UsageError

__all__ = [
    "EMPTY_EDGE",
    "EMPTY_ROOT",
    "HASH_SIZE",
    "RightEdge",
    "append_leaf",
    "check_consistency",
    "check_inclusion",
    "edge_from_leaves",
    "edge_root",
    "leaf_hash",
    "node_hash",
    "prove_consistency",
    "prove_inclusion",
    "root",
    "subtree_root",
]

HASH_SIZE = 32
"""Length in bytes of every hash: SHA-256."""

EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""RFC 9162 §2.1.1: MTH({}) = HASH(), the root of the empty tree."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH({d(0)}) = HASH(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: an interior node, HASH(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


# --- Right edge (compact range) --------------------------------------------------


@dataclass(frozen=True, slots=True)
class RightEdge:
    """The roots of the perfect subtrees that make up a tree of ``size`` leaves.

    RFC 9162 §2.1.1 splits a tree at the largest power of two, so a tree of ``size``
    leaves is one perfect subtree per set bit of ``size``; ``hashes`` holds their
    roots, largest (leftmost) first. That is all an append needs: O(log n) state.
    """

    size: int
    hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if self.size < 0:
            raise UsageError(f"a tree cannot have {self.size} leaves")
        if len(self.hashes) != self.size.bit_count():
            raise UsageError(
                f"a right edge of {self.size} leaves has {self.size.bit_count()} hashes,"
                f" not {len(self.hashes)}"
            )
        for h in self.hashes:
            _need_hash_arg(h, "right-edge hash")

    @classmethod
    def empty(cls) -> RightEdge:
        """The right edge of the empty tree."""
        return cls(0, ())


EMPTY_EDGE = RightEdge.empty()


def append_leaf(edge: RightEdge, leaf: bytes) -> RightEdge:
    """The right edge after appending one leaf hash: O(log n) node hashes."""
    _need_hash_arg(leaf, "leaf hash")
    hashes = list(edge.hashes)
    _push(hashes, edge.size, leaf)
    # Valid by construction from a valid edge and leaf: skip re-validation (hot path).
    grown = object.__new__(RightEdge)
    object.__setattr__(grown, "size", edge.size + 1)
    object.__setattr__(grown, "hashes", tuple(hashes))
    return grown


def edge_from_leaves(leaf_hashes: Iterable[bytes]) -> RightEdge:
    """The right edge of the tree over ``leaf_hashes``, in one pass."""
    hashes: list[bytes] = []
    size = 0
    for leaf in leaf_hashes:
        _need_hash_arg(leaf, "leaf hash")
        _push(hashes, size, leaf)
        size += 1
    return RightEdge(size, tuple(hashes))


def edge_root(edge: RightEdge) -> bytes:
    """RFC 9162 §2.1.1: MTH of the tree, folding the perfect subtrees right to left."""
    if edge.size == 0:
        return EMPTY_ROOT
    acc = edge.hashes[-1]
    for h in reversed(edge.hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def _push(hashes: list[bytes], size: int, leaf: bytes) -> None:
    """Append ``leaf`` to a stack of subtree roots for ``size`` leaves, merging equals."""
    acc = leaf
    while size & 1:
        acc = node_hash(hashes.pop(), acc)
        size >>= 1
    hashes.append(acc)


# --- Tree hashes -------------------------------------------------------------------


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1: the Merkle Tree Hash over already-hashed leaves."""
    return _mth(list(leaf_hashes))


def subtree_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """RFC 9162 §2.1.1: MTH(D[start:end])."""
    if not 0 <= start <= end <= len(leaf_hashes):
        raise UsageError(
            f"subtree [{start}, {end}) is not inside a tree of {len(leaf_hashes)} leaves"
        )
    return _mth(list(leaf_hashes[start:end]))


def _mth(level: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH, level by level with no recursion.

    Hashing neighbours in pairs and carrying an odd last node up unchanged builds the
    same tree as the RFC's split at the largest power of two below n: both trees have
    a perfect left subtree of that size. About twice as fast as :func:`append_leaf`.
    """
    if not level:
        return EMPTY_ROOT
    for h in level:
        _need_hash_arg(h, "leaf hash")
    while len(level) > 1:
        odd = level[-1:] if len(level) & 1 else []
        level = [node_hash(a, b) for a, b in zip(level[0::2], level[1::2], strict=False)] + odd
    return level[0]


def _split(n: int) -> int:
    """RFC 9162 §2.1.1: k, the largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


# --- Inclusion proofs --------------------------------------------------------------


def prove_inclusion(index: int, size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1: the inclusion proof PATH(index, D[0:size]).

    ``leaf_hashes`` may be longer than ``size`` (a proof against an older tree).
    """
    if not 0 <= index < size <= len(leaf_hashes):
        raise UsageError(
            f"cannot prove leaf {index} in a tree of {size} leaves"
            f" from {len(leaf_hashes)} known leaves",
            hint="need 0 <= index < size <= number of leaves",
        )
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _split(end - start)
        if index < mid:
            proof.append(subtree_root(leaf_hashes, mid, end))
            end = mid
        else:
            proof.append(subtree_root(leaf_hashes, start, mid))
            start = mid
    proof.reverse()  # PATH lists the sibling nearest the leaf first.
    return proof


def _inclusion_sides(fn: int, sn: int) -> list[bool]:
    """RFC 9162 §2.1.3.2 step 4 without the hashing: for each proof element, in order,
    whether it is a left sibling. Stops where the RFC requires ``sn == 0``."""
    sides: list[bool] = []
    while sn > 0:
        left = bool(fn & 1) or fn == sn
        sides.append(left)
        if left:
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        fn >>= 1
        sn >>= 1
    return sides


def check_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2: verify that ``leaf`` is leaf ``index`` of the tree of ``size``
    leaves whose MTH is ``root``. Returns ``None``; raises :class:`InvalidProof`."""
    if not 0 <= index < size:
        raise InvalidProof(
            f"inclusion proof for leaf {index} in a tree of {size} leaves is impossible",
            hint="a tree of n leaves has leaves 0 to n - 1",
        )
    _need_hash(leaf, "leaf hash")
    _need_hash(root, "root")
    _need_proof_hashes(proof)
    sides = _inclusion_sides(index, size - 1)
    if len(proof) != len(sides):
        raise InvalidProof(
            f"inclusion proof for leaf {index} in a tree of {size} leaves"
            f" must have {len(sides)} hashes, got {len(proof)}",
            hint="the proof was made for another leaf index or tree size",
        )
    r = leaf
    for p, left in zip(proof, sides, strict=True):
        r = node_hash(p, r) if left else node_hash(r, p)
    if r != root:
        raise InvalidProof(
            f"inclusion proof for leaf {index} in a tree of {size} leaves"
            f" leads to root {r.hex()}, not {root.hex()}",
            hint="the leaf, the proof or the root is not the one the log published",
        )


# --- Consistency proofs ------------------------------------------------------------


def prove_consistency(old_size: int, new_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.4.1: the consistency proof PROOF(old_size, D[0:new_size]).

    Equal sizes give the empty proof. Size 0 is refused: it would prove nothing.
    """
    if not 0 < old_size <= new_size <= len(leaf_hashes):
        raise UsageError(
            f"cannot prove a tree of {old_size} leaves consistent with one of {new_size}"
            f" from {len(leaf_hashes)} known leaves",
            hint="need 0 < old size <= new size <= number of leaves",
        )
    proof: list[bytes] = []
    start, end, m = 0, new_size, old_size  # SUBPROOF(m, D[start:end], complete)
    complete = True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(subtree_root(leaf_hashes, start + k, end))
            end = start + k
        else:
            proof.append(subtree_root(leaf_hashes, start, start + k))
            start += k
            m -= k
            complete = False
    if not complete:
        proof.append(subtree_root(leaf_hashes, start, end))
    proof.reverse()
    return proof


def _consistency_sides(fn: int, sn: int) -> list[bool]:
    """RFC 9162 §2.1.4.2 steps 4 and 6 without the hashing: for each path element
    after the first, whether it is a left sibling (it then feeds both roots)."""
    while fn & 1:
        fn >>= 1
        sn >>= 1
    return _inclusion_sides(fn, sn)


def check_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: verify that the tree of ``old_size`` leaves with ``old_root``
    is a prefix of the tree of ``new_size`` leaves with ``new_root``.

    Returns ``None``; raises :class:`InvalidProof`. See the module docstring for sizes
    0 and ``old_size == new_size``.
    """
    if not 0 <= old_size <= new_size:
        raise InvalidProof(
            f"a tree of {old_size} leaves cannot be a prefix of one of {new_size}",
            hint="the old size must not exceed the new size",
        )
    if old_size == 0:
        raise InvalidProof(
            "a consistency proof from the empty tree proves nothing",
            hint="check the new tree's root directly",
        )
    _need_hash(old_root, "old root")
    _need_hash(new_root, "new root")
    _need_proof_hashes(proof)
    if old_size == new_size:
        if proof:
            raise InvalidProof(
                f"consistency proof between equal sizes {old_size} must be empty,"
                f" got {len(proof)} hashes"
            )
        if old_root != new_root:
            raise InvalidProof(
                f"trees of the same size {old_size} have different roots"
                f" {old_root.hex()} and {new_root.hex()}",
                hint="the log forked: it showed two different trees of one size",
            )
        return

    # Step 2: when old_size is a power of two, old_root is the first path element.
    prepend = old_size & (old_size - 1) == 0
    path = [old_root, *proof] if prepend else list(proof)
    sides = _consistency_sides(old_size - 1, new_size - 1)
    want = 1 + len(sides) - prepend
    if len(proof) != want:
        raise InvalidProof(
            f"consistency proof from {old_size} to {new_size} leaves"
            f" must have {want} hashes, got {len(proof)}",
            hint="the proof was made for other tree sizes",
        )
    fr = sr = path[0]
    for c, left in zip(path[1:], sides, strict=True):
        if left:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
        else:
            sr = node_hash(sr, c)
    if fr != old_root:
        raise InvalidProof(
            f"consistency proof from {old_size} to {new_size} leaves"
            f" leads to old root {fr.hex()}, not {old_root.hex()}",
            hint="the old root or the proof is not the one the log published",
        )
    if sr != new_root:
        raise InvalidProof(
            f"consistency proof from {old_size} to {new_size} leaves"
            f" leads to new root {sr.hex()}, not {new_root.hex()}",
            hint="the log is not append-only between these trees, or the proof is wrong",
        )


# --- Argument checks ---------------------------------------------------------------


def _need_hash(h: bytes, what: str) -> None:
    if len(h) != HASH_SIZE:
        raise InvalidProof(f"{what} is {len(h)} bytes, not {HASH_SIZE}")


def _need_hash_arg(h: bytes, what: str) -> None:
    if len(h) != HASH_SIZE:
        raise UsageError(f"{what} is {len(h)} bytes, not {HASH_SIZE}")


def _need_proof_hashes(proof: Sequence[bytes]) -> None:
    for i, p in enumerate(proof):
        if len(p) != HASH_SIZE:
            raise InvalidProof(f"proof hash {i} is {len(p)} bytes, not {HASH_SIZE}")
