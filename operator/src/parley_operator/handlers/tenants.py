"""Tenant handlers: provision on create/update/resume, refresh on a timer, purge on delete.

Where this sits: `main.build_registry` hands kopf's arguments to these functions; they
parse the resource (`spec.parse`), call auth, chat and the Kubernetes API, ask
`reconcile` what to do and what to report, and end every attempt by writing the status.
They are plain async functions, so tests call them directly against real services.

Failure policy (issue 7): a service that does not answer is a `kopf.TemporaryError` with
a doubling delay, `Ready=False` and `Reconciling=True` naming the service; a spec that
cannot work is a `kopf.PermanentError` with `Stalled=True`, `phase: Error` and a message
that says what to change.

Takeover (hardening issue, item 6): a Tenant changes or purges only the auth tenant it
created, which `status.ownsTenant` records (status is written by the operator alone), and
the admin user and `<name>-admin` Secret it made, which the Secret's owner reference
records. Anything else of the same name is refused with a reason (`TenantExists`,
`AdminUserExists`, `SecretConflict`) unless the resource sets `spec.adopt`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

import kopf

from parley_operator import kube, services, spec
from parley_operator.handlers import server_keys
from parley_operator.reconcile import status, tenants
from parley_operator.settings import OperatorSettings

MANAGED_BY = {"app.kubernetes.io/managed-by": "parley-operator"}
# status field: auth's tenant was created (or, with spec.adopt, taken over) by this Tenant.
OWNS_TENANT = "ownsTenant"
# status field: the names of the server keys this Tenant issued (handlers.server_keys).
SERVER_KEYS = "serverKeys"


class Context:
    """The operator's clients, built once per process from its settings."""

    def __init__(self, settings: OperatorSettings) -> None:
        self.settings = settings
        token = settings.admin_token.get_secret_value()
        timeout = settings.request_timeout_seconds
        self.auth = services.AuthApi(settings.auth_url, token, timeout=timeout)
        self.chat = services.ChatApi(settings.chat_url, token, timeout=timeout)
        self.kubernetes = kube.Kubernetes()

    def backoff(self, retry: int) -> float:
        return tenants.backoff(
            retry,
            first=self.settings.retry_delay_seconds,
            cap=self.settings.retry_max_delay_seconds,
        )

    async def aclose(self) -> None:
        await self.auth.aclose()
        await self.chat.aclose()
        await self.kubernetes.aclose()


@dataclass(frozen=True)
class Event:
    """What kopf hands every Tenant handler, reduced to what they use."""

    body: kopf.Body
    patch: kopf.Patch
    retry: int
    logger: kopf.Logger
    claims: Iterable[tenants.Claim] = ()


class AdminSecretInvalid(Exception):
    """The Secret the spec points at is missing or holds no usable password."""


class NotOurs(Exception):
    """Something this Tenant would change already exists and was not made by it."""

    def __init__(self, reason: status.Reason, message: str) -> None:
        self.reason = reason
        super().__init__(message)


async def apply(context: Context, event: Event) -> None:
    """On create, update and resume: make auth and `<name>-admin` match the spec."""
    tenant = _parse_or_fail(event)
    _fail_if_taken(tenant, event)
    await _converge(context, tenant, event)


