"""Where kopf meets the operator: handler registration and nothing else.

`build_registry(settings)` is the composition root (docs/style.md rule 4): it builds
the clients once from the settings and registers every handler on a registry of its
own, so each run (and each test) gets its own handlers and settings instead of kopf's
import-time global registry. The decisions live in `handlers` and `reconcile`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import kopf

from parley_operator import logs, metrics, spec
from parley_operator.handlers import lifecycle, tenants
from parley_operator.reconcile.tenants import Claim
from parley_operator.settings import OperatorSettings

TENANTS = (spec.GROUP, spec.VERSION, spec.PLURAL)


def build_registry(settings: OperatorSettings, *, json_logs: bool = False) -> kopf.OperatorRegistry:
    """`json_logs`: kopf was asked for `--log-format=json`; write the services' field names."""
    # Handler ids are explicit: kopf keys its progress annotations on them
    # (`parley.dev/apply`), so they must not change when the code around them does.
    registry = kopf.OperatorRegistry()
    context = tenants.Context(settings)
    observed = metrics.Metrics()

    @kopf.on.startup(id="configure", registry=registry)
    def configure(*, settings: kopf.OperatorSettings, **_: Any) -> None:  # kopf's, not ours
        if json_logs:
            logs.use_json()
        lifecycle.configure(settings)

    @kopf.on.startup(id="serve-metrics", registry=registry)
    def serve_metrics(**kwargs: Any) -> None:
        # kopf passes indices by name, to startup handlers too (already filled).
        observed.watch(kwargs["tenant_status"])
        if settings.metrics_port:
            observed.serve(settings.metrics_port)

    @kopf.on.cleanup(id="stop-metrics", registry=registry)
    def stop_metrics(**_: Any) -> None:
        observed.stop()

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

    @kopf.index(*TENANTS, id="tenant_status", registry=registry)
    def tenant_status(
        *, name: str, namespace: str | None, status: kopf.Status, **_: Any
    ) -> dict[tuple[str, str], metrics.TenantState]:
        return {(namespace or "", name): metrics.tenant_state(status)}

    # One Tenant handler per reconcile step; create, update and resume share "apply".
    apply_tenant = _tenant_handler(context, observed, "apply", tenants.apply)
    kopf.on.resume(*TENANTS, id="apply", registry=registry)(apply_tenant)
    kopf.on.create(*TENANTS, id="apply", registry=registry)(apply_tenant)
    kopf.on.update(*TENANTS, id="apply", registry=registry)(apply_tenant)
    kopf.on.delete(*TENANTS, id="retire", registry=registry)(
        _tenant_handler(context, observed, "retire", tenants.retire)
    )
    kopf.timer(
        *TENANTS,
        id="refresh",
        registry=registry,
        interval=settings.refresh_interval_seconds,
        initial_delay=settings.refresh_interval_seconds,
    )(_tenant_handler(context, observed, "refresh", tenants.refresh))
    return registry


def _tenant_handler(
    context: tenants.Context,
    observed: metrics.Metrics,
    name: str,
    step: Callable[[tenants.Context, tenants.Event], Awaitable[None]],
) -> Callable[..., Awaitable[None]]:
    """A kopf handler that hands `step` the Tenant's event and the claims on its name,
    timed and counted under `name`."""

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
        async with observed.observe(name, patch):
            await step(context, tenants.Event(body, patch, retry, logger, claims))

    return handler


def _claims(body: kopf.Body, index: kopf.Index[str, Claim] | None) -> Iterable[Claim]:
    if index is None:
        return ()
    return index.get(body.meta.name or "", ())
