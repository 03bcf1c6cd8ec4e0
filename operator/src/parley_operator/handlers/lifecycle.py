"""Operator-wide handlers: kopf's settings for Tenants, and the login both clients share."""

from __future__ import annotations

from typing import Any

import kopf

from parley_operator.handlers import tenants

# Where kopf keeps its own bookkeeping on each Tenant. Annotations, not status: the CRD's
# status schema is strict, so the API server would prune kopf's default `status.kopf`.
PREFIX = "parley.dev"
FINALIZER = f"{PREFIX}/purge"


def configure(settings: kopf.OperatorSettings) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration"
    )
    # The Kubernetes Events kopf posts for each handler outcome name this component.
    settings.posting.reporting_component = "parley-operator"


async def login(context: tenants.Context, /, **kwargs: Any) -> kopf.ConnectionInfo:
    """In a pod, the ServiceAccount; elsewhere, KUBECONFIG or ~/.kube/config. The Secret
    client reuses whatever kopf logs in with, so both act as one identity."""
    info = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
    if info is None:
        raise kopf.LoginError(
            "no Kubernetes credentials: run in a pod with a ServiceAccount, or set KUBECONFIG"
        )
    await context.kubernetes.connect(info)
    return info