async def refresh(context: Context, event: Event) -> None:
    """The timer: refresh `status.users`, and re-apply the spec when auth drifted from it
    (a tenant deleted or changed behind the operator's back) or the last attempt failed."""
    if event.body.meta.get("deletionTimestamp"):
        return
    try:
        tenant = spec.parse(event.body.meta.name or "", _namespace(event), event.body.spec)
    except spec.InvalidSpec:
        return  # the change handlers reported it; only a new spec can help
    if _taken_by(tenant, event) is not None or _ready_reason(event) == status.Reason.INVALID_SPEC:
        return  # likewise: auth refused this spec, and will until it changes
    try:
        actual = await context.auth.get_tenant(tenant.slug)
    except services.Unavailable as exc:
        _wait(context, event, exc.reason, exc.detail, exc)
    drifted = tenants.drifted(tenant, actual)
    settled = event.body.status.get("phase") in (status.Phase.READY, status.Phase.SUSPENDED)
    # Server keys live in Secrets anyone with access may delete: checking them takes the
    # whole (idempotent) convergence, so a lost key is re-issued within one interval.
    keyed = bool(tenant.spec.server_keys or event.body.status.get(SERVER_KEYS))
    if drifted or actual is None or not settled or keyed:
        if drifted:
            event.logger.warning("Auth does not hold this tenant as specified; re-applying.")
        await _converge(context, tenant, event)
        return
    _report(
        event,
        status.provisioned(
            suspended=tenant.spec.suspended,
            users=actual.users,
            admin_secret_name=tenant.admin_secret_name if tenant.spec.admin else None,
        ),
    )


async def retire(context: Context, event: Event) -> None:
    """On delete, under the finalizer: purge chat, then auth. Returning lets kopf remove
    the finalizer, so this returns only after both answered 204."""
    name = event.body.meta.name or ""
    if not spec.SLUG_PATTERN.fullmatch(name):
        event.logger.info("The name is not a tenant slug, so nothing was provisioned.")
        return
    first = tenants.owner(event.claims)
    if first is not None and first.namespace != _namespace(event):
        event.logger.info(f"The slug belongs to the Tenant in {first.namespace!r}; not purged.")
        return
    if not _owns_tenant(event.body):
        event.logger.info("This Tenant never created or adopted the tenant in auth; not purged.")
        return
    try:
        # Chat first: while auth still holds the tenant nobody can re-create the slug and
        # inherit chat data that a failed purge left behind.
        await context.chat.delete_tenant(name)
        await context.auth.delete_tenant(name)
    except services.Unavailable as exc:
        _wait(context, event, exc.reason, exc.detail, exc, deleting=True)
    event.logger.info("Purged the tenant from chat and auth.")


async def _converge(context: Context, tenant: spec.Tenant, event: Event) -> None:
    try:
        outcome = await _provision(context, tenant, event)
    except services.Unavailable as exc:
        _wait(context, event, exc.reason, exc.detail, exc)
    except kube.KubernetesUnavailable as exc:
        _wait(context, event, status.Reason.KUBERNETES_UNAVAILABLE, str(exc), exc)
    except AdminSecretInvalid as exc:
        # Not a spec error: fixing the Secret fixes it, without touching the Tenant, so
        # keep retrying (the timer retries too) instead of giving up.
        delay = context.backoff(event.retry)
        _report(event, status.failed(status.Reason.ADMIN_SECRET_INVALID, str(exc)))
        raise kopf.TemporaryError(str(exc), delay=delay) from exc
    except NotOurs as exc:
        # Permanent for this spec; the timer still re-applies (phase Error is not settled),
        # so removing the other tenant, user or Secret heals it without touching the Tenant.
        _report(event, status.failed(exc.reason, str(exc)))
        raise kopf.PermanentError(str(exc)) from exc
    except services.Refused as exc:
        message = (
            f"{exc.service} refused the tenant ({exc.status_code}): {exc.detail}. "
            "Fix the Tenant and apply it again."
        )
        _report(event, status.failed(status.Reason.INVALID_SPEC, message))
        raise kopf.PermanentError(message) from exc
    _report(event, outcome)


