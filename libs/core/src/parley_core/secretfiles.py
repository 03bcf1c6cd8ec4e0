"""Secrets the embedded default generates once and keeps on disk (signing key, admin token)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """The bytes at `path`; when it is absent, `make()` stored there readable by the owner only.

    The secret is written to a private temporary file and linked into place, so it is never
    readable by others, and two processes starting at once keep the first one's secret
    rather than reading a half-written file or overwriting each other.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(descriptor, "wb") as file:  # mkstemp creates it with mode 0600
                file.write(make())
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return path.read_bytes()
