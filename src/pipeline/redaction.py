"""Masking credentials in locations before they reach evidence or a terminal.

One place for invariant 5's rule on URIs: a password in the userinfo
(``postgresql://u:***@h/db``) and secret-looking query parameters
(``?password=***``, ``&sig=***``, ``X-Amz-Signature=***``) are masked. The
patterns are linear in the input (no nested repetition), so a hostile
location cannot make redaction slow.

A spec's ``${VAR}`` values are secrets wherever they were put (``?X-Goog-
Signature=${SIG}``, ``in_${TOKEN}.csv``), and no pattern knows every place: the
loader registers each value it substitutes (:func:`register_secret`), and every
text this module redacts has those values masked too, as written and
percent-encoded. The registry lives as long as the process: a secret this
process was given is never echoed by it.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

__all__ = ["masked", "redact_uri", "register_secret"]

#: Shorter values are not masked: "1" or "csv" would garble every message, and
#: cannot be secrets worth the name.
MIN_SECRET = 4
#: Every form of every registered secret, the longest first (a form may hold another).
_secrets: list[str] = []

_USERINFO = re.compile(
    r"(?P<scheme>[a-zA-Z][\w+.-]{0,31}://)(?P<user>[^:/@\s]{0,256}):[^@/\s]{1,1024}@"
)
# A query parameter whose name holds a secret-looking word anywhere: the list of whole
# names missed aws_secret_access_key, aws_session_token, access_token, X-Goog-Signature,
# sas_token and private_key (found by review). Over-masking a harmless parameter costs
# nothing; missing a credential breaks invariant 5.
_SECRET_PARAM = re.compile(
    r"(?P<key>[?&;][\w.-]{0,64}?(?:passw|passwd|pwd|pass|secret|token|signature|sig|"
    r"credential|key|sas|auth|session)[\w.-]{0,64}=)[^&;#\s]*",
    re.IGNORECASE,
)


def register_secret(value: str) -> None:
    """Mask ``value`` in everything redacted from now on: as written, percent-encoded,
    and escaped as ``repr`` and JSON show it (messages quote with ``!r``: a backslash in
    a secret came out doubled and unmasked; found by review)."""
    if len(value) >= MIN_SECRET:
        forms = {
            value,
            quote(value),
            quote(value, safe=""),
            repr(value)[1:-1],
            json.dumps(value)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
        }
        _secrets[:] = sorted(forms.union(_secrets), key=len, reverse=True)


def forget_secrets() -> None:
    """Clear the registry (for tests: each starts with none)."""
    _secrets.clear()


def masked(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def redact_uri(text: str) -> str:
    """``text`` with URI passwords, secret query parameters and registered secrets
    replaced by ``***``."""
    text = masked(text)
    if "://" in text or "@" in text:
        text = _USERINFO.sub(r"\g<scheme>\g<user>:***@", text)
    if "=" in text:
        text = _SECRET_PARAM.sub(r"\g<key>***", text)
    return text
