"""RFC 9162 Merkle tree hashing, proofs and proof verification.

This module owns the tree that makes the audit log's history checkable: the
leaf and node hashes (RFC 9162 §2.1.1), the Merkle Tree Hash of a list of
leaves, inclusion and consistency proofs (§2.1.3.1, §2.1.4.1) and their
verifiers (§2.1.3.2, §2.1.4.2). All hashes are raw 32-byte SHA-256 digests.

Size-0 policy: RFC 9162 defines consistency only for ``0 < first < second``.
:func:`verify_consistency` rejects ``first == 0`` by default (as
transparency-dev/merkle does: a proof from the empty tree proves nothing);
``allow_empty_first=True`` accepts it with an empty proof (the C2SP CCTV
vectors' reading: every tree is consistent with the empty tree).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "CompactRange",
    "MerkleTree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "tree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """Hash one leaf: SHA-256(0x00 || data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash an interior node: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class CompactRange:
    """Incremental Merkle Tree Hash over leaves appended one at a time.

    Keeps only the roots of the perfect subtrees (one per set bit of the
    size), so appending is amortised O(1) and memory O(log n). Used by the
    logger (checkpoint roots) and the verifier (a root at every checkpoint
    size while streaming the log once).
    """

    __slots__ = ("_stack", "size")

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self.size = 0

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash (already hashed with :func:`leaf_hash`)."""
        stack = self._stack
        stack.append(leaf)
        self.size += 1
        n = self.size
        while not n & 1:
            right = stack.pop()
            stack[-1] = _sha256(b"\x01" + stack[-1] + right).digest()
            n >>= 1

    def root(self) -> bytes:
        """Merkle Tree Hash of all leaves so far (SHA-256 of "" when empty)."""
        if not self._stack:
            return EMPTY_ROOT
        acc = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            acc = _sha256(b"\x01" + left + acc).digest()
        return acc

    def copy(self) -> CompactRange:
        """Independent copy (the logger snapshots state before a batch)."""
        other = CompactRange()
        other._stack = list(self._stack)
        other.size = self.size
        return other


def tree_hash(leaves: Iterable[bytes]) -> bytes:
    """Merkle Tree Hash of a sequence of leaf hashes."""
    cr = CompactRange()
    for leaf in leaves:
        cr.append(leaf)
    return cr.root()


class MerkleTree:
    """A whole tree kept level by level, for proofs over a log read into memory.

    Level ``k`` holds the hashes of the perfect, aligned subtrees of
    ``2**k`` leaves; any other subtree RFC 9162 needs is assembled from them
    in O(log n).
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaves)]
        level = self.levels[0]
        while len(level) > 1:
            level = [
                _sha256(b"\x01" + level[i] + level[i + 1]).digest()
                for i in range(0, len(level) - 1, 2)
            ]
            self.levels.append(level)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self.levels[0])

    def subtree(self, lo: int, hi: int) -> bytes:
        """Merkle Tree Hash of leaves ``[lo, hi)`` (``hi > lo``)."""
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            return self.levels[n.bit_length() - 1][lo // n]
        k = _split(n)
        return node_hash(self.subtree(lo, lo + k), self.subtree(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        """Merkle Tree Hash of the first ``size`` leaves (default: all)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree has {self.size} leaves, not {size}")
        return EMPTY_ROOT if size == 0 else self.subtree(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path for leaf ``index`` in the tree of the first ``size`` leaves."""
        size = self.size if size is None else size
        if not 0 <= index < size <= self.size:
            raise ValueError(f"no leaf {index} in a tree of size {size}")
        proof: list[bytes] = []
        lo, hi = 0, size
        # Walk down from the root; siblings are collected top-down, the RFC
        # lists them bottom-up, hence the reverse at the end.
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                proof.append(self.subtree(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.subtree(lo, lo + k))
                lo += k
        proof.reverse()
        return proof

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """Proof that the tree of ``first`` leaves is a prefix of the one of ``second``."""
        second = self.size if second is None else second
        if not 0 < first <= second <= self.size:
            raise ValueError(f"no consistency proof from size {first} to {second}")
        proof: list[bytes] = []
        lo, hi, m, complete = 0, second, first, True
        while m != hi - lo:
            k = _split(hi - lo)
            if m <= k:
                proof.append(self.subtree(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.subtree(lo, lo + k))
                lo += k
                m -= k
                complete = False
        if not complete:
            proof.append(self.subtree(lo, hi))
        proof.reverse()
        return proof


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Audit path for ``leaves[index]`` in the tree of all ``leaves``."""
    return MerkleTree(leaves).inclusion_proof(index)


def consistency_proof(leaves: Sequence[bytes], first: int) -> list[bytes]:
    """Consistency proof from the first ``first`` leaves to all ``leaves``."""
    return MerkleTree(leaves).consistency_proof(first)


def _all_hashes(*values: bytes) -> bool:
    return all(len(v) == HASH_SIZE for v in values)


def root_from_inclusion_proof(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes]
) -> bytes | None:
    """Root implied by an inclusion proof (RFC 9162 §2.1.3.2), or None if malformed."""
    if not 0 <= index < size or not _all_hashes(leaf, *proof):
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """True iff ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree ``root``."""
    return root_from_inclusion_proof(index, size, leaf, proof) == root


def verify_consistency(
    first: int,
    second: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
    *,
    allow_empty_first: bool = False,
) -> bool:
    """True iff ``proof`` shows tree ``first_root`` is a prefix of ``second_root``."""
    if not 0 <= first <= second or not _all_hashes(*proof):
        return False
    if first == 0:
        # Policy choice documented in the module docstring.
        return allow_empty_first and not proof and first_root == EMPTY_ROOT
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
