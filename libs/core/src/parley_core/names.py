"""shared/API.md "Names", shared by every service that validates them.

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
"""Control, format, surrogate, private use, unassigned: each renders as nothing, or as
something else than it is, and NUL breaks PostgreSQL text."""


def label_problem(text: str) -> str | None:
    """Why `text` may not be a one-line label people read (a display name, a chat title),
    or None when it may: something visible, and no control or format characters besides
    the joiners. The one rule for every label in every service."""
    for char in text:
        if char in BIDI_CONTROLS:
            return f"contains the bidirectional control U+{ord(char):04X}"
        if unicodedata.category(char) in _REFUSED_CATEGORIES and char not in _JOINERS:
            return f"contains the control character U+{ord(char):04X}"
    if not any(not char.isspace() and char not in _JOINERS for char in text):
        return "must contain something besides white space"
    return None
