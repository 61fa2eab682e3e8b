"""C2SP signed notes with Ed25519, byte-compatible with Go's ``sumdb/note``.

This module owns the key encodings and the note format:

* verifier key ``name+hhhhhhhh+base64(0x01 || public key)``;
* signer key ``PRIVATE+KEY+name+hhhhhhhh+base64(0x01 || seed)``;
* key id = the first 4 bytes (big-endian) of SHA-256(name || "\\n" || 0x01 || public key);
* a note is ``text`` (ending in a newline), a blank line, then one line per
  signature: ``— name base64(key id || Ed25519 signature over text)``.

Opening a note trusts only the verifiers passed in: a signature whose name
and key id match none of them is *unknown*, a matching one that does not
verify is *invalid*. Ed25519 itself comes from ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.audit.errors import KeyFormatError, NoteError

# ``cryptography`` (tens of ms to import) is imported where a key is parsed, made
# or used: every run imports this module, only runs with a signing key need Ed25519.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

__all__ = [
    "NoteSignature",
    "Signer",
    "Verifier",
    "generate_signer",
    "open_note",
    "parse_signatures",
    "sign_note",
]

_ALG_ED25519 = 0x01
_SIG_PREFIX = "\u2014 "  # em dash + space, as Go writes it
_PRIVATE_PREFIX = "PRIVATE+KEY+"


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise KeyFormatError(f"key name {name!r} must be non-empty, without spaces or '+'")


def key_id(name: str, public_key: bytes) -> int:
    """Key id bound into every signature: 4 bytes of SHA-256(name, alg, key)."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([_ALG_ED25519]) + public_key).digest()
    return int(struct.unpack(">I", digest[:4])[0])


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError(f"{what} is not valid base64") from exc


@dataclass(frozen=True)
class Verifier:
    """A pinned public key: only notes signed by it are trusted."""

    name: str
    key_id: int
    public_key: Ed25519PublicKey

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Read a verifier key string ``name+hhhhhhhh+base64``."""
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3 or len(parts[1]) != 8:
            raise KeyFormatError("a verifier key has the form name+hhhhhhhh+base64")
        name, hex_id, b64 = parts
        _check_name(name)
        raw = _b64decode(b64, "the verifier key")
        if len(raw) != 33 or raw[0] != _ALG_ED25519:
            raise KeyFormatError("the verifier key is not an Ed25519 key (algorithm byte 0x01)")
        try:
            kid = int(hex_id, 16)
        except ValueError as exc:
            raise KeyFormatError("the verifier key id is not 8 hex digits") from exc
        if kid != key_id(name, raw[1:]):
            raise KeyFormatError("the verifier key id does not match its name and key")
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        return cls(name, kid, Ed25519PublicKey.from_public_bytes(raw[1:]))

    @property
    def public_bytes(self) -> bytes:
        """The raw 32-byte public key."""
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    def vkey(self) -> str:
        """The verifier key string (what ``audit.pub`` holds)."""
        raw = bytes([_ALG_ED25519]) + self.public_bytes
        return f"{self.name}+{self.key_id:08x}+{base64.b64encode(raw).decode()}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True iff ``signature`` is this key's Ed25519 signature over ``message``."""
        from cryptography.exceptions import InvalidSignature

        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """A private signing key with its name (what ``audit.key`` holds)."""

    name: str
    key_id: int
    private_key: Ed25519PrivateKey

    @classmethod
    def parse(cls, skey: str) -> Signer:
        """Read a signer key string ``PRIVATE+KEY+name+hhhhhhhh+base64``."""
        text = skey.strip()
        if not text.startswith(_PRIVATE_PREFIX):
            raise KeyFormatError("a signer key starts with PRIVATE+KEY+")
        parts = text[len(_PRIVATE_PREFIX) :].split("+", 2)
        if len(parts) != 3 or len(parts[1]) != 8:
            raise KeyFormatError("a signer key has the form PRIVATE+KEY+name+hhhhhhhh+base64")
        name, hex_id, b64 = parts
        _check_name(name)
        raw = _b64decode(b64, "the signer key")
        if len(raw) != 33 or raw[0] != _ALG_ED25519:
            raise KeyFormatError("the signer key is not an Ed25519 key (algorithm byte 0x01)")
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        private = Ed25519PrivateKey.from_private_bytes(raw[1:])
        signer = cls.from_private_key(name, private)
        if f"{signer.key_id:08x}" != hex_id.lower():
            raise KeyFormatError("the signer key id does not match its name and key")
        return signer

    @classmethod
    def from_private_key(cls, name: str, private: Ed25519PrivateKey) -> Signer:
        """Wrap an Ed25519 key under ``name``."""
        _check_name(name)
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return cls(name, key_id(name, public), private)

    def skey(self) -> str:
        """The signer key string."""
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
        )

        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        raw = base64.b64encode(bytes([_ALG_ED25519]) + seed).decode()
        return f"{_PRIVATE_PREFIX}{self.name}+{self.key_id:08x}+{raw}"

    def verifier(self) -> Verifier:
        """The matching public verifier."""
        return Verifier(self.name, self.key_id, self.private_key.public_key())

    def signature_line(self, text: str) -> str:
        """One ``— name base64`` line signing ``text``."""
        sig = self.private_key.sign(text.encode())
        blob = struct.pack(">I", self.key_id) + sig
        return f"{_SIG_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"


def generate_signer(name: str) -> Signer:
    """A fresh Ed25519 signer named ``name``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Signer.from_private_key(name, Ed25519PrivateKey.generate())


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    """The signed note: ``text``, a blank line, one signature line per signer."""
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if "\n\n" in text:
        raise NoteError("note text must not contain a blank line")
    return text + "\n" + "".join(s.signature_line(text) for s in signers)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note, not yet checked."""

    name: str
    key_id: int
    signature: bytes


def parse_signatures(note: str) -> tuple[str, list[NoteSignature]]:
    """Split a note into its text and its signature lines (no checking)."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("not a signed note: no blank line before signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    sigs: list[NoteSignature] = []
    for line in block.splitlines():
        if not line.startswith(_SIG_PREFIX):
            raise NoteError("malformed signature line")
        name, _, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        try:
            blob = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise NoteError("signature is not valid base64") from exc
        if not name or len(blob) < 5:
            raise NoteError("malformed signature line")
        sigs.append(NoteSignature(name, int(struct.unpack(">I", blob[:4])[0]), blob[4:]))
    if not sigs:
        raise NoteError("note has no signatures")
    return text, sigs


def open_note(note: str, verifiers: Iterable[Verifier]) -> tuple[str, list[Verifier]]:
    """Check a note against pinned verifiers; return its text and who signed it.

    Raises :class:`~pipeline.audit.errors.NoteError` with ``reason``
    ``bad_signature`` when a pinned key's signature does not verify, and
    ``unknown_key`` when no signature is by a pinned key.
    """
    text, sigs = parse_signatures(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    good: list[Verifier] = []
    for sig in sigs:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        if not verifier.verify(text.encode(), sig.signature):
            raise NoteError(f"signature by {sig.name} does not verify", reason="bad_signature")
        good.append(verifier)
    if not good:
        names = ", ".join(f"{s.name}+{s.key_id:08x}" for s in sigs)
        raise NoteError(f"no signature by a pinned key (signed by {names})", reason="unknown_key")
    return text, good
