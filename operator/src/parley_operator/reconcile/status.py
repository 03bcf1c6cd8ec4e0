"""What a Tenant's status says after each attempt: phase, users and the Ready condition.

Each handler ends in one `Outcome`; `patch()` turns it into the status fields of the CRD
(charts/parley-crds/files/tenants.parley.dev.yaml), keeping the Ready condition's
lastTransitionTime unless its status really changed (Kubernetes API conventions).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class Phase(enum.StrEnum):
    PENDING = "Pending"
    READY = "Ready"
    SUSPENDED = "Suspended"
    ERROR = "Error"
    DELETING = "Deleting"


class Reason(enum.StrEnum):
    RECONCILED = "Reconciled"
    SUSPENDED = "Suspended"
    INVALID_SPEC = "InvalidSpec"
    SLUG_TAKEN = "SlugTaken"
    ADMIN_SECRET_INVALID = "AdminSecretInvalid"
    TENANT_EXISTS = "TenantExists"
    ADMIN_USER_EXISTS = "AdminUserExists"
    SECRET_CONFLICT = "SecretConflict"
    KUBERNETES_UNAVAILABLE = "KubernetesUnavailable"
    # AuthUnavailable, ChatUnavailable, AuthUnauthorized, ChatUnauthorized come from
    # services.Unavailable.reason as plain strings.


@dataclass(frozen=True)
class Outcome:
    phase: Phase
    ready: bool
    reason: str
    message: str
    users: int | None = None
    admin_secret_name: str | None = None


def provisioned(*, suspended: bool, users: int, admin_secret_name: str | None) -> Outcome:
    if suspended:
        return Outcome(
            Phase.SUSPENDED,
            ready=False,
            reason=Reason.SUSPENDED,
            message="the tenant is suspended: logins and registrations answer 403 "
            "until spec.suspended is false",
            users=users,
            admin_secret_name=admin_secret_name,
        )
    return Outcome(
        Phase.READY,
        ready=True,
        reason=Reason.RECONCILED,
        message=f"the tenant is provisioned in auth with {users} user(s)",
        users=users,
        admin_secret_name=admin_secret_name,
    )


def waiting(reason: str, detail: str, *, retry_in: float, deleting: bool = False) -> Outcome:
    """A dependency did not answer: say which, what happened, and when the next try is."""
    return Outcome(
        Phase.DELETING if deleting else Phase.PENDING,
        ready=False,
        reason=reason,
        message=f"{detail}; retrying in {retry_in:g} s",
    )


def failed(reason: Reason, message: str) -> Outcome:
    """The Tenant (or a Secret it names) must change before it can be applied."""
    return Outcome(Phase.ERROR, ready=False, reason=reason, message=message)


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str
    last_transition_time: str
    observed_generation: int | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Condition:
        return cls(
            type=str(raw.get("type", "")),
            status=str(raw.get("status", "Unknown")),
            reason=str(raw.get("reason", "")),
            message=str(raw.get("message", "")),
            last_transition_time=str(raw.get("lastTransitionTime", "")),
            observed_generation=raw.get("observedGeneration"),
        )

    def as_dict(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": self.last_transition_time,
        }
        if self.observed_generation is not None:
            fields["observedGeneration"] = self.observed_generation
        return fields


def patch(
    outcome: Outcome,
    *,
    previous: Sequence[Condition],
    generation: int | None,
    now: datetime,
) -> dict[str, Any]:
    """The `status` fields to merge-patch for `outcome`."""
    ready_status = "True" if outcome.ready else "False"
    before = next((condition for condition in previous if condition.type == "Ready"), None)
    if before is None or before.status != ready_status:
        transition = _rfc3339(now)
    else:
        transition = before.last_transition_time
    ready = Condition(
        type="Ready",
        status=ready_status,
        reason=outcome.reason,
        message=outcome.message,
        last_transition_time=transition,
        observed_generation=generation,
    )
    others = [condition for condition in previous if condition.type != "Ready"]
    fields: dict[str, Any] = {
        "phase": outcome.phase.value,
        "conditions": [ready.as_dict(), *(condition.as_dict() for condition in others)],
    }
    if generation is not None:
        fields["observedGeneration"] = generation
    if outcome.users is not None:
        fields["users"] = outcome.users
    if outcome.phase in (Phase.READY, Phase.SUSPENDED):
        # None removes the field (merge patch) once the admin is no longer managed.
        fields["adminSecretName"] = outcome.admin_secret_name
    return fields


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
