"""Server keys: the part of `AuthService` the operator drives to issue and revoke a
tenant backend's keys, and the lookup every `/v1/tenant` request makes.

No key is cached: each request resolves its key with one lookup on a unique index, so a
revocation holds on every replica as soon as its transaction commits (docs/security.md
"Server keys").
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.exc import IntegrityError

from parley_auth.domain import errors
from parley_auth.domain.base import ServiceBase
from parley_auth.domain.views import ServerKeyView
from parley_auth.storage import queries
from parley_auth.storage.models import ServerKey
from parley_core import serverkeys
from parley_core.db import utcnow

logger = logging.getLogger(__name__)


class ServerKeys(ServiceBase):
    async def create_server_key(self, *, tenant_slug: str, name: str) -> tuple[ServerKeyView, str]:
        """A new key and its secret, which is never readable again."""
        key = serverkeys.new_key()
        try:
            async with self.sessions() as session, session.begin():
                tenant = await queries.tenant_by_slug(session, tenant_slug)
                if tenant is None:
                    raise errors.UnknownTenant()
                if await queries.server_key_by_name(session, name, tenant_id=tenant.id):
                    raise errors.ServerKeyNameTaken()
                row = ServerKey(
                    tenant_id=tenant.id,
                    name=name,
                    key_hash=serverkeys.digest(key),
                    created_at=utcnow(),
                )
                session.add(row)
        except IntegrityError:
            # Two creates of one name raced; the unique constraint kept one.
            raise errors.ServerKeyNameTaken() from None
        logger.info(
            "server key issued", extra={"tenant": tenant_slug, "server_key.id": str(row.id)}
        )
        return ServerKeyView.of(row), key

    async def list_server_keys(self, *, tenant_slug: str) -> list[ServerKeyView]:
        async with self.sessions() as session:
            tenant = await queries.tenant_by_slug(session, tenant_slug)
            if tenant is None:
                raise errors.UnknownTenant()
            keys = await queries.server_keys(session, tenant_id=tenant.id)
        return [ServerKeyView.of(key) for key in keys]

    async def revoke_server_key(self, *, tenant_slug: str, key_id: uuid.UUID) -> None:
        """404 for a key the tenant does not have (revoked already, or another's)."""
        async with self.sessions() as session, session.begin():
            tenant = await queries.tenant_by_slug(session, tenant_slug)
            deleted = tenant is not None and await queries.delete_server_key(
                session, key_id, tenant_id=tenant.id
            )
        if not deleted:
            raise errors.UnknownServerKey()
        logger.info(
            "server key revoked", extra={"tenant": tenant_slug, "server_key.id": str(key_id)}
        )

    async def resolve_server_key(self, key_hash: str) -> serverkeys.ServerKeyIdentity | None:
        async with self.sessions() as session:
            found = await queries.server_key_by_digest(session, key_hash)
        if found is None:
            return None
        key, tenant = found
        return serverkeys.ServerKeyIdentity(
            key_id=key.id,
            key_name=key.name,
            tenant=tenant.slug,
            tenant_id=tenant.id,
            suspended=tenant.suspended,
        )
