"""docs/api.md "Names", shared by every service that validates them.

Python's `$` also matches before a final newline, so `(?!\\n)` keeps "alice\\n" out; the
lookahead is valid ECMA 262 too, so OpenAPI schemas still read right.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

import msgspec

SLUG_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$(?!\n)"
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,31}$(?!\n)"
Slug = Annotated[str, msgspec.Meta(pattern=SLUG_PATTERN)]
Username = Annotated[str, msgspec.Meta(pattern=USERNAME_PATTERN)]


BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""Marks, embeddings, overrides and isolates (Unicode UAX #9): U+202E shows "exe.txt" as
"txt.exe", and a label may reorder the text shown after it (CVE-2021-42574, "Trojan
Source")."""

_JOINERS = frozenset("\u200c\u200d")
"""Format characters a label may hold: ZWNJ spells Persian and Indic words right, ZWJ
joins emoji sequences (a family, a flag); neither hides or reorders anything."""

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
"""Control, format, surrogate, private use, unassigned: in a label each renders as
nothing, or as something else than it is, and NUL breaks PostgreSQL text."""

_REFUSED_IN_PROSE = frozenset({"Cc", "Cs"})
"""Prose (a message body) keeps format characters, private use and new code points: a
right-to-left paragraph needs its direction marks, and what is sent is read in full, not
scanned as a name. Controls still garble it, NUL still breaks PostgreSQL text and a lone
surrogate cannot be encoded."""

_PROSE_BREAKS = frozenset("\t\n\r")


def control_problem(text: str, *, multiline: bool = False) -> str | None:
    """The first character `text` may not hold, as a reason; None when there is none.
    One-line text (a display name, a chat title) holds no control or format characters
    besides the joiners; multi-line text (a message body) may hold tab and line breaks
    and any format character."""
    for char in text:
        category = unicodedata.category(char)
        if multiline:
            if category in _REFUSED_IN_PROSE and char not in _PROSE_BREAKS:
                return f"contains the control character U+{ord(char):04X}"
        elif char in BIDI_CONTROLS:
            return f"contains the bidirectional control U+{ord(char):04X}"
        elif category in _REFUSED_CATEGORIES and char not in _JOINERS:
            return f"contains the control character U+{ord(char):04X}"
    return None


def text_problem(text: str, *, multiline: bool = False) -> str | None:
    """Why `text` may not be text people read, or None when it may: no character
    `control_problem` refuses, and something visible, not only white space and format
    characters (a zero-width space, a joiner). The one rule for every label and message
    body in every service."""
    if problem := control_problem(text, multiline=multiline):
        return problem
    if not any(not char.isspace() and unicodedata.category(char) != "Cf" for char in text):
        return "must contain something besides white space"
    return None
