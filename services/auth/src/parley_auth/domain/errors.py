"""What the auth rules refuse, each with the status docs/api.md gives it."""

from __future__ import annotations

from parley_core import errors


class UnknownTenant(errors.NotFound):
    detail = "unknown tenant"


class TenantSuspended(errors.Forbidden):
    detail = "tenant suspended"


class RegistrationClosed(errors.Forbidden):
    detail = "self-registration is off for this tenant"


class TenantFull(errors.Forbidden):
    detail = "tenant has reached its user limit"


class UsernameTaken(errors.Conflict):
    detail = "username taken"


class BadCredentials(errors.Unauthorized):
    # docs/api.md: the same answer whether the user exists or not.
    detail = "invalid tenant, username or password"


class WrongCurrentPassword(errors.Unauthorized):
    detail = "current_password is wrong"


class InvalidRefreshToken(errors.Unauthorized):
    detail = "refresh token is unknown, expired, revoked or already used"


class TooManyLoginFailures(errors.TooManyRequests):
    detail = "too many failed logins; try again later"


class TooManyLogins(errors.TooManyRequests):
    detail = "too many logins from this address; try again later"


class TooManyRegistrations(errors.TooManyRequests):
    detail = "too many registrations from this address; try again later"


class ServerKeyNameTaken(errors.Conflict):
    detail = "the tenant already has a server key of that name"


class UnknownServerKey(errors.NotFound):
    detail = "unknown or revoked server key"


class UnknownUser(errors.NotFound):
    detail = "unknown user"


class TooManyTenantRequests(errors.TooManyRequests):
    detail = "too many requests with this server key; try again later"
