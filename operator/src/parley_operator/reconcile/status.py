"""What a Tenant's status says after each attempt: phase, users and the conditions.

Each handler ends in one `Outcome`; `patch()` turns it into the status fields of the CRD
(charts/parley-crds/files/tenants.parley.dev.yaml). The conditions follow the Kubernetes
API conventions (and kstatus, which `kubectl wait` and Flux/Argo read):

- `Ready`: True once auth holds the tenant as specified, suspended or not, so
  `kubectl wait --for=condition=Ready` ends for a suspended tenant too;
- `Reconciling`: True while the operator is still working towards the spec (a service
  did not answer and the next attempt is scheduled);
- `Stalled`: True when no retry can help until someone changes the Tenant or a Secret
  it names (the reason says which: InvalidSpec, TenantExists, ...);
- `Suspended`: whether `spec.suspended` is applied; written once the tenant is provisioned.

Each condition carries `observedGeneration`, and its `lastTransitionTime` moves only
when its status really changes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
SUSPENDED = "Suspended"
CONDITION_TYPES = (READY, RECONCILING, STALLED, SUSPENDED)


class Phase(enum.StrEnum):
    PENDING = "Pending"
    READY = "Ready"
    SUSPENDED = "Suspended"
    ERROR = "Error"
    DELETING = "Deleting"


class Reason(enum.StrEnum):
    RECONCILED = "Reconciled"
    SUSPENDED = "Suspended"
    ACTIVE = "Active"
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
    reconciling: bool = False
    """A later attempt is scheduled that may succeed without anyone changing anything."""
    stalled: bool = False
    """Nothing will succeed until the Tenant, or a Secret it names, changes."""
    suspended: bool | None = None
    """Whether spec.suspended is applied in auth; None: not known from this attempt."""


def provisioned(*, suspended: bool, users: int, admin_secret_name: str | None) -> Outcome:
    if suspended:
        return Outcome(
            Phase.SUSPENDED,
            ready=True,
            reason=Reason.SUSPENDED,
            message="the tenant is provisioned and suspended: logins and registrations "
            "answer 403 until spec.suspended is false",
            users=users,
            admin_secret_name=admin_secret_name,
            suspended=True,
        )
    return Outcome(
        Phase.READY,
        ready=True,
        reason=Reason.RECONCILED,
        message=f"the tenant is provisioned in auth with {users} user(s)",
        users=users,
        admin_secret_name=admin_secret_name,
        suspended=False,
    )


def waiting(reason: str, detail: str, *, retry_in: float, deleting: bool = False) -> Outcome:
    """A dependency did not answer: say which, what happened, and when the next try is."""
    return Outcome(
        Phase.DELETING if deleting else Phase.PENDING,
        ready=False,
        reason=reason,
        message=f"{detail}; retrying in {retry_in:g} s",
        reconciling=True,
    )


def failed(reason: Reason, message: str) -> Outcome:
    """The Tenant (or a Secret it names) must change before it can be applied."""
    return Outcome(Phase.ERROR, ready=False, reason=reason, message=message, stalled=True)


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
    before = {condition.type: condition for condition in previous}

    def condition(kind: str, value: bool, reason: str, message: str) -> Condition:
        status = "True" if value else "False"
        old = before.get(kind)
        if old is None or old.status != status:
            transition = _rfc3339(now)
        else:
            transition = old.last_transition_time
        return Condition(
            type=kind,
            status=status,
            reason=reason,
            message=message,
            last_transition_time=transition,
            observed_generation=generation,
        )

    written = [
        condition(READY, outcome.ready, outcome.reason, outcome.message),
        condition(
            RECONCILING,
            outcome.reconciling,
            outcome.reason if outcome.reconciling else Reason.RECONCILED,
            outcome.message if outcome.reconciling else "no attempt is pending",
        ),
        condition(
            STALLED,
            outcome.stalled,
            outcome.reason if outcome.stalled else Reason.RECONCILED,
            outcome.message if outcome.stalled else "nothing blocks the tenant",
        ),
    ]
    if outcome.suspended is not None:
        written.append(
            condition(
                SUSPENDED,
                outcome.suspended,
                Reason.SUSPENDED if outcome.suspended else Reason.ACTIVE,
                "logins and registrations answer 403; data is kept"
                if outcome.suspended
                else "the tenant accepts logins",
            )
        )
    elif SUSPENDED in before:
        written.append(before[SUSPENDED])  # unknown this time: keep what was known
    ours = {item.type for item in written}
    others = [item for item in previous if item.type not in ours]
    fields: dict[str, Any] = {
        "phase": outcome.phase.value,
        "conditions": [item.as_dict() for item in (*written, *others)],
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
