"""The auth service's operations, the one entry point the API calls. Each is a
transaction and hands back views (`domain.views`), never rows; the API layer only
translates.

The operations live with their concern: `accounts`, `logins` (and their tokens),
`tenants`, `server_keys` and `tenant_users` (a tenant backend's); what they share is in `base`.
"""

from __future__ import annotations

from parley_auth.domain.accounts import Accounts
from parley_auth.domain.base import LoginPolicy, RegistrationPolicy, TenantApiPolicy
from parley_auth.domain.logins import Logins
from parley_auth.domain.server_keys import ServerKeys
from parley_auth.domain.tenant_users import TenantUsers
from parley_auth.domain.tenants import Tenants
from parley_auth.domain.views import (
    ServerKeyView,
    TenantLimits,
    TenantSpec,
    TenantView,
    TokenPair,
    UserView,
)

__all__ = [
    "AuthService",
    "LoginPolicy",
    "RegistrationPolicy",
    "ServerKeyView",
    "TenantApiPolicy",
    "TenantLimits",
    "TenantSpec",
    "TenantView",
    "TokenPair",
    "UserView",
]


class AuthService(Accounts, TenantUsers, Logins, Tenants, ServerKeys):
    pass
