"""From a Tenant's spec to what auth should hold, and who owns a slug.

Where this sits: `handlers.tenants` parses the resource (`spec.parse`), asks `desired()`
what to PUT, compares it with what auth reports (`drifted()`), and picks the admin's
password with `admin_password()`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from parley_operator import spec

ADMIN_SECRET_KEYS = ("username", "password", "tenant", "url")
# docs/api.md "Names": a password is 8 to 256 characters.
PASSWORD_MIN, PASSWORD_MAX = 8, 256


@dataclass(frozen=True)
class AuthTenant:
    """The body of auth's `PUT /internal/v1/tenants/{slug}`, and what GET reports back."""

    display_name: str
    self_registration: bool
    suspended: bool
    max_users: int
    messages_per_minute: int
    max_message_chars: int
    max_attachment_bytes: int

    def body(self) -> dict[str, Any]:
        return {
            "display_name": self.display_name,
            "self_registration": self.self_registration,
            "suspended": self.suspended,
            "limits": {
                "max_users": self.max_users,
                "messages_per_minute": self.messages_per_minute,
                "max_message_chars": self.max_message_chars,
                "max_attachment_bytes": self.max_attachment_bytes,
            },
        }


@dataclass(frozen=True)
class TenantState:
    """What auth reports for a tenant: its applied settings and its user count."""

    settings: AuthTenant
    users: int


def desired(tenant: spec.Tenant) -> AuthTenant:
    limits = tenant.spec.limits
    return AuthTenant(
        # Auth names an unnamed tenant after its slug; saying so here keeps GET and the
        # desired state comparable.
        display_name=tenant.spec.display_name or tenant.slug,
        self_registration=tenant.spec.self_registration,
        suspended=tenant.spec.suspended,
        max_users=limits.max_users,
        messages_per_minute=limits.messages_per_minute,
        max_message_chars=limits.max_message_chars,
        max_attachment_bytes=limits.max_attachment_bytes,
    )


def drifted(tenant: spec.Tenant, actual: TenantState | None) -> bool:
    """True when auth lacks the tenant or holds other settings than the spec."""
    return actual is None or actual.settings != desired(tenant)


def backoff(retry: int, *, first: float, cap: float) -> float:
    """Seconds before attempt `retry + 1`: doubling from `first`, never above `cap`."""
    return min(cap, first * 2.0 ** min(retry, 32))


@dataclass(frozen=True, order=True)
class Claim:
    """One Tenant resource claiming a slug; the oldest claim owns it."""

    created: str  # RFC 3339 creationTimestamp: sorts chronologically as text
    namespace: str


def owner(claims: Iterable[Claim]) -> Claim | None:
    """The Tenant that owns a slug: tenants are global in auth, resources are per namespace,
    so two namespaces may name the same slug and only the first one gets it."""
    return min(claims, default=None)


def admin_password(
    *,
    username: str,
    referenced: str | None,
    existing: dict[str, str] | None,
) -> str:
    """The admin's password: the referenced Secret's, else the one already handed out in
    `<name>-admin` for the same user (so reconciling twice changes nothing), else new."""
    if referenced is not None:
        return referenced
    if existing and existing.get("username") == username:
        password = existing.get("password")
        if password is not None and valid_password(password):
            return password
    return generate_password()


def generate_password() -> str:
    # 32 URL-safe characters, 192 bits: well inside the 8 to 256 characters auth accepts.
    return secrets.token_urlsafe(24)


def valid_password(password: str | None) -> bool:
    return password is not None and PASSWORD_MIN <= len(password) <= PASSWORD_MAX


def admin_secret_data(
    tenant: spec.Tenant, username: str, password: str, url: str
) -> dict[str, str]:
    """What `<name>-admin` holds: enough for a client to log in as the tenant's admin."""
    return {"username": username, "password": password, "tenant": tenant.slug, "url": url}
