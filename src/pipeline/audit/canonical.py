"""RFC 8785 (JCS) canonical JSON for audit entries, with a checked fast path.

The ``rfc8785`` package is the reference; it is pure Python (~20 µs an
entry). For the values audit entries almost always hold — strings, safe
integers, booleans, null, objects with BMP keys, lists — the C ``json``
encoder with sorted keys and compact separators produces exactly the JCS
bytes, so that path is taken when a cheap scan proves it applies; anything
else (floats, non-BMP keys, big integers) goes through ``rfc8785``.
"""

from __future__ import annotations

import json
import json.encoder
import json.scanner
from collections.abc import Callable
from typing import Any

import rfc8785

from pipeline.errors import AuditError

__all__ = ["CanonicalReader", "canonical_bytes", "is_canonical_line"]

_MAX_SAFE_INT = 2**53 - 1
_encoder = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False
)


def _make_encode() -> Callable[[Any], str]:
    """The stdlib's C encoder called directly: a third faster than ``encode``."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - non-CPython
        return _encoder.encode
    c_encode = make(
        None, _encoder.default, json.encoder.encode_basestring, None, ":", ",", True, False, True
    )

    def encode(value: Any) -> str:
        return "".join(c_encode(value, 0))

    return encode


_encode = _make_encode()


def _fast_ok(value: Any) -> bool:
    """True iff the stdlib encoder's output is the JCS output for ``value``.

    Explicit loops rather than ``all(...)`` over generators: this runs on
    every append and dominated the group-commit profile.
    """
    kind = type(value)
    if value is None or kind is str or kind is bool:
        return True
    if kind is int:
        return bool(-_MAX_SAFE_INT <= value <= _MAX_SAFE_INT)
    if kind is dict:
        for k, v in value.items():
            # Python sorts keys by code point, JCS by UTF-16 unit: equal in the BMP.
            if type(k) is not str or not (k.isascii() or max(k) < "\U00010000"):
                return False
            if v is not None and type(v) is not str and not _fast_ok(v):
                return False
        return True
    if kind is list or kind is tuple:
        return all(_fast_ok(v) for v in value)
    return False  # floats (ES6 number form), subclasses, anything else


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON-ready value."""
    try:
        if _fast_ok(value):
            return _encode(value).encode("utf-8")
        return bytes(rfc8785.dumps(value))
    except (ValueError, TypeError) as exc:  # lone surrogates, NaN, big ints, objects
        raise AuditError(
            f"audit entry is not canonical JSON: {exc}",
            hint="pass only strings, integers, booleans, null, lists and objects in details",
        ) from exc


class CanonicalReader:
    """Parses lines and notes whether the fast canonical path applies to each.

    One decoder with hooks is built per reader (not per line): verification
    parses a million lines and per-line closures would cost a tenth of it.
    Not thread-safe; use one per thread.
    """

    __slots__ = ("_scan", "_slow")

    def __init__(self) -> None:
        self._slow = False
        # Calling the scanner directly skips ``decode``'s whitespace regexes:
        # a canonical line has no whitespace to skip anyway.
        ctx = json.JSONDecoder(parse_float=self._on_float, parse_constant=self._on_constant)
        self._scan = json.scanner.make_scanner(ctx)  # type: ignore[arg-type]  # typeshed: a class

    def _on_float(self, text: str) -> float:
        self._slow = True
        return float(text)

    @staticmethod
    def _on_constant(text: str) -> Any:
        raise ValueError(f"{text} is not JSON")

    def loads(self, line: bytes) -> tuple[Any, bool]:
        """Parse one UTF-8 JSON line; also say whether the fast path applies.

        Integers are not range-checked here: the writer cannot produce ones
        outside I-JSON's range (``rfc8785`` refuses them), so such a line was
        written by someone else and the chain and signed roots catch it.
        """
        self._slow = False
        text = line.decode("utf-8")
        try:
            value, end = self._scan(text, 0)
        except StopIteration as exc:
            raise ValueError("not JSON") from exc
        if end != len(text):
            raise ValueError("extra data after the JSON value")
        return value, not self._slow and line.isascii()


def is_canonical_line(line: bytes, value: Any, fast: bool) -> bool:
    """True iff ``line`` is exactly the JCS form of ``value`` (``fast``: see the reader)."""
    if fast:
        return _encode(value).encode("utf-8") == line
    try:
        return bytes(rfc8785.dumps(value)) == line
    except (ValueError, TypeError):
        return False
