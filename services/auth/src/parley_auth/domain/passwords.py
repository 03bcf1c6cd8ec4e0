"""argon2id hashing off the event loop, with a bounded number of hashes in flight.

argon2-cffi releases the GIL while hashing, so worker threads give real parallelism; the
limiter caps memory at `concurrency * memory_kib` however many logins arrive at once.
"""

from __future__ import annotations

import secrets

import anyio.to_thread
import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from parley_auth import metrics


class PasswordHasher:
    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int, concurrency: int):
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._limiter = anyio.CapacityLimiter(concurrency)
        # Unknown users are verified against this, so a miss costs what a wrong password
        # costs and response timing does not reveal which usernames exist.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password, limiter=self._limiter)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; with no hash, spends the same time and says False."""
        metrics.PASSWORD_VERIFICATIONS.inc()
        return await anyio.to_thread.run_sync(
            self._verify, password_hash, password, limiter=self._limiter
        )

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            self._hasher.verify(password_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
