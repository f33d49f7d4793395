"""RFC 9162 §2.1 Merkle tree math: known answers, upstream probes, exhaustive small
trees and a property test against a naive recursive recomputation."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import InvalidProof, UsageError

VECTORS = Path(__file__).parents[2] / "fixtures" / "vectors" / "transparency-dev-merkle"
TESTDATA = VECTORS / "testdata"
TREE = json.loads((VECTORS / "rfc6962-tree.json").read_text())
TREE_LEAVES = [bytes.fromhex(h) for h in TREE["leaf_hashes"]]
TREE_ROOTS = [bytes.fromhex(h) for h in TREE["roots"]]

# Probes where we deliberately differ from upstream (see docs/merkle.md).
DEVIATIONS = {
    # Upstream compares equal-size roots of any length; we insist on 32-byte roots.
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json": True,
}


def probe_files(kind: str) -> list[Any]:
    files = sorted((TESTDATA / kind).glob("**/*.json"))
    return [pytest.param(f, id=f.relative_to(TESTDATA).as_posix()) for f in files]


def b64(s: str) -> bytes:
    return base64.b64decode(s, validate=True)


def flip(h: bytes, bit: int) -> bytes:
    out = bytearray(h)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def make_leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


# --- A naive, recursive RFC 9162 §2.1 written independently of the module ---------


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(d: list[bytes]) -> bytes:
    if not d:
        return sha(b"")
    if len(d) == 1:
        return d[0]
    k = split(len(d))
    return sha(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:]))


def naive_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = split(len(d))
    if m < k:
        return [*naive_path(m, d[:k]), naive_mth(d[k:])]
    return [*naive_path(m - k, d[k:]), naive_mth(d[:k])]


def naive_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [naive_mth(d)]
    k = split(len(d))
    if m <= k:
        return [*naive_subproof(m, d[:k], b), naive_mth(d[k:])]
    return [*naive_subproof(m - k, d[k:], False), naive_mth(d[:k])]


# --- Known answers -------------------------------------------------------------------


def test_empty_root_is_sha256_of_nothing() -> None:
    empty = merkle.EMPTY_ROOT
    assert empty == hashlib.sha256(b"").digest() == TREE_ROOTS[0]
    assert len(empty) == merkle.HASH_SIZE == 32


@pytest.mark.parametrize("answer", TREE["hasher_known_answers"], ids=lambda a: a["desc"])
def test_hasher_matches_known_answer(answer: dict[str, str]) -> None:
    want = bytes.fromhex(answer["value"])
    if "left_ascii" in answer:
        got = merkle.node_hash(answer["left_ascii"].encode(), answer["right_ascii"].encode())
    elif "input_ascii" in answer:
        got = merkle.leaf_hash(answer["input_ascii"].encode())
    elif "input_hex" in answer:
        got = merkle.leaf_hash(bytes.fromhex(answer["input_hex"]))
    else:
        got = merkle.root([])
    assert got == want


def test_leaf_hash_matches_known_answers() -> None:
    inputs = [bytes.fromhex(x) for x in TREE["leaf_inputs"]]
    assert [merkle.leaf_hash(x) for x in inputs] == TREE_LEAVES


@pytest.mark.parametrize("size", range(9))
def test_root_matches_known_answer_at_size(size: int) -> None:
    assert merkle.root(TREE_LEAVES[:size]) == TREE_ROOTS[size]
    assert merkle.edge_root(merkle.edge_from_leaves(TREE_LEAVES[:size])) == TREE_ROOTS[size]


def test_subtree_root_is_root_of_the_slice() -> None:
    leaves = make_leaves(20)
    for start in range(21):
        for end in range(start, 21):
            assert merkle.subtree_root(leaves, start, end) == naive_mth(leaves[start:end])


@pytest.mark.parametrize(("start", "end"), [(-1, 2), (3, 2), (0, 21)])
def test_subtree_root_rejects_range_outside_the_tree(start: int, end: int) -> None:
    with pytest.raises(UsageError, match="not inside"):
        merkle.subtree_root(make_leaves(20), start, end)


def test_root_rejects_leaf_that_is_not_a_hash() -> None:
    with pytest.raises(UsageError, match="31 bytes"):
        merkle.root([bytes(32), bytes(31)])


def test_root_of_a_million_leaves_does_not_recurse() -> None:
    # Identical leaves: a perfect subtree of 2^k leaves has a closed-form root.
    leaf = merkle.leaf_hash(b"x")
    perfect = [leaf]
    for _ in range(20):
        perfect.append(sha(b"\x01" + perfect[-1] + perfect[-1]))
    n = 1_000_000
    parts = [perfect[k] for k in reversed(range(n.bit_length())) if n >> k & 1]
    want = parts[-1]
    for part in reversed(parts[:-1]):
        want = sha(b"\x01" + part + want)
    assert merkle.root([leaf] * n) == want


# --- Right edge ----------------------------------------------------------------------


def test_appending_leaf_by_leaf_gives_root_at_every_size() -> None:
    leaves = make_leaves(130)
    edge = merkle.EMPTY_EDGE
    assert merkle.edge_root(edge) == merkle.EMPTY_ROOT
    for n, leaf in enumerate(leaves, start=1):
        edge = merkle.append_leaf(edge, leaf)
        assert edge.size == n
        assert len(edge.hashes) == n.bit_count()
        assert merkle.edge_root(edge) == merkle.root(leaves[:n]) == naive_mth(leaves[:n])
        assert merkle.edge_from_leaves(leaves[:n]) == edge


def test_right_edge_hashes_are_perfect_subtree_roots_largest_first() -> None:
    leaves = make_leaves(13)  # 13 = 8 + 4 + 1
    edge = merkle.edge_from_leaves(leaves)
    assert edge.hashes == (naive_mth(leaves[:8]), naive_mth(leaves[8:12]), leaves[12])


def test_append_leaf_leaves_the_old_edge_unchanged() -> None:
    one = merkle.append_leaf(merkle.RightEdge.empty(), make_leaves(1)[0])
    merkle.append_leaf(one, make_leaves(2)[1])
    assert one.size == 1
    assert one == merkle.edge_from_leaves(make_leaves(1))


@pytest.mark.parametrize(
    ("size", "hashes", "match"),
    [(-1, (), "cannot have"), (3, (bytes(32),), "has 2 hashes"), (1, (bytes(31),), "31 bytes")],
)
def test_right_edge_rejects_impossible_shape(
    size: int, hashes: tuple[bytes, ...], match: str
) -> None:
    with pytest.raises(UsageError, match=match):
        merkle.RightEdge(size, hashes)


def test_append_leaf_rejects_leaf_that_is_not_a_hash() -> None:
    with pytest.raises(UsageError, match="33 bytes"):
        merkle.append_leaf(merkle.EMPTY_EDGE, bytes(33))


# --- Upstream probes (transparency-dev/merkle) --------------------------------------


def expect_error(path: Path, want_err: bool) -> bool:
    return DEVIATIONS.get(path.relative_to(TESTDATA).as_posix(), want_err)


@pytest.mark.parametrize("path", probe_files("inclusion"))
def test_check_inclusion_agrees_with_upstream_probe(path: Path) -> None:
    p = json.loads(path.read_text())
    proof = [b64(x) for x in p["proof"] or []]
    args = (p["leafIdx"], p["treeSize"], b64(p["leafHash"]), proof, b64(p["root"]))
    if expect_error(path, p["wantErr"]):
        with pytest.raises(InvalidProof):
            merkle.check_inclusion(*args)
    else:
        merkle.check_inclusion(*args)


@pytest.mark.parametrize("path", probe_files("consistency"))
def test_check_consistency_agrees_with_upstream_probe(path: Path) -> None:
    p = json.loads(path.read_text())
    proof = [b64(x) for x in p["proof"] or []]
    args = (p["size1"], p["size2"], b64(p["root1"]), b64(p["root2"]), proof)
    if expect_error(path, p["wantErr"]):
        with pytest.raises(InvalidProof):
            merkle.check_consistency(*args)
    else:
        merkle.check_consistency(*args)


def happy_paths(kind: str) -> list[Any]:
    return [p for p in probe_files(kind) if p.values[0].name == "happy-path.json"]


@pytest.mark.parametrize("path", happy_paths("inclusion"))
def test_prove_inclusion_reproduces_upstream_happy_path(path: Path) -> None:
    p = json.loads(path.read_text())
    index, size = p["leafIdx"], p["treeSize"]
    assert b64(p["root"]) == TREE_ROOTS[size]
    assert b64(p["leafHash"]) == TREE_LEAVES[index]
    assert merkle.prove_inclusion(index, size, TREE_LEAVES) == [b64(x) for x in p["proof"] or []]


@pytest.mark.parametrize("path", happy_paths("consistency"))
def test_prove_consistency_reproduces_upstream_happy_path(path: Path) -> None:
    p = json.loads(path.read_text())
    old, new = p["size1"], p["size2"]
    assert (b64(p["root1"]), b64(p["root2"])) == (TREE_ROOTS[old], TREE_ROOTS[new])
    proof = [b64(x) for x in p["proof"] or []]
    assert merkle.prove_consistency(old, new, TREE_LEAVES) == proof


# --- Every proof in every tree of 1..64 leaves ----------------------------------------

LEAVES_64 = make_leaves(64)
ROOTS_64 = [merkle.root(LEAVES_64[:n]) for n in range(65)]


@pytest.mark.parametrize("size", range(1, 65))
def test_every_inclusion_proof_verifies_and_rejects_a_flipped_bit(size: int) -> None:
    for index in range(size):
        proof = merkle.prove_inclusion(index, size, LEAVES_64)
        assert proof == naive_path(index, LEAVES_64[:size])
        merkle.check_inclusion(index, size, LEAVES_64[index], proof, ROOTS_64[size])
        for j, element in enumerate(proof):
            bad = [*proof[:j], flip(element, (7 * index + 31 * j) % 256), *proof[j + 1 :]]
            with pytest.raises(InvalidProof, match="leads to root"):
                merkle.check_inclusion(index, size, LEAVES_64[index], bad, ROOTS_64[size])


@pytest.mark.parametrize("size", range(1, 65))
def test_every_consistency_proof_verifies_and_rejects_a_flipped_bit(size: int) -> None:
    for old in range(1, size + 1):
        proof = merkle.prove_consistency(old, size, LEAVES_64)
        assert proof == naive_subproof(old, LEAVES_64[:size], True)
        merkle.check_consistency(old, size, ROOTS_64[old], ROOTS_64[size], proof)
        for j, element in enumerate(proof):
            bad = [*proof[:j], flip(element, (7 * old + 31 * j) % 256), *proof[j + 1 :]]
            with pytest.raises(InvalidProof, match="leads to"):
                merkle.check_consistency(old, size, ROOTS_64[old], ROOTS_64[size], bad)


def test_check_inclusion_rejects_flipped_bit_in_proof() -> None:
    size = 13
    for index in range(size):
        proof = merkle.prove_inclusion(index, size, LEAVES_64)
        for j in range(len(proof)):
            for bit in range(256):
                bad = [*proof[:j], flip(proof[j], bit), *proof[j + 1 :]]
                with pytest.raises(InvalidProof):
                    merkle.check_inclusion(index, size, LEAVES_64[index], bad, ROOTS_64[size])


def test_check_consistency_rejects_flipped_bit_in_proof() -> None:
    size = 13
    for old in range(1, size):
        proof = merkle.prove_consistency(old, size, LEAVES_64)
        for j in range(len(proof)):
            for bit in range(256):
                bad = [*proof[:j], flip(proof[j], bit), *proof[j + 1 :]]
                with pytest.raises(InvalidProof):
                    merkle.check_consistency(old, size, ROOTS_64[old], ROOTS_64[size], bad)


@pytest.mark.parametrize("bit", [0, 100, 255])
def test_check_inclusion_rejects_flipped_bit_in_leaf_or_root(bit: int) -> None:
    proof = merkle.prove_inclusion(5, 11, LEAVES_64)
    with pytest.raises(InvalidProof, match="leads to root"):
        merkle.check_inclusion(5, 11, flip(LEAVES_64[5], bit), proof, ROOTS_64[11])
    with pytest.raises(InvalidProof, match="leads to root"):
        merkle.check_inclusion(5, 11, LEAVES_64[5], proof, flip(ROOTS_64[11], bit))


@pytest.mark.parametrize("bit", [0, 100, 255])
def test_check_consistency_rejects_flipped_bit_in_either_root(bit: int) -> None:
    proof = merkle.prove_consistency(6, 11, LEAVES_64)
    with pytest.raises(InvalidProof, match="old root"):
        merkle.check_consistency(6, 11, flip(ROOTS_64[6], bit), ROOTS_64[11], proof)
    with pytest.raises(InvalidProof, match="new root"):
        merkle.check_consistency(6, 11, ROOTS_64[6], flip(ROOTS_64[11], bit), proof)


# --- Arguments and edge-case conventions -----------------------------------------------


def test_check_inclusion_names_the_expected_proof_length() -> None:
    proof = merkle.prove_inclusion(2, 8, LEAVES_64)
    with pytest.raises(InvalidProof, match="must have 3 hashes, got 2"):
        merkle.check_inclusion(2, 8, LEAVES_64[2], proof[:2], ROOTS_64[8])


def test_check_consistency_names_the_expected_proof_length() -> None:
    proof = merkle.prove_consistency(3, 8, LEAVES_64)
    with pytest.raises(InvalidProof, match=f"must have {len(proof)} hashes, got 1"):
        merkle.check_consistency(3, 8, ROOTS_64[3], ROOTS_64[8], proof[:1])


@pytest.mark.parametrize(("index", "size"), [(-1, 4), (4, 4), (0, 0)])
def test_check_inclusion_rejects_index_outside_the_tree(index: int, size: int) -> None:
    with pytest.raises(InvalidProof, match="impossible"):
        merkle.check_inclusion(index, size, LEAVES_64[0], [], ROOTS_64[1])


@pytest.mark.parametrize("field", ["leaf", "proof", "root"])
def test_check_inclusion_rejects_hash_that_is_not_32_bytes(field: str) -> None:
    leaf, proof, root = LEAVES_64[0], merkle.prove_inclusion(0, 2, LEAVES_64), ROOTS_64[2]
    if field == "leaf":
        leaf = leaf[:31]
    elif field == "proof":
        proof = [proof[0] + b"\x00"]
    else:
        root = root[:16]
    with pytest.raises(InvalidProof, match="bytes, not 32"):
        merkle.check_inclusion(0, 2, leaf, proof, root)


def test_check_consistency_rejects_old_size_above_new_size() -> None:
    with pytest.raises(InvalidProof, match="cannot be a prefix"):
        merkle.check_consistency(3, 2, ROOTS_64[3], ROOTS_64[2], [])


@pytest.mark.parametrize("new_size", [0, 1, 5])
def test_check_consistency_from_the_empty_tree_is_an_error(new_size: int) -> None:
    with pytest.raises(InvalidProof, match="proves nothing"):
        merkle.check_consistency(0, new_size, merkle.EMPTY_ROOT, ROOTS_64[new_size], [])


def test_check_consistency_of_equal_sizes_compares_roots() -> None:
    merkle.check_consistency(5, 5, ROOTS_64[5], ROOTS_64[5], [])
    assert merkle.prove_consistency(5, 5, LEAVES_64) == []
    with pytest.raises(InvalidProof, match="different roots"):
        merkle.check_consistency(5, 5, ROOTS_64[5], ROOTS_64[6], [])
    with pytest.raises(InvalidProof, match="must be empty"):
        merkle.check_consistency(5, 5, ROOTS_64[5], ROOTS_64[5], [ROOTS_64[5]])


def test_check_consistency_of_equal_sizes_rejects_roots_that_are_not_32_bytes() -> None:
    with pytest.raises(InvalidProof, match="old root is 12 bytes"):
        merkle.check_consistency(1, 1, b"don't care 2", b"don't care 2", [])


@pytest.mark.parametrize(("index", "size", "known"), [(-1, 4, 4), (4, 4, 4), (0, 5, 4), (0, 0, 0)])
def test_prove_inclusion_refuses_impossible_arguments(index: int, size: int, known: int) -> None:
    with pytest.raises(UsageError, match="cannot prove leaf"):
        merkle.prove_inclusion(index, size, LEAVES_64[:known])


@pytest.mark.parametrize(("old", "new", "known"), [(0, 4, 4), (5, 4, 8), (2, 9, 8), (-1, 4, 4)])
def test_prove_consistency_refuses_impossible_arguments(old: int, new: int, known: int) -> None:
    with pytest.raises(UsageError, match="cannot prove"):
        merkle.prove_consistency(old, new, LEAVES_64[:known])


def test_proofs_against_an_older_tree_ignore_later_leaves() -> None:
    proof = merkle.prove_inclusion(3, 7, LEAVES_64)
    merkle.check_inclusion(3, 7, LEAVES_64[3], proof, ROOTS_64[7])
    assert merkle.prove_consistency(3, 7, LEAVES_64) == merkle.prove_consistency(
        3, 7, LEAVES_64[:7]
    )


# --- Property: agreement with the naive recursive definition --------------------------

unique_leaves = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=200, unique=True)


@settings(max_examples=200, deadline=None)
@given(leaves=unique_leaves, data=st.data())
def test_inclusion_agrees_with_naive_recomputation(
    leaves: list[bytes], data: st.DataObject
) -> None:
    size = len(leaves)
    index = data.draw(st.integers(0, size - 1), label="index")
    root = naive_mth(leaves)
    assert merkle.root(leaves) == root
    proof = merkle.prove_inclusion(index, size, leaves)
    assert proof == naive_path(index, leaves)
    merkle.check_inclusion(index, size, leaves[index], proof, root)
    if size > 1:
        other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="other")
        with pytest.raises(InvalidProof):
            merkle.check_inclusion(other, size, leaves[index], proof, root)
    bit = data.draw(st.integers(0, 255), label="bit")
    with pytest.raises(InvalidProof):
        merkle.check_inclusion(index, size, leaves[index], proof, flip(root, bit))


@settings(max_examples=200, deadline=None)
@given(leaves=unique_leaves, data=st.data())
def test_consistency_agrees_with_naive_recomputation(
    leaves: list[bytes], data: st.DataObject
) -> None:
    new = len(leaves)
    old = data.draw(st.integers(1, new), label="old")
    old_root, new_root = naive_mth(leaves[:old]), naive_mth(leaves)
    proof = merkle.prove_consistency(old, new, leaves)
    assert proof == naive_subproof(old, leaves, True)
    merkle.check_consistency(old, new, old_root, new_root, proof)
    bit = data.draw(st.integers(0, 255), label="bit")
    with pytest.raises(InvalidProof):
        merkle.check_consistency(old, new, flip(old_root, bit), new_root, proof)
    with pytest.raises(InvalidProof):
        merkle.check_consistency(old, new, old_root, flip(new_root, bit), proof)
    if new > 1:
        other = data.draw(st.integers(1, new).filter(lambda o: o != old), label="other")
        with pytest.raises(InvalidProof):
            merkle.check_consistency(other, new, old_root, new_root, proof)
