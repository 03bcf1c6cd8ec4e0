"""The auth service's operations, the one entry point the API calls. Each is a
transaction and hands back views (`domain.views`), never rows; the API layer only
translates.

The operations live with their concern: `accounts`, `logins` (and their tokens),
`tenants`; what they share is in `base`.
"""

from __future__ import annotations

from parley_auth.domain.accounts import Accounts
from parley_auth.domain.base import LoginPolicy, RegistrationPolicy
from parley_auth.domain.logins import Logins
from parley_auth.domain.tenants import Tenants
from parley_auth.domain.views import TenantLimits, TenantSpec, TenantView, TokenPair, UserView

__all__ = [
    "AuthService",
    "LoginPolicy",
    "RegistrationPolicy",
    "TenantLimits",
    "TenantSpec",
    "TenantView",
    "TokenPair",
    "UserView",
]


class AuthService(Accounts, Logins, Tenants):
    pass
