"""The auth service's Prometheus metrics (docs/observability.md). Label values come from
the fixed sets written here, and every labelled series exists from import on."""

from __future__ import annotations

from prometheus_client import Counter

from parley_core.metrics import RATE_LIMITED

LOGIN_OUTCOMES = (
    "success",
    "bad_credentials",  # 401: unknown tenant or user, or a wrong password
    "rate_limited",  # 429: too many failures for the account or address, or logins from it
    "suspended",  # 403 after the right password
)
LOGINS = Counter(
    "parley_auth_logins_total",
    "Login attempts, by outcome: success, bad_credentials, rate_limited, suspended.",
    ["outcome"],
)

PASSWORD_VERIFICATIONS = Counter(
    "parley_auth_password_verifications_total",
    "argon2 verifications of a login's password (unknown users included): the CPU logins cost.",
)

PASSWORD_CHANGE_OUTCOMES = (
    "changed",  # 204
    "wrong_password",  # 401, counted as a failed login
    "raced",  # 401: another change of the same password won
)
PASSWORD_CHANGES = Counter(
    "parley_auth_password_changes_total",
    "Password changes (POST /v1/auth/password), by outcome: changed, wrong_password, raced.",
    ["outcome"],
)

REGISTRATIONS = Counter(
    "parley_auth_registrations_total",
    "Users who registered themselves (POST /v1/auth/register answered 201).",
)

REFRESH_TOKEN_REUSE = Counter(
    "parley_auth_refresh_token_reuse_total",
    "Refresh tokens presented a second time: treated as theft, the whole login is revoked.",
)

for _outcome in LOGIN_OUTCOMES:
    LOGINS.labels(outcome=_outcome)
for _outcome in PASSWORD_CHANGE_OUTCOMES:
    PASSWORD_CHANGES.labels(outcome=_outcome)
for _limit in ("login_account", "login_address", "logins_address", "registrations_address"):
    RATE_LIMITED.labels(limit=_limit)
