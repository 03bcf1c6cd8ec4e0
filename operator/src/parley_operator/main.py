"""Where kopf meets the operator: handler registration and nothing else.

`build_registry(settings)` is the composition root (shared/STYLE.md rule 4): it builds
the clients once from the settings and registers every handler on a registry of its
own, so each run (and each test) gets its own handlers and settings instead of kopf's
import-time global registry. The decisions live in `handlers` and `reconcile`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import kopf

from parley_operator import spec
from parley_operator.handlers import lifecycle, tenants
from parley_operator.reconcile.tenants import Claim
from parley_operator.settings import OperatorSettings

TENANTS = (spec.GROUP, spec.VERSION, spec.PLURAL)


def build_registry(settings: OperatorSettings) -> kopf.OperatorRegistry:
    # Handler ids are explicit: kopf keys its progress annotations on them
    # (`parley.dev/apply`), so they must not change when the code around them does.
    registry = kopf.OperatorRegistry()
    context = tenants.Context(settings)

    @kopf.on.startup(id="configure", registry=registry)
    def configure(*, settings: kopf.OperatorSettings, **_: Any) -> None:  # kopf's, not ours
        lifecycle.configure(settings)

    @kopf.on.login(id="login", registry=registry)
    async def login(**kwargs: Any) -> kopf.ConnectionInfo:
        return await lifecycle.login(context, **kwargs)

    @kopf.on.cleanup(id="close-clients", registry=registry)
    async def close_clients(**_: Any) -> None:
        await context.aclose()

    @kopf.index(*TENANTS, id="tenant_claims", registry=registry)
    def tenant_claims(
        *, name: str, namespace: str | None, meta: kopf.Meta, **_: Any
    ) -> dict[str, Claim]:
        return tenants.claim(name, namespace, meta)

    # One Tenant handler per reconcile step; create, update and resume share "apply".
    apply_tenant = _tenant_handler(context, tenants.apply)
    kopf.on.resume(*TENANTS, id="apply", registry=registry)(apply_tenant)
    kopf.on.create(*TENANTS, id="apply", registry=registry)(apply_tenant)
    kopf.on.update(*TENANTS, id="apply", registry=registry)(apply_tenant)
    kopf.on.delete(*TENANTS, id="retire", registry=registry)(
        _tenant_handler(context, tenants.retire)
    )
    kopf.timer(
        *TENANTS,
        id="refresh",
        registry=registry,
        interval=settings.refresh_interval_seconds,
        initial_delay=settings.refresh_interval_seconds,
    )(_tenant_handler(context, tenants.refresh))
    return registry


def _tenant_handler(
    context: tenants.Context, step: Callable[[tenants.Context, tenants.Event], Awaitable[None]]
) -> Callable[..., Awaitable[None]]:
    """A kopf handler that hands `step` the Tenant's event and the claims on its name."""

    async def handler(
        *,
        body: kopf.Body,
        patch: kopf.Patch,
        retry: int = 0,  # kopf passes it to timers too; its TimerFn protocol omits it
        logger: kopf.Logger,
        tenant_claims: kopf.Index[str, Claim] | None = None,  # kopf passes indices by name
        **_: Any,
    ) -> None:
        claims = _claims(body, tenant_claims)
        await step(context, tenants.Event(body, patch, retry, logger, claims))

    return handler


def _claims(body: kopf.Body, index: kopf.Index[str, Claim] | None) -> Iterable[Claim]:
    if index is None:
        return ()
    return index.get(body.meta.name or "", ())
