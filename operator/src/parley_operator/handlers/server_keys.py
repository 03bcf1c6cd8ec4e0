"""A Tenant's server keys: issued through auth's Internal API into Secrets
`<tenant>-server-key-<name>` owned by the Tenant, revoked (and their Secrets deleted) when
they leave the spec. `handlers.tenants` calls `converge` after the tenant is in auth; the
decisions are `reconcile.server_keys.plan`'s.
"""

from __future__ import annotations

import kopf

from parley_operator import kube, services, spec
from parley_operator.reconcile import server_keys

MANAGED_BY = {"app.kubernetes.io/managed-by": "parley-operator"}


class SecretTaken(Exception):
    """A Secret of a key's name exists and is not this Tenant's (and adopt is off)."""


async def converge(
    auth: services.AuthApi,
    kubernetes: kube.Kubernetes,
    tenant: spec.Tenant,
    *,
    owner: kopf.Body,
    managed: list[str],
    url: str,
) -> list[str]:
    """Make auth and the namespace hold exactly the spec's keys; returns the names now
    managed (for the Tenant's status)."""
    desired = [key.name for key in tenant.spec.server_keys]
    issued = await auth.server_keys(tenant.slug)
    held: dict[str, str | None] = {}
    for name in desired:
        secret_name = tenant.server_key_secret_name(name)
        secret = await kubernetes.read_secret(tenant.namespace, secret_name)
        ours = secret is not None and owner.meta.uid in secret.owner_uids
        if secret is not None and not ours and not tenant.spec.adopt:
            raise SecretTaken(
                f"a Secret {secret_name!r} that this Tenant does not own already exists in "
                f"namespace {tenant.namespace!r}: delete or rename it, or set spec.adopt to "
                "true to take it over"
            )
        held[name] = None
        if secret is not None and ours and secret.data.get("key"):
            held[name] = secret.annotations.get(server_keys.KEY_ID_ANNOTATION)
    todo = server_keys.plan(desired=desired, issued=issued, held=held, managed=managed)
    for key_id in todo.revoke.values():
        await auth.revoke_server_key(tenant.slug, key_id)
    for name in todo.delete_secrets:
        await kubernetes.delete_secret(tenant.namespace, tenant.server_key_secret_name(name))
    for name in todo.issue:
        key_id, key = await auth.create_server_key(tenant.slug, name)
        await _write_secret(kubernetes, tenant, name, key_id, key, owner=owner, url=url)
    return desired


async def _write_secret(
    kubernetes: kube.Kubernetes,
    tenant: spec.Tenant,
    name: str,
    key_id: str,
    key: str,
    *,
    owner: kopf.Body,
    url: str,
) -> None:
    secret_name = tenant.server_key_secret_name(name)
    manifest = kube.manifest(
        secret_name,
        server_keys.secret_data(key=key, tenant=tenant.slug, url=url),
        labels={**MANAGED_BY, "parley.dev/tenant": tenant.slug},
        annotations={server_keys.KEY_ID_ANNOTATION: key_id},
    )
    kopf.adopt(manifest, owner=owner)
    try:
        await kubernetes.create_secret(tenant.namespace, manifest)
    except kube.AlreadyExists:
        metadata = manifest["metadata"]
        await kubernetes.patch_secret(
            tenant.namespace,
            secret_name,
            {
                "metadata": {
                    "labels": metadata["labels"],
                    "annotations": metadata["annotations"],
                    "ownerReferences": metadata["ownerReferences"],
                },
                "data": manifest["data"],
            },
        )
