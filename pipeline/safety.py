"""Text that may reach an output: file names made printable, secrets redacted.

Every message that can land in the ``errors`` table, a report or a log line passes through
:func:`clean_message`; every corpus path stored in a table is :func:`printable_path`.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"
# Keys whose values are secrets, wherever they appear as ``key: value`` or ``key=value``.
_SENSITIVE = (r"[\w.-]*(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|"
              r"access[_-]?key|private[_-]?key|credentials?|auth(?:orization)?|key)")
_ASSIGNMENT = re.compile(
    rf"(?P<key>\b{_SENSITIVE}\b['\"]?\s*[:=]\s*)(?P<value>(?:\"[^\"\n]*\"?|'[^'\n]*'?|[^\s,;}}\]`)(][^\s,;}}\]`]*))",
    re.IGNORECASE,
)
_OBJECT_REPR = re.compile(r"(?:file )?'?<[\w.]+ object at 0x[0-9a-fA-F]+>'?")


def printable_path(text: str) -> str:
    """``text`` (a file name as the operating system gave it) as valid Unicode: bytes that
    are not UTF-8 (held as surrogates by ``os.fsdecode``) become ``\\xNN`` escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text


def redact(text: str) -> str:
    """``text`` with the value of every ``password: ...``/``token=...``-like assignment
    replaced by ``[redacted]``."""
    return _ASSIGNMENT.sub(lambda m: m.group("key") + REDACTED, text)


def clean_message(text: str) -> str:
    """A message fit for an output: printable, secrets redacted, no Python object reprs."""
    return _OBJECT_REPR.sub("the file", redact(printable_path(text)))