async def _provision(context: Context, tenant: spec.Tenant, event: Event) -> status.Outcome:
    # Checked until the first PUT only: once ours, a tenant deleted behind the operator's
    # back is simply created again.
    if (
        not _owns_tenant(event.body)
        and not tenant.spec.adopt
        and await context.auth.get_tenant(tenant.slug) is not None
    ):
        raise NotOurs(
            status.Reason.TENANT_EXISTS,
            f"auth already holds a tenant {tenant.slug!r} that this Tenant did not create: "
            "set spec.adopt to true to take it over (its settings become this spec's and "
            "deleting the Tenant purges it), or choose another name",
        )
    state = await context.auth.put_tenant(tenant.slug, tenants.desired(tenant))
    if event.body.status.get(OWNS_TENANT) is not True:
        event.patch.status[OWNS_TENANT] = True
    admin = tenant.spec.admin
    if admin is not None:
        await _provision_admin(context, tenant, admin, event.body)
        # The count auth gave before the admin existed may be one short.
        state = await context.auth.get_tenant(tenant.slug) or state
    managed = event.body.status.get(SERVER_KEYS) or []
    if tenant.spec.server_keys or managed:
        try:
            names = await server_keys.converge(
                context.auth,
                context.kubernetes,
                tenant,
                owner=event.body,
                managed=[str(name) for name in managed],
                url=context.settings.api_url(),
            )
        except server_keys.SecretTaken as exc:
            raise NotOurs(status.Reason.SECRET_CONFLICT, str(exc)) from exc
        if list(managed) != names:
            event.patch.status[SERVER_KEYS] = names
    return status.provisioned(
        suspended=tenant.spec.suspended,
        users=state.users,
        admin_secret_name=tenant.admin_secret_name if admin is not None else None,
    )


async def _provision_admin(
    context: Context, tenant: spec.Tenant, admin: spec.Admin, owner: kopf.Body
) -> None:
    referenced = await _referenced_password(context, tenant, admin)
    name = tenant.admin_secret_name
    # The Secret is settled before the user is: when two attempts race (the timer and a
    # change handler), the loser of the create reads the winner's password and uses it.
    for _ in range(3):
        existing = await context.kubernetes.read_secret(tenant.namespace, name)
        ours = existing is not None and _owned(existing, owner)
        if existing is not None and not ours and not tenant.spec.adopt:
            raise NotOurs(
                status.Reason.SECRET_CONFLICT,
                f"a Secret {name!r} that this Tenant does not own already exists in namespace "
                f"{tenant.namespace!r}: delete or rename it, or set spec.adopt to true to take "
                "it over (it is then overwritten, and deleted with the Tenant)",
            )
        # The user is ours when the Secret we own already names it; otherwise it must not
        # exist yet, or its password would be replaced by someone who never held it.
        managed = ours and existing is not None and existing.data.get("username") == admin.username
        if (
            not managed
            and not tenant.spec.adopt
            and await context.auth.user_exists(tenant.slug, admin.username)
        ):
            raise NotOurs(
                status.Reason.ADMIN_USER_EXISTS,
                f"the tenant already has a user {admin.username!r} that this Tenant did not "
                "create: choose another spec.admin.username, or set spec.adopt to true to "
                "take the user over (its password is replaced)",
            )
        password = tenants.admin_password(
            username=admin.username,
            referenced=referenced,
            existing=existing.data if existing else None,
        )
        url = context.settings.api_url()
        data = tenants.admin_secret_data(tenant, admin.username, password, url)
        labels = {**MANAGED_BY, "parley.dev/tenant": tenant.slug}
        manifest = kube.manifest(name, data, labels=labels)
        kopf.adopt(manifest, owner=owner)
        if existing is None:
            try:
                await context.kubernetes.create_secret(tenant.namespace, manifest)
            except kube.AlreadyExists:
                continue
        elif {key: existing.data.get(key) for key in data} != data or not _owned(existing, owner):
            metadata = manifest["metadata"]
            await context.kubernetes.patch_secret(
                tenant.namespace,
                name,
                {
                    "metadata": {
                        "labels": metadata["labels"],
                        "ownerReferences": metadata["ownerReferences"],
                    },
                    "data": manifest["data"],
                },
            )
        break
    else:
        raise kube.KubernetesUnavailable(f"Secret {name!r} kept changing while being written")
    await context.auth.put_user(tenant.slug, admin.username, password)


