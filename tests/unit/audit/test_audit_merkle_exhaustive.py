"""All-pairs inclusion and consistency proofs for trees of 1..256 leaves.

The reference below is RFC 9162 §2.1 transcribed literally (MTH, PATH,
SUBPROOF over slices, memoised); the implementation under test builds levels
and walks them. Every proof must equal the reference's and verify, and a
proof must not verify for a neighbouring index or size.
"""

from __future__ import annotations

import hashlib
from functools import cache

from pipeline.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleTree,
    verify_consistency,
    verify_inclusion,
)

MAX = 256
DATA = [f"leaf-{i}".encode() for i in range(MAX)]


def sha(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


@cache
def mth(lo: int, hi: int) -> bytes:
    """RFC 9162 §2.1.1 Merkle Tree Hash of DATA[lo:hi]."""
    n = hi - lo
    if n == 0:
        return sha(b"")
    if n == 1:
        return sha(b"\x00" + DATA[lo])
    k = 1
    while k * 2 < n:
        k *= 2
    return sha(b"\x01" + mth(lo, lo + k) + mth(lo + k, hi))


def path(m: int, lo: int, hi: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[lo:hi])."""
    n = hi - lo
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*path(m, lo, lo + k), mth(lo + k, hi)]
    return [*path(m - k, lo + k, hi), mth(lo, lo + k)]


def subproof(m: int, lo: int, hi: int, b: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[lo:hi], b)."""
    n = hi - lo
    if m == n:
        return [] if b else [mth(lo, hi)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*subproof(m, lo, lo + k, b), mth(lo + k, hi)]
    return [*subproof(m - k, lo + k, hi, False), mth(lo, lo + k)]


LEAVES = [sha(b"\x00" + d) for d in DATA]
TREE = MerkleTree(LEAVES)


def test_roots_all_sizes() -> None:
    cr = CompactRange()
    assert cr.root() == EMPTY_ROOT == mth(0, 0)
    for n in range(1, MAX + 1):
        cr.append(LEAVES[n - 1])
        assert cr.root() == mth(0, n) == TREE.root(n) == MerkleTree(LEAVES[:n]).root()


def test_inclusion_all_pairs() -> None:
    checked = 0
    for n in range(1, MAX + 1):
        root = mth(0, n)
        for m in range(n):
            proof = TREE.inclusion_proof(m, n)
            assert proof == path(m, 0, n), (m, n)
            assert verify_inclusion(m, n, LEAVES[m], proof, root), (m, n)
            if n > 1:
                other = (m + 1) % n
                assert not verify_inclusion(other, n, LEAVES[m], proof, root), (m, n)
                assert not verify_inclusion(m, n, LEAVES[other], proof, root), (m, n)
            assert not verify_inclusion(m, n, LEAVES[m], proof, mth(0, n - 1)), (m, n)
            checked += 1
    assert checked == MAX * (MAX + 1) // 2


def test_consistency_all_pairs() -> None:
    checked = 0
    for n in range(1, MAX + 1):
        new_root = mth(0, n)
        for m in range(1, n + 1):
            proof = TREE.consistency_proof(m, n)
            want = subproof(m, 0, n, True) if m < n else []
            assert proof == want, (m, n)
            old_root = mth(0, m)
            assert verify_consistency(m, n, old_root, new_root, proof), (m, n)
            if m < n:
                assert not verify_consistency(m, n, new_root, new_root, proof), (m, n)
                assert not verify_consistency(m, n, old_root, old_root, proof), (m, n)
                if m > 1:
                    assert not verify_consistency(m - 1, n, mth(0, m - 1), new_root, proof)
            checked += 1
    assert checked == MAX * (MAX + 1) // 2
