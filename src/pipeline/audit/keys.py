"""Key files: ``audit.key`` (signer, mode 0600) and ``audit.pub`` (verifier).

Both hold the C2SP signed-note key strings of :mod:`pipeline.audit.note`
followed by a newline, so the same files work with Go's ``sumdb/note`` and
with witnesses that speak C2SP. The private key is created with mode 0600
atomically (``O_EXCL``), never widened, and never written anywhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.audit.errors import KeyFormatError
from pipeline.audit.note import Signer, Verifier, generate_signer

__all__ = [
    "DEFAULT_KEY_NAME",
    "KeyPair",
    "generate_keypair",
    "load_signer",
    "load_verifier",
]

DEFAULT_KEY_NAME = "pipeline-audit"
PRIVATE_FILE = "audit.key"
PUBLIC_FILE = "audit.pub"


@dataclass(frozen=True)
class KeyPair:
    """Where :func:`generate_keypair` wrote the keys, and the verifier key string."""

    private_path: Path
    public_path: Path
    vkey: str


def _write_new(path: Path, data: str, mode: int, overwrite: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    if overwrite and path.exists():
        path.unlink()  # recreate so an old, wider mode cannot survive
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError as exc:
        raise KeyFormatError(
            f"{path} already exists", hint="pass --force to replace it, or choose another --out"
        ) from exc
    except OSError as exc:
        raise KeyFormatError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        os.fchmod(fd, mode)  # the umask must not widen or narrow what we ask for
        os.write(fd, data.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def generate_keypair(
    out_dir: str | Path, *, name: str = DEFAULT_KEY_NAME, overwrite: bool = False
) -> KeyPair:
    """Create ``out_dir/audit.key`` (0600) and ``out_dir/audit.pub``."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KeyFormatError(f"cannot create key directory {out}: {exc.strerror}") from exc
    signer = generate_signer(name)
    private_path, public_path = out / PRIVATE_FILE, out / PUBLIC_FILE
    _write_new(private_path, signer.skey() + "\n", 0o600, overwrite)
    vkey = signer.verifier().vkey()
    _write_new(public_path, vkey + "\n", 0o644, overwrite)
    return KeyPair(private_path, public_path, vkey)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError as exc:
        raise KeyFormatError(f"{what} {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFormatError(f"cannot read {what} {path}") from exc


def load_signer(path: str | Path) -> Signer:
    """Read a signer key file (``audit.key``)."""
    return Signer.parse(_read_text(Path(path), "signing key"))


def load_verifier(source: str | Path) -> Verifier:
    """Read a verifier key from a file (``audit.pub``) or a ``name+id+key`` string."""
    text = str(source)
    if isinstance(source, str) and "+" in text and not Path(text).exists():
        return Verifier.parse(text)
    return Verifier.parse(_read_text(Path(source), "public key"))
