"""RFC 9162 conformance against every vector in ../shared/vectors/merkle.

Each source runs under its own size-0 rule (see the vectors' README):
transparency-dev rejects every consistency check from size 0, cctv-rgdd
accepts 0->0 and 0->n with an empty proof.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)

CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def b64(text: str | None) -> bytes:
    return base64.b64decode(text or "")


def proof_of(items: list[str] | None) -> list[bytes]:
    return [b64(p) for p in items or []]


def load_dir(root: Path) -> list[tuple[str, dict[str, Any]]]:
    files = sorted(root.rglob("*.json"))
    return [(str(f.relative_to(root)), json.loads(f.read_text())) for f in files]


def test_eight_leaf_table() -> None:
    hashes = [leaf_hash(d) for d in CT_LEAVES]
    tree = MerkleTree(hashes)
    for n, want in enumerate(CT_ROOTS):
        assert tree_hash(hashes[:n]).hex() == want
        assert tree.root(n).hex() == want
    assert EMPTY_ROOT.hex() == CT_ROOTS[0]


def test_transparency_dev_inclusion(merkle_vectors: Path) -> None:
    cases = load_dir(merkle_vectors / "inclusion")
    assert len(cases) == 98
    wrong = [
        name
        for name, c in cases
        if verify_inclusion(
            c["leafIdx"], c["treeSize"], b64(c["leafHash"]), proof_of(c["proof"]), b64(c["root"])
        )
        == c["wantErr"]
    ]
    assert wrong == []
    assert sum(not c["wantErr"] for _, c in cases) == 6


def test_transparency_dev_consistency(merkle_vectors: Path) -> None:
    cases = load_dir(merkle_vectors / "consistency")
    assert len(cases) == 98
    wrong = [
        name
        for name, c in cases
        if verify_consistency(
            c["size1"], c["size2"], b64(c["root1"]), b64(c["root2"]), proof_of(c["proof"])
        )
        == c["wantErr"]
    ]
    assert wrong == []


def test_transparency_dev_valid_proofs_are_the_ones_we_generate(merkle_vectors: Path) -> None:
    """The happy-path proofs over the 8 CT leaves are exactly what MerkleTree produces."""
    tree = MerkleTree([leaf_hash(d) for d in CT_LEAVES])
    checked = 0
    for name, c in load_dir(merkle_vectors / "inclusion"):
        if not c["wantErr"] and c["treeSize"] <= 8 and b64(c["root"]) == tree.root(c["treeSize"]):
            assert tree.inclusion_proof(c["leafIdx"], c["treeSize"]) == proof_of(c["proof"]), name
            checked += 1
    for name, c in load_dir(merkle_vectors / "consistency"):
        small = not c["wantErr"] and c["size1"] > 0 and c["size2"] <= 8
        if small and b64(c["root2"]) == tree.root(c["size2"]):
            got = tree.consistency_proof(c["size1"], c["size2"])
            assert got == proof_of(c["proof"]), name
            checked += 1
    assert checked >= 8


def test_cctv_tree_heads_from_leaf_data(merkle_vectors: Path) -> None:
    heads = json.loads((merkle_vectors / "cctv-rgdd" / "merkle_tree.json").read_text())
    assert len(heads) == 16
    leaves: list[bytes] = []
    for head in heads:
        leaf = leaf_hash(head["leaf_data"].encode("ascii"))
        assert leaf == b64(head["leaf_hash"])
        leaves.append(leaf)
        assert tree_hash(leaves) == b64(head["root_hash"])


@pytest.mark.parametrize("valid", [True, False])
def test_cctv_inclusion(merkle_vectors: Path, valid: bool) -> None:
    name = "inclusion-valid.json" if valid else "inclusion-invalid.json"
    cases = json.loads((merkle_vectors / "cctv-rgdd" / name).read_text())
    assert len(cases) == 4
    for c in cases:
        got = verify_inclusion(
            c["leaf_index"],
            c["tree_size"],
            b64(c["leaf_hash"]),
            proof_of(c["inclusion_path"]),
            b64(c["root_hash"]),
        )
        assert got is valid, c


@pytest.mark.parametrize("valid", [True, False])
def test_cctv_consistency_under_its_size0_rule(merkle_vectors: Path, valid: bool) -> None:
    name = "consistency-valid.json" if valid else "consistency-invalid.json"
    cases = json.loads((merkle_vectors / "cctv-rgdd" / name).read_text())
    assert len(cases) == (4 if valid else 16)
    for c in cases:
        args = (
            c["old_size"],
            c["new_size"],
            b64(c["old_root"]),
            b64(c["new_root"]),
            proof_of(c["consistency_path"]),
        )
        assert verify_consistency(*args, allow_empty_first=True) is valid, c
        if c["old_size"] == 0:
            # Our default (transparency-dev) rule rejects every size-0 check.
            assert verify_consistency(*args) is False


def test_ct_argon2020_inclusion(merkle_vectors: Path) -> None:
    d = merkle_vectors / "ct-argon2020"
    sth = json.loads((d / "sth.json").read_text())
    proof = json.loads((d / "proof.json").read_text())
    entry = json.loads((d / "entries.json").read_text())["entries"][0]
    leaf = hashlib.sha256(b"\x00" + b64(entry["leaf_input"])).digest()
    assert leaf.hex() == "9c2b3799f232761f71e022b243ebb6c6d9a9c66160800e4c2f2987c0d41294b8"
    path = proof_of(proof["audit_path"])
    assert len(path) == 30
    root = b64(sth["sha256_root_hash"])
    assert verify_inclusion(proof["leaf_index"], sth["tree_size"], leaf, path, root)
    assert not verify_inclusion(proof["leaf_index"] + 1, sth["tree_size"], leaf, path, root)


def test_ct_argon2020_consistency(merkle_vectors: Path) -> None:
    d = merkle_vectors / "ct-argon2020"
    sth = json.loads((d / "sth.json").read_text())
    proof = proof_of(json.loads((d / "consistency.json").read_text())["consistency"])
    old_root = b64("AuIZ5V6sDUj1vn3Y1K85oOaQ7y+FJJKtyRTl1edIKBQ=")
    new_root = b64(sth["sha256_root_hash"])
    assert len(proof) == 30
    assert verify_consistency(3654490, sth["tree_size"], old_root, new_root, proof)
    assert not verify_consistency(3654491, sth["tree_size"], old_root, new_root, proof)
    assert not verify_consistency(3654490, sth["tree_size"], new_root, old_root, proof)
