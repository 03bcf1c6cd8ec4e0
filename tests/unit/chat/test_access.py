"""Which tokens chat still accepts for a tenant (parley_chat.domain.access)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from parley_chat.domain import access
from parley_chat.domain.directory import TenantPolicy
from parley_chat.domain.service import Caller

CREATED = datetime(2026, 3, 1, 12, 0, 0, 700_000, tzinfo=UTC)
TENANT_ID = uuid.uuid4()


def _policy(*, suspended: bool = False) -> TenantPolicy:
    return TenantPolicy(120, 4000, suspended, tenant_id=TENANT_ID, created_at=CREATED)


def _credential(tenant_id: uuid.UUID | None, issued_at: datetime) -> access.Credential:
    caller = Caller(tenant="acme", user_id=uuid.uuid4(), username="alice")
    return access.Credential(caller, tenant_id=tenant_id, issued_at=issued_at)


def test_a_token_of_this_incarnation_is_active_or_suspended_with_its_tenant() -> None:
    token = _credential(TENANT_ID, CREATED + timedelta(minutes=1))
    assert access.standing(_policy(), token) is access.Standing.ACTIVE
    assert access.standing(_policy(suspended=True), token) is access.Standing.SUSPENDED


def test_a_token_of_an_earlier_incarnation_or_a_deleted_tenant_is_gone() -> None:
    token = _credential(uuid.uuid4(), CREATED + timedelta(minutes=1))
    assert access.standing(_policy(), token) is access.Standing.GONE
    assert access.standing(None, _credential(TENANT_ID, CREATED)) is access.Standing.GONE


def test_a_token_without_tenant_id_is_accepted_only_if_issued_after_the_tenant_was_created() -> (
    None
):
    # `iat` has whole seconds: a token from the second the tenant was created in counts.
    same_second = CREATED.replace(microsecond=0)
    assert access.standing(_policy(), _credential(None, same_second)) is access.Standing.ACTIVE
    older = same_second - timedelta(seconds=1)
    assert access.standing(_policy(), _credential(None, older)) is access.Standing.GONE
