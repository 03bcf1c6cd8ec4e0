"""The operator's decisions as pure functions: no kopf, no HTTP, no cluster."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from parley_operator import spec
from parley_operator.reconcile import status, tenants

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LATER = datetime(2026, 1, 2, 3, 9, 5, tzinfo=UTC)


def tenant(**fields: object) -> spec.Tenant:
    return spec.parse("acme", "default", fields)


def test_the_desired_auth_tenant_names_an_unnamed_tenant_after_its_slug() -> None:
    desired = tenants.desired(tenant(selfRegistration=True, limits={"maxUsers": 9}))
    assert desired.body() == {
        "display_name": "acme",
        "self_registration": True,
        "suspended": False,
        "limits": {
            "max_users": 9,
            "messages_per_minute": 120,
            "max_message_chars": 4000,
            "max_attachment_bytes": 26_214_400,
        },
    }


def test_a_tenant_drifted_when_auth_lacks_it_or_holds_other_settings() -> None:
    wanted = tenant(displayName="Acme")
    same = tenants.TenantState(tenants.desired(wanted), users=3)
    other = tenants.TenantState(tenants.desired(tenant(displayName="Other")), users=3)
    assert not tenants.drifted(wanted, same)
    assert tenants.drifted(wanted, other)
    assert tenants.drifted(wanted, None)


@pytest.mark.parametrize(
    ("retry", "delay"), [(0, 5.0), (1, 10.0), (3, 40.0), (6, 300.0), (10_000, 300.0)]
)
def test_the_backoff_doubles_from_the_first_delay_up_to_the_cap(retry: int, delay: float) -> None:
    assert tenants.backoff(retry, first=5.0, cap=300.0) == delay


def test_the_oldest_claim_owns_a_slug_and_namespaces_break_ties() -> None:
    early = tenants.Claim("2026-01-01T00:00:00Z", "zeta")
    late = tenants.Claim("2026-02-01T00:00:00Z", "alpha")
    tie = tenants.Claim("2026-01-01T00:00:00Z", "beta")
    assert tenants.owner([late, early]) == early
    assert tenants.owner([early, tie]) == tie
    assert tenants.owner([]) is None


def test_the_admin_password_prefers_the_referenced_secret_then_the_one_handed_out() -> None:
    existing = {"username": "root", "password": "handed out already"}
    assert (
        tenants.admin_password(username="root", referenced="from the secret", existing=existing)
        == "from the secret"
    )
    assert tenants.admin_password(username="root", referenced=None, existing=existing) == (
        "handed out already"
    )


def test_a_new_password_is_generated_for_a_new_admin_or_an_unusable_old_one() -> None:
    for existing in (
        None,
        {"username": "other", "password": "handed out already"},
        {"username": "root", "password": "short"},
    ):
        password = tenants.admin_password(username="root", referenced=None, existing=existing)
        assert tenants.valid_password(password)
        assert password != (existing or {}).get("password")
    assert tenants.admin_password(username="root", referenced=None, existing=None) != (
        tenants.admin_password(username="root", referenced=None, existing=None)
    )


def conditions(fields: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {condition["type"]: condition for condition in fields["conditions"]}


def test_a_ready_status_carries_phase_users_generation_and_the_four_conditions() -> None:
    outcome = status.provisioned(suspended=False, users=4, admin_secret_name="acme-admin")
    fields = status.patch(outcome, previous=[], generation=3, now=NOW)
    assert fields == {
        "phase": "Ready",
        "observedGeneration": 3,
        "users": 4,
        "adminSecretName": "acme-admin",
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Reconciled",
                "message": "the tenant is provisioned in auth with 4 user(s)",
                "lastTransitionTime": "2026-01-02T03:04:05Z",
                "observedGeneration": 3,
            },
            {
                "type": "Reconciling",
                "status": "False",
                "reason": "Reconciled",
                "message": "no attempt is pending",
                "lastTransitionTime": "2026-01-02T03:04:05Z",
                "observedGeneration": 3,
            },
            {
                "type": "Stalled",
                "status": "False",
                "reason": "Reconciled",
                "message": "nothing blocks the tenant",
                "lastTransitionTime": "2026-01-02T03:04:05Z",
                "observedGeneration": 3,
            },
            {
                "type": "Suspended",
                "status": "False",
                "reason": "Active",
                "message": "the tenant accepts logins",
                "lastTransitionTime": "2026-01-02T03:04:05Z",
                "observedGeneration": 3,
            },
        ],
    }


def test_each_transition_time_moves_only_when_its_own_status_changes() -> None:
    ready = status.provisioned(suspended=False, users=1, admin_secret_name=None)
    first = status.patch(ready, previous=[], generation=1, now=NOW)
    previous = [status.Condition.parse(item) for item in first["conditions"]]

    again = status.patch(ready, previous=previous, generation=1, now=LATER)
    assert {c["lastTransitionTime"] for c in again["conditions"]} == {"2026-01-02T03:04:05Z"}

    down = status.waiting("AuthUnavailable", "auth did not answer", retry_in=0.5)
    failed = conditions(status.patch(down, previous=previous, generation=1, now=LATER))
    assert failed["Ready"]["lastTransitionTime"] == "2026-01-02T03:09:05Z"
    assert failed["Reconciling"]["lastTransitionTime"] == "2026-01-02T03:09:05Z"
    # Stalled stayed False, and nothing was learnt about suspension: both keep their time.
    assert failed["Stalled"]["lastTransitionTime"] == "2026-01-02T03:04:05Z"
    assert failed["Suspended"]["lastTransitionTime"] == "2026-01-02T03:04:05Z"


def test_a_service_that_does_not_answer_makes_the_tenant_reconciling_not_stalled() -> None:
    down = status.waiting("AuthUnavailable", "auth did not answer", retry_in=0.5)
    fields = status.patch(down, previous=[], generation=1, now=NOW)
    found = conditions(fields)
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("False", "AuthUnavailable")
    assert found["Ready"]["message"] == "auth did not answer; retrying in 0.5 s"
    assert (found["Reconciling"]["status"], found["Reconciling"]["reason"]) == (
        "True",
        "AuthUnavailable",
    )
    assert found["Stalled"]["status"] == "False"
    assert "Suspended" not in found
    assert fields["phase"] == "Pending"
    assert "users" not in fields
    assert "adminSecretName" not in fields


@pytest.mark.parametrize(
    "reason",
    [
        status.Reason.INVALID_SPEC,
        status.Reason.TENANT_EXISTS,
        status.Reason.ADMIN_USER_EXISTS,
        status.Reason.SECRET_CONFLICT,
        status.Reason.SLUG_TAKEN,
    ],
)
def test_a_refusal_stalls_the_tenant_with_its_reason_and_is_not_ready(
    reason: status.Reason,
) -> None:
    fields = status.patch(status.failed(reason, "change it"), previous=[], generation=2, now=NOW)
    found = conditions(fields)
    assert (found["Stalled"]["status"], found["Stalled"]["reason"]) == ("True", reason.value)
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("False", reason.value)
    assert found["Reconciling"]["status"] == "False"
    assert fields["phase"] == "Error"


def test_conditions_of_other_types_are_kept() -> None:
    other = status.Condition("Audited", "True", "Checked", "", "2025-01-01T00:00:00Z")
    outcome = status.failed(status.Reason.INVALID_SPEC, "spec.limits.maxUsers: too small")
    fields = status.patch(outcome, previous=[other], generation=None, now=NOW)
    assert [c["type"] for c in fields["conditions"]] == [
        "Ready",
        "Reconciling",
        "Stalled",
        "Audited",
    ]
    assert "observedGeneration" not in fields


def test_a_suspended_tenant_is_ready_with_a_suspended_condition_saying_how_to_resume() -> None:
    outcome = status.provisioned(suspended=True, users=2, admin_secret_name=None)
    fields = status.patch(outcome, previous=[], generation=2, now=NOW)
    found = conditions(fields)
    assert fields["phase"] == "Suspended"
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("True", "Suspended")
    assert "spec.suspended is false" in found["Ready"]["message"]
    assert (found["Suspended"]["status"], found["Suspended"]["reason"]) == ("True", "Suspended")
    assert found["Stalled"]["status"] == found["Reconciling"]["status"] == "False"
    assert fields["adminSecretName"] is None


def test_the_admin_secret_holds_what_a_client_needs_to_log_in() -> None:
    data = tenants.admin_secret_data(tenant(), "root", "a long password", "https://x.test")
    assert data == {
        "username": "root",
        "password": "a long password",
        "tenant": "acme",
        "url": "https://x.test",
    }
    assert tuple(data) == tenants.ADMIN_SECRET_KEYS
