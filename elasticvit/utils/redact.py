"""Credentials out of anything that is logged: URL user-info and values of secret-looking keys."""

from __future__ import annotations

import re

MASK = "***"
SECRET_KEY = re.compile(r"(password|passwd|secret|token|api[_-]?key|access[_-]?key|credential)", re.IGNORECASE)
URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@", re.IGNORECASE)
ASSIGNMENT = re.compile(r"^\s*(?P<key>[A-Za-z_][\w.-]*)\s*=(?P<value>.*)$", re.DOTALL)


def redact_text(text: str) -> str:
    """``text`` with the user-info of every URL in it (``user:password@``) masked."""
    return URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)


def redact_value(key: str, value: str) -> str:
    """What may be logged for ``key``: masked entirely when the key names a secret, else its
    text with URL credentials masked."""
    if SECRET_KEY.search(key.rsplit(".", 1)[-1]):
        return MASK
    return redact_text(value)


def redact_setting(text: str) -> str:
    """``text`` as :func:`redact_text` masks it, or, when it is a ``key=value`` override whose key
    names a secret, with the value masked."""
    if (m := ASSIGNMENT.match(text)) is not None:
        return f"{m['key']}={redact_value(m['key'], m['value'])}"
    return redact_text(text)