async def _referenced_password(
    context: Context, tenant: spec.Tenant, admin: spec.Admin
) -> str | None:
    ref = admin.password_secret_ref
    if ref is None:
        return None
    source = await context.kubernetes.read_secret(tenant.namespace, ref.name)
    where = f"Secret {ref.name!r} in namespace {tenant.namespace!r}"
    if source is None:
        raise AdminSecretInvalid(
            f"spec.admin.passwordSecretRef names {where}, which does not exist: create it "
            f"with the admin's password under the key {ref.key!r}"
        )
    password = source.data.get(ref.key)
    if password is None:
        raise AdminSecretInvalid(f"{where} has no key {ref.key!r} holding the admin's password")
    if not tenants.valid_password(password):
        raise AdminSecretInvalid(
            f"the password in {where}, key {ref.key!r}, has {len(password)} characters; "
            f"auth takes {tenants.PASSWORD_MIN} to {tenants.PASSWORD_MAX}"
        )
    return password


def _parse_or_fail(event: Event) -> spec.Tenant:
    try:
        return spec.parse(event.body.meta.name or "", _namespace(event), event.body.spec)
    except spec.InvalidSpec as exc:
        _report(event, status.failed(status.Reason.INVALID_SPEC, str(exc)))
        raise kopf.PermanentError(str(exc)) from None


def _taken_by(tenant: spec.Tenant, event: Event) -> tenants.Claim | None:
    first = tenants.owner(event.claims)
    if first is None or first.namespace == tenant.namespace:
        return None
    return first


def _fail_if_taken(tenant: spec.Tenant, event: Event) -> None:
    first = _taken_by(tenant, event)
    if first is not None:
        message = (
            f"the tenant slug {tenant.slug!r} already belongs to the Tenant in namespace "
            f"{first.namespace!r}: tenants are global to Parley, so rename this one"
        )
        _report(event, status.failed(status.Reason.SLUG_TAKEN, message))
        raise kopf.PermanentError(message)


def _wait(
    context: Context,
    event: Event,
    reason: str,
    detail: str,
    cause: Exception,
    *,
    deleting: bool = False,
) -> NoReturn:
    delay = context.backoff(event.retry)
    _report(event, status.waiting(reason, detail, retry_in=delay, deleting=deleting))
    raise kopf.TemporaryError(f"{reason}: {detail}", delay=delay) from cause


def _report(event: Event, outcome: status.Outcome) -> None:
    raw = event.body.status.get("conditions") or []
    previous = [status.Condition.parse(item) for item in raw if isinstance(item, Mapping)]
    generation = event.body.meta.get("generation")
    event.patch.status.update(
        status.patch(
            outcome,
            previous=previous,
            generation=generation if isinstance(generation, int) else None,
            now=datetime.now(UTC),
        )
    )


def _ready_reason(event: Event) -> str | None:
    for item in event.body.status.get("conditions") or []:
        if isinstance(item, Mapping) and item.get("type") == "Ready":
            return str(item.get("reason"))
    return None


def _owns_tenant(body: kopf.Body) -> bool:
    # Tenants reconciled before `ownsTenant` existed show it by having been Ready.
    return body.status.get(OWNS_TENANT) is True or body.status.get("phase") in (
        status.Phase.READY,
        status.Phase.SUSPENDED,
    )


def _owned(secret: kube.Secret, owner: kopf.Body) -> bool:
    return owner.meta.uid in secret.owner_uids


def _namespace(event: Event) -> str:
    return event.body.meta.namespace or ""


def claim(name: str, namespace: str | None, meta: Mapping[str, Any]) -> dict[str, tenants.Claim]:
    """The index entry for one Tenant: its slug, claimed by its namespace since creation."""
    created = meta.get("creationTimestamp")
    return {name: tenants.Claim(created=str(created or ""), namespace=namespace or "")}
