"""What every part of `AuthService` shares: its dependencies and policies. The parts
(`accounts`, `logins`, `tenants`) add operations; `service.AuthService` puts them together
as the one entry point the API calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_auth.domain.passwords import PasswordHasher
from parley_auth.domain.signing import SigningKey
from parley_core import ratelimit


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """docs/api.md "Auth API": failed logins per account and per address, and all logins
    per address (each costs an argon2 verification), in windows of `window_seconds`."""

    failures_per_account: int
    failures_per_address: int
    logins_per_address: int
    window_seconds: int


@dataclass(frozen=True, slots=True)
class RegistrationPolicy:
    """Self-registrations per client address, in windows of `window_seconds`."""

    per_address: int
    window_seconds: int


@dataclass(frozen=True, slots=True)
class TenantApiPolicy:
    """Requests one server key may make to `/v1/tenant` routes per `window_seconds`."""

    per_key: int = 1200
    window_seconds: int = 60


@dataclass(frozen=True, kw_only=True)
class ServiceBase:
    sessions: async_sessionmaker[AsyncSession]
    hasher: PasswordHasher
    signing_key: SigningKey
    failures: ratelimit.WindowCounter
    """Counts failed logins, a guard against guessing: shared by every replica, and it
    fails closed."""
    capacity: ratelimit.WindowCounter
    """Counts what only costs CPU (logins and registrations per address); it may fall
    back to one process's count."""
    login_policy: LoginPolicy
    registration_policy: RegistrationPolicy
    access_ttl: timedelta
    refresh_ttl: timedelta
    tenant_api_policy: TenantApiPolicy = TenantApiPolicy()


def may_be_stored(*texts: str) -> bool:
    """False for text no name holds (docs/api.md "Names"): NUL, which PostgreSQL text
    refuses outright, so looking it up would be a 500 rather than a miss."""
    return not any("\x00" in text for text in texts)
