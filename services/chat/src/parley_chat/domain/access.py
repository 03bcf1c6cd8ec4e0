"""Whether a verified access token may still act in its tenant, and whether it may write.

A valid signature says who auth vouched for when the token was issued; it does not say
that the tenant still is the one the token was issued in, nor that the tenant may write.
Both come from the tenant's policy, which chat already asks auth for and caches
(`parley_chat.peers.auth`, `PARLEY_AUTH_CACHE_SECONDS`), so this adds no call per request
once the cache is warm:

- A tenant deleted and created again under the same slug has a new id. A token of the old
  one names the old id in its `tenant_id` claim and is refused (401): its user may not
  exist any more, or may be someone else by the same name.
- A token issued before `tenant_id` existed is accepted until it expires (access tokens
  live minutes; refusing them would log every client out during an upgrade, and would
  refuse every token while chat runs ahead of auth), but only when it was issued after
  the tenant's current incarnation was created: a token older than the tenant cannot be
  one of its own.
- docs/api.md v1 additions: a suspended tenant refuses every write with 403 and closes
  its users' streams with 4403.
"""

from __future__ import annotations

import dataclasses
import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from parley_chat.domain import errors
from parley_chat.domain.directory import Directory, TenantPolicy
from parley_chat.domain.service import Caller


class Standing(enum.Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    GONE = "gone"
    """The tenant is deleted, or the token belongs to an earlier incarnation of it."""


@dataclass(frozen=True, slots=True)
class Credential:
    """A verified access token, as far as its tenant goes (the edges build it from the
    token's claims: the domain knows no token library)."""

    caller: Caller
    tenant_id: uuid.UUID | None
    """The `tenant_id` claim; None in a token issued before the claim existed."""
    issued_at: datetime | None


def standing(policy: TenantPolicy | None, credential: Credential) -> Standing:
    if policy is None or not _same_incarnation(policy, credential):
        return Standing.GONE
    return Standing.SUSPENDED if policy.suspended else Standing.ACTIVE


async def standing_of(directory: Directory, credential: Credential) -> Standing:
    """The token's standing now, from the (cached) tenant policy."""
    return standing(await directory.policy(credential.caller.tenant), credential)


async def admit(directory: Directory, credential: Credential, *, write: bool) -> Caller:
    """The caller the token names, refused when its tenant is gone (401) or, for a
    write, suspended (403)."""
    policy = await directory.policy(credential.caller.tenant)
    found = standing(policy, credential)
    if found is Standing.GONE:
        raise errors.TenantGone()
    if write and found is Standing.SUSPENDED:
        raise errors.TenantSuspended()
    return dataclasses.replace(credential.caller, policy=policy)


def _same_incarnation(policy: TenantPolicy, credential: Credential) -> bool:
    if policy.tenant_id is None:
        return True  # an auth that does not say which incarnation: nothing to compare
    if credential.tenant_id is not None:
        return credential.tenant_id == policy.tenant_id
    if credential.issued_at is None or policy.created_at is None:
        return True
    # `iat` has whole seconds: compare with the second the tenant was created in.
    return credential.issued_at.timestamp() >= int(policy.created_at.timestamp())
