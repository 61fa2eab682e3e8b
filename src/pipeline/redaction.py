"""Masking credentials in locations before they reach evidence or a terminal.

One place for invariant 5's rule on URIs: a password in the userinfo
(``postgresql://u:***@h/db``) and secret-looking query parameters
(``?password=***``, ``&sig=***``, ``X-Amz-Signature=***``) are masked. The
patterns are linear in the input (no nested repetition), so a hostile
location cannot make redaction slow.
"""

from __future__ import annotations

import re

__all__ = ["redact_uri"]

_USERINFO = re.compile(
    r"(?P<scheme>[a-zA-Z][\w+.-]{0,31}://)(?P<user>[^:/@\s]{0,256}):[^@/\s]{1,1024}@"
)
_SECRET_PARAM = re.compile(
    r"(?P<key>[?&;](?:password|passwd|pwd|pass|secret|token|sslpassword|sslkey|"
    r"access[_-]?key(?:[_-]?id)?|secret[_-]?(?:access[_-]?)?key|api[_-]?key|apikey|"
    r"account[_-]?key|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|"
    r"client[_-]?secret)=)[^&;#\s]*",
    re.IGNORECASE,
)


def redact_uri(text: str) -> str:
    """``text`` with URI passwords and secret query parameters replaced by ``***``."""
    if "://" in text or "@" in text:
        text = _USERINFO.sub(r"\g<scheme>\g<user>:***@", text)
    if "=" in text:
        text = _SECRET_PARAM.sub(r"\g<key>***", text)
    return text
