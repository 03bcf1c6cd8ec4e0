"""shared/API.md "Names", shared by every service that validates them.

Python's `$` also matches before a final newline, so `(?!\\n)` keeps "alice\\n" out; the
lookahead is valid ECMA 262 too, so OpenAPI schemas still read right.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

SLUG_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$(?!\n)"
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,31}$(?!\n)"
Slug = Annotated[str, msgspec.Meta(pattern=SLUG_PATTERN)]
Username = Annotated[str, msgspec.Meta(pattern=USERNAME_PATTERN)]
