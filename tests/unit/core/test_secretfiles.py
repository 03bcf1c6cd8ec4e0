"""parley_core.secretfiles: generated-once secrets, private from the first byte."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from parley_core import secretfiles


def test_a_missing_secret_is_made_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "token"
    first = secretfiles.read_or_create(path, lambda: b"first")
    second = secretfiles.read_or_create(path, lambda: b"second")
    assert (first, second) == (b"first", b"first")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [entry.name for entry in path.parent.iterdir()] == ["token"]


def test_racing_creators_all_read_the_one_secret_that_won(tmp_path: Path) -> None:
    path = tmp_path / "token"
    barrier = threading.Barrier(16)
    results: list[bytes] = []

    def create(index: int) -> None:
        barrier.wait()
        results.append(secretfiles.read_or_create(path, lambda: f"secret-{index}".encode() * 1000))

    threads = [threading.Thread(target=create, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert results[0] == path.read_bytes()
