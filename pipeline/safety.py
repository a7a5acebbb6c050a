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
# Characters that act on a terminal or reorder a line instead of showing: C0 and C1 controls
# (tab, line feed and carriage return apart), DEL, and the bidirectional embedding, override
# and isolate controls.
_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_UNPRINTABLE_IN_NAME = re.compile(rf"[\t\n\r{_CONTROLS}]")
_UNPRINTABLE_IN_TEXT = re.compile(rf"[{_CONTROLS}]")  # a message keeps its tabs and lines
# How a text cell starts when a spreadsheet would run it as a formula (CSV injection:
# "=HYPERLINK(...)", "-2+3 ..."); a regular expression character class.
FORMULA_START = r"[=+\-@\t\r]"


def printable_path(text: str) -> str:
    """``text`` (a file name as the operating system gave it) as printable Unicode: bytes
    that are not UTF-8 (held as surrogates by ``os.fsdecode``) become ``\\xNN`` escapes, and
    so do control characters (``\\x1b``); bidirectional controls become ``\\uNNNN``."""
    return _UNPRINTABLE_IN_NAME.sub(_escape, _valid_unicode(text))


def _valid_unicode(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def redact(text: str) -> str:
    """``text`` with the value of every ``password: ...``/``token=...``-like assignment
    replaced by ``[redacted]``."""
    return _ASSIGNMENT.sub(lambda m: m.group("key") + REDACTED, text)


def printable_text(text: str) -> str:
    """``text`` fit for a terminal or a Markdown file: control and bidirectional characters
    escaped as in :func:`printable_path` (``\\x1b``, ``\\u202e``); line breaks and tabs
    kept."""
    return _UNPRINTABLE_IN_TEXT.sub(_escape, _valid_unicode(text))


def clean_message(text: str) -> str:
    """A message fit for an output: :func:`printable_text`, secrets redacted, no Python
    object reprs."""
    return _OBJECT_REPR.sub("the file", redact(printable_text(text)))
