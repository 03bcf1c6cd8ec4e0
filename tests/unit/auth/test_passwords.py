"""parley_auth.domain.passwords: argon2id, and equal cost for unknown users."""

from __future__ import annotations

import asyncio

from parley_auth.domain.passwords import PasswordHasher


def _hasher(**overrides: int) -> PasswordHasher:
    params = {"time_cost": 1, "memory_kib": 64, "parallelism": 1, "concurrency": 2, **overrides}
    return PasswordHasher(**params)


def test_hashes_are_argon2id_and_verify() -> None:
    hasher = _hasher()
    password_hash = asyncio.run(hasher.hash("correct horse"))
    assert password_hash.startswith("$argon2id$")
    assert asyncio.run(hasher.verify(password_hash, "correct horse"))
    assert not asyncio.run(hasher.verify(password_hash, "wrong horse"))


def test_an_unknown_user_never_verifies_whatever_the_password() -> None:
    assert not asyncio.run(_hasher().verify(None, "anything at all"))


def test_a_corrupt_stored_hash_fails_closed() -> None:
    assert not asyncio.run(_hasher().verify("not-a-hash", "anything"))


def test_stronger_parameters_ask_for_a_rehash() -> None:
    weak = asyncio.run(_hasher().hash("correct horse"))
    assert _hasher(time_cost=2).needs_rehash(weak)
    assert not _hasher().needs_rehash(weak)


def test_the_default_parameters_are_rfc_9106_low_memory() -> None:
    from parley_auth.settings import AuthSettings

    settings = AuthSettings(_env_file=None)
    assert (settings.argon2.time_cost, settings.argon2.memory_kib, settings.argon2.parallelism) == (
        3,
        65_536,
        4,
    )
