"""What the embedded default keeps on disk: secrets it generates once (signing key, admin
token) and its SQLite files, all readable by the owner only.

Each SQLite database holds password hashes, refresh-token digests and every message, and
sits beside the signing key: a data directory other local users can read gives them all of
it. The directory is made 0700 and each file 0600; SQLite gives a database's -wal, -shm
and -journal files the database file's own mode, so those stay private too.
"""

from __future__ import annotations

import os
import stat
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
        private_directory(path.parent)
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


def private_directory(path: Path) -> None:
    """Create `path` (and missing parents) readable by the owner only.

    A directory that already exists keeps its mode: it may be one the operator chose and
    shares (a volume, a home directory); the files made in it are private themselves.
    """
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)


def private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 when it is absent; make an existing one this
    process owns 0600 (a database an older version left readable by others)."""
    private_directory(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        info = path.stat()
        if info.st_uid == os.getuid() and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            path.chmod(0o600)
