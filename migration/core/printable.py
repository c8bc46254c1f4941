"""Text from files (file names above all) made safe to print on a terminal.

A file name may hold any byte but ``/`` and NUL: an escape sequence (``\\x1b[2K\\r`` erases the line and returns to
its start), a carriage return, a newline or a Unicode direction override would let a file name forge or hide report
lines. :func:`printable` shows every such character as a Python escape (``\\x1b``, ``\\r``, ``\\u202e``) and leaves
all other text, non-ASCII letters included, unchanged. ``--json`` output needs none of this (JSON escapes them).
"""
from __future__ import annotations

import unicodedata

#: Unicode categories shown escaped: controls (C0, DEL, C1), format characters (direction overrides, zero-width
#: joiners), line and paragraph separators, surrogates (undecodable bytes of a file name) and unassigned code points.
ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _escape(char: str) -> str:
    code = ord(char)
    if char == "\\":
        return char
    if code < 0x100:
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\x{code:02x}")
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: object) -> str:
    """``str(text)`` with control, format and separator characters escaped (see the module docstring)."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(_escape(c) if unicodedata.category(c) in ESCAPED_CATEGORIES else c for c in text)
