"""Queries over the auth tables. Every function over tenant data takes `*, tenant_id`
(docs/style.md rule 3); only the tenant lookups themselves are keyed by slug.

Functions run inside the caller's transaction and never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_auth.storage.models import RefreshFamily, RefreshToken, ServerKey, Tenant, User


async def tenant_by_slug(
    session: AsyncSession, slug: str, *, for_update: bool = False
) -> Tenant | None:
    statement = select(Tenant).where(Tenant.slug == slug)
    if for_update:
        # Serialises registrations within one tenant on PostgreSQL so max_users holds
        # under concurrency.
        statement = statement.with_for_update()
        if (await session.connection()).dialect.name == "sqlite":
            # SQLite ignores FOR UPDATE, and pysqlite sends BEGIN only before the first
            # write, so the count-then-insert of a registration ran outside any lock and
            # concurrent ones overfilled max_users. A no-op write first takes the
            # database's one write lock for the whole transaction.
            await session.exec(
                sa.update(Tenant).where(col(Tenant.slug) == slug).values(slug=Tenant.slug)
            )
    return (await session.exec(statement)).first()


async def delete_tenant(session: AsyncSession, *, tenant_id: uuid.UUID) -> None:
    # Children first, so the purge does not depend on SQLite's foreign-key pragma.
    for model in (ServerKey, RefreshToken, RefreshFamily, User):
        await session.exec(sa.delete(model).where(col(model.tenant_id) == tenant_id))
    await session.exec(sa.delete(Tenant).where(col(Tenant.id) == tenant_id))


async def count_users(session: AsyncSession, *, tenant_id: uuid.UUID) -> int:
    statement = select(sa.func.count()).select_from(User).where(User.tenant_id == tenant_id)
    return int((await session.exec(statement)).one())


async def user_by_username(
    session: AsyncSession, username: str, *, tenant_id: uuid.UUID
) -> User | None:
    statement = select(User).where(User.tenant_id == tenant_id, User.username == username)
    return (await session.exec(statement)).first()


async def user_by_id(
    session: AsyncSession, user_id: uuid.UUID, *, tenant_id: uuid.UUID
) -> User | None:
    statement = select(User).where(User.tenant_id == tenant_id, User.id == user_id)
    return (await session.exec(statement)).first()


async def users_by_prefix(
    session: AsyncSession, prefix: str, *, tenant_id: uuid.UUID, limit: int
) -> Sequence[User]:
    statement = select(User).where(User.tenant_id == tenant_id)
    if prefix:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(col(User.username).like(escaped + "%", escape="\\"))
    statement = statement.order_by(col(User.username)).limit(limit)
    return (await session.exec(statement)).all()


async def users_by_usernames(
    session: AsyncSession, usernames: Sequence[str], *, tenant_id: uuid.UUID
) -> Sequence[User]:
    statement = select(User).where(User.tenant_id == tenant_id, col(User.username).in_(usernames))
    return (await session.exec(statement.order_by(col(User.username)))).all()


async def lock_user(
    session: AsyncSession, user_id: uuid.UUID, *, tenant_id: uuid.UUID
) -> User | None:
    """The user row, locked until commit: a login and a password change of one user
    decide one after the other."""
    if (await session.connection()).dialect.name == "sqlite":
        # As in `tenant_by_slug`: a no-op write takes SQLite's one write lock now.
        await session.exec(
            sa.update(User)
            .where(col(User.tenant_id) == tenant_id, col(User.id) == user_id)
            .values(kind=User.kind)
        )
    statement = (
        select(User).where(User.tenant_id == tenant_id, User.id == user_id).with_for_update()
    )
    return (await session.exec(statement)).first()


async def set_password_hash(
    session: AsyncSession,
    user_id: uuid.UUID,
    password_hash: str,
    *,
    tenant_id: uuid.UUID,
    expected: str | None = None,
) -> bool:
    """Store a new hash; with `expected`, only over that hash (a compare-and-set).
    True when the row was changed."""
    statement = sa.update(User).where(col(User.tenant_id) == tenant_id, col(User.id) == user_id)
    if expected is not None:
        statement = statement.where(col(User.password_hash) == expected)
    result = await session.exec(statement.values(password_hash=password_hash))
    return bool(result.rowcount)


async def set_display_name(
    session: AsyncSession, user_id: uuid.UUID, display_name: str, *, tenant_id: uuid.UUID
) -> User | None:
    statement = (
        sa.update(User)
        .where(col(User.tenant_id) == tenant_id, col(User.id) == user_id)
        .values(display_name=display_name)
        .returning(User)
    )
    return (await session.exec(statement)).scalar_one_or_none()


async def revoke_user_families(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    tenant_id: uuid.UUID,
    now: datetime,
    keep: uuid.UUID | None,
) -> int:
    """Revoke every live login of the user but `keep`; how many were revoked."""
    statement = sa.update(RefreshFamily).where(
        col(RefreshFamily.tenant_id) == tenant_id,
        col(RefreshFamily.user_id) == user_id,
        col(RefreshFamily.revoked_at).is_(None),
    )
    if keep is not None:
        statement = statement.where(col(RefreshFamily.id) != keep)
    result = await session.exec(statement.values(revoked_at=now))
    return int(result.rowcount)


async def add_refresh_token(
    session: AsyncSession, token: RefreshToken, *, tenant_id: uuid.UUID
) -> None:
    if token.tenant_id != tenant_id:
        raise ValueError("refresh token belongs to another tenant")
    session.add(token)
    await session.flush()


async def claim_refresh_token(
    session: AsyncSession, token_hash: str, *, tenant_id: uuid.UUID, now: datetime
) -> RefreshToken | None:
    """Mark an unused, unexpired token used and return it; None if it was not claimable.

    One conditional UPDATE decides the winner: on PostgreSQL a concurrent claim blocks on
    the row lock, then re-checks `used_at IS NULL` and finds nothing to update.
    """
    statement = (
        sa.update(RefreshToken)
        .where(
            col(RefreshToken.tenant_id) == tenant_id,
            col(RefreshToken.token_hash) == token_hash,
            col(RefreshToken.used_at).is_(None),
            col(RefreshToken.expires_at) > now,
        )
        .values(used_at=now)
        .returning(RefreshToken)
    )
    row = (await session.exec(statement)).scalar_one_or_none()
    return row


async def refresh_token(
    session: AsyncSession, token_hash: str, *, tenant_id: uuid.UUID
) -> RefreshToken | None:
    statement = select(RefreshToken).where(
        RefreshToken.tenant_id == tenant_id, RefreshToken.token_hash == token_hash
    )
    return (await session.exec(statement)).first()


async def family(
    session: AsyncSession, family_id: uuid.UUID, *, tenant_id: uuid.UUID
) -> RefreshFamily | None:
    statement = select(RefreshFamily).where(
        RefreshFamily.tenant_id == tenant_id, RefreshFamily.id == family_id
    )
    return (await session.exec(statement)).first()


async def add_family(session: AsyncSession, family: RefreshFamily, *, tenant_id: uuid.UUID) -> None:
    if family.tenant_id != tenant_id:
        raise ValueError("refresh family belongs to another tenant")
    session.add(family)
    await session.flush()


async def revoke_family(
    session: AsyncSession, family_id: uuid.UUID, *, tenant_id: uuid.UUID, now: datetime
) -> None:
    await session.exec(
        sa.update(RefreshFamily)
        .where(
            col(RefreshFamily.tenant_id) == tenant_id,
            col(RefreshFamily.id) == family_id,
            col(RefreshFamily.revoked_at).is_(None),
        )
        .values(revoked_at=now)
    )


# -- maintenance: the only queries across tenants, run by the purge task, not a request ---


async def delete_dead_refresh_tokens(session: AsyncSession, *, now: datetime, limit: int) -> int:
    """Delete up to `limit` refresh tokens that expired or whose login was revoked."""
    revoked = sa.select(col(RefreshFamily.id)).where(col(RefreshFamily.revoked_at).is_not(None))
    batch = (
        sa.select(col(RefreshToken.token_hash))
        .where(
            sa.or_(
                col(RefreshToken.expires_at) <= now,
                col(RefreshToken.family_id).in_(revoked),
            )
        )
        .limit(limit)
        # PostgreSQL: replicas purging at once take different rows; SQLite ignores it.
        .with_for_update(skip_locked=True)
        .correlate(None)  # its own scan of the table, not the DELETE's row
    )
    result = await session.exec(
        sa.delete(RefreshToken).where(col(RefreshToken.token_hash).in_(batch.scalar_subquery()))
    )
    return result.rowcount


async def delete_empty_families(session: AsyncSession, *, limit: int) -> int:
    """Delete up to `limit` logins that have no refresh token left.

    A login's first token is inserted in the transaction that creates it, and a later one
    only by rotating a live one, so a family without tokens can never get one again.
    """
    has_tokens = (
        sa.select(sa.literal(1))
        .where(col(RefreshToken.family_id) == RefreshFamily.id)
        .correlate(RefreshFamily)
    )
    batch = (
        sa.select(col(RefreshFamily.id))
        .where(~has_tokens.exists())
        .limit(limit)
        .with_for_update(skip_locked=True)
        .correlate(None)
    )
    result = await session.exec(
        sa.delete(RefreshFamily).where(col(RefreshFamily.id).in_(batch.scalar_subquery()))
    )
    return result.rowcount


# -- server keys ----------------------------------------------------------------------


async def server_keys(session: AsyncSession, *, tenant_id: uuid.UUID) -> Sequence[ServerKey]:
    statement = select(ServerKey).where(ServerKey.tenant_id == tenant_id)
    return (await session.exec(statement.order_by(col(ServerKey.name)))).all()


async def server_key_by_name(
    session: AsyncSession, name: str, *, tenant_id: uuid.UUID
) -> ServerKey | None:
    statement = select(ServerKey).where(ServerKey.tenant_id == tenant_id, ServerKey.name == name)
    return (await session.exec(statement)).first()


async def delete_server_key(
    session: AsyncSession, key_id: uuid.UUID, *, tenant_id: uuid.UUID
) -> bool:
    result = await session.exec(
        sa.delete(ServerKey).where(
            col(ServerKey.tenant_id) == tenant_id, col(ServerKey.id) == key_id
        )
    )
    return bool(result.rowcount)


async def server_key_by_digest(
    session: AsyncSession, key_hash: str
) -> tuple[ServerKey, Tenant] | None:
    """The key whose digest this is, with its tenant: one lookup on a unique index. Not
    scoped by tenant: the key is what names the tenant."""
    statement = (
        select(ServerKey, Tenant)
        .join(Tenant, col(Tenant.id) == col(ServerKey.tenant_id))
        .where(ServerKey.key_hash == key_hash)
    )
    row = (await session.exec(statement)).first()
    return None if row is None else (row[0], row[1])
