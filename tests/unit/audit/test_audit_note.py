"""C2SP signed notes and key files, checked against Go's sumdb/note test vector."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pipeline.audit.checkpoint import Checkpoint, parse_checkpoint_body
from pipeline.audit.errors import KeyFormatError, NoteError
from pipeline.audit.keys import generate_keypair, load_signer, load_verifier
from pipeline.audit.note import Signer, Verifier, generate_signer, open_note, sign_note

GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKv"
    "qfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_go_vector_is_reproduced_byte_for_byte() -> None:
    signer = Signer.parse(GO_SKEY)
    assert signer.key_id == 0xC74F20A3
    assert signer.skey() == GO_SKEY
    assert signer.verifier().vkey() == GO_VKEY
    note = sign_note(GO_TEXT, [signer])
    assert note == GO_TEXT + "\n" + GO_SIG
    text, by = open_note(note, [Verifier.parse(GO_VKEY)])
    assert text == GO_TEXT
    assert by[0].name == "PeterNeumann"


def test_tampered_text_is_bad_signature() -> None:
    note = GO_TEXT.replace("answer", "ANSWER") + "\n" + GO_SIG
    with pytest.raises(NoteError) as err:
        open_note(note, [Verifier.parse(GO_VKEY)])
    assert err.value.reason == "bad_signature"


def test_other_key_same_name_is_unknown_key() -> None:
    impostor = generate_signer("PeterNeumann")
    note = sign_note(GO_TEXT, [impostor])
    with pytest.raises(NoteError) as err:
        open_note(note, [Verifier.parse(GO_VKEY)])
    assert err.value.reason == "unknown_key"


def test_extra_unknown_signature_is_ignored() -> None:
    note = sign_note(GO_TEXT, [generate_signer("witness"), Signer.parse(GO_SKEY)])
    assert open_note(note, [Verifier.parse(GO_VKEY)])[0] == GO_TEXT


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong id
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space
        "PeterNeumann+c74f20a3+AhRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # alg byte
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a3+not base64!",
    ],
)
def test_bad_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(KeyFormatError):
        Verifier.parse(vkey)


@pytest.mark.parametrize(
    "note",
    [GO_TEXT, GO_TEXT + "\n", GO_TEXT + "\nnot a signature\n", GO_TEXT + "\n\u2014 x AAAA\n"],
)
def test_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(NoteError):
        open_note(note, [Verifier.parse(GO_VKEY)])


def test_generate_keypair_files(tmp_path: Path) -> None:
    pair = generate_keypair(tmp_path / "k", name="acme-audit")
    assert stat.S_IMODE(pair.private_path.stat().st_mode) == 0o600
    assert pair.public_path.read_text().strip() == pair.vkey
    signer = load_signer(pair.private_path)
    assert signer.verifier().vkey() == load_verifier(pair.public_path).vkey() == pair.vkey
    assert load_verifier(pair.vkey).vkey() == pair.vkey
    with pytest.raises(KeyFormatError):
        generate_keypair(tmp_path / "k")
    again = generate_keypair(tmp_path / "k", overwrite=True)
    assert again.vkey != pair.vkey
    assert stat.S_IMODE(again.private_path.stat().st_mode) == 0o600


def test_missing_key_file_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(KeyFormatError) as err:
        load_signer(tmp_path / "nope.key")
    assert "pipeline keys generate" in str(err.value)


def test_checkpoint_body_is_c2sp_tlog_checkpoint() -> None:
    signer = Signer.parse(GO_SKEY)
    root = bytes(range(32))
    cp = Checkpoint.sign("example.com/log", 42, root, "2024-01-15T10:30:00.000000Z", signer)
    text = cp.note.split("\n\n")[0] + "\n"
    assert text == (
        "example.com/log\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
        "time 2024-01-15T10:30:00.000000Z\n"
    )
    assert parse_checkpoint_body(text) == ("example.com/log", 42, root)
    back = Checkpoint.from_note(cp.note, [signer.verifier()])
    assert (back.origin, back.size, back.root, back.key_id) == (
        "example.com/log",
        42,
        root,
        "c74f20a3",
    )
    record = cp.to_record()
    assert Checkpoint.from_record(record, [signer.verifier()]) == cp
    with pytest.raises(NoteError):
        Checkpoint.from_record({**record, "size": 43}, [signer.verifier()])


@pytest.mark.parametrize(
    "text", ["o\n01\n" + "A" * 44 + "\n", "o\n1\nshort\n", "\n1\n" + "A" * 43 + "=\n", "o\n1\n"]
)
def test_bad_checkpoint_bodies(text: str) -> None:
    with pytest.raises(NoteError):
        parse_checkpoint_body(text)


def test_str_of_a_checkpoint_is_its_signed_note() -> None:
    signer = Signer.parse(GO_SKEY)
    cp = Checkpoint.sign("o", 1, bytes(32), "2024-01-15T10:30:00.000000Z", signer)
    assert str(cp) == cp.note
    assert Checkpoint.from_note(str(cp), [signer.verifier()]) == cp
