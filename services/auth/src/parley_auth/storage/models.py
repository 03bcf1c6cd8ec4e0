"""Tables owned by the auth service. The chat service never reads them (docs/api.md)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from parley_core.db import UTCDateTime

AUTH_TABLES = frozenset({"tenants", "users", "refresh_families", "refresh_tokens", "server_keys"})

# Usernames compare byte-wise on PostgreSQL so the unique index also serves prefix search
# (`LIKE 'ab%'` can use a btree only under the C collation).
_USERNAME = sa.String(32).with_variant(sa.String(32, collation="C"), "postgresql")


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    slug: str = Field(sa_column=sa.Column(sa.String(32), nullable=False, unique=True))
    display_name: str = Field(max_length=128)
    self_registration: bool
    suspended: bool
    max_users: int
    messages_per_minute: int
    max_message_chars: int
    max_attachment_bytes: int = Field(
        default=26_214_400,
        sa_column=sa.Column(sa.BigInteger(), nullable=False, server_default="26214400"),
    )
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "username", name="uq_users_tenant_username"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", ondelete="CASCADE")
    username: str = Field(sa_column=sa.Column(_USERNAME, nullable=False))
    display_name: str = Field(max_length=128)
    password_hash: str = Field(max_length=256)
    """argon2id; empty for a user a tenant's backend made (it cannot log in with one)."""
    created_at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(
        default="person",
        sa_column=sa.Column(sa.String(8), nullable=False, server_default="person"),
    )
    """`person` or `bot` (docs/api.md "Accounts"); only a tenant's backend makes bots
    (docs/api.md "Tenant backends")."""


class RefreshFamily(SQLModel, table=True):
    """One login: every refresh token rotated from it, revoked together on reuse or logout."""

    __tablename__ = "refresh_families"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", ondelete="CASCADE", index=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RefreshToken(SQLModel, table=True):
    """A refresh token, kept only as the SHA-256 of what the client holds."""

    __tablename__ = "refresh_tokens"

    token_hash: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", ondelete="CASCADE")
    family_id: uuid.UUID = Field(foreign_key="refresh_families.id", ondelete="CASCADE", index=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    issued_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ServerKey(SQLModel, table=True):
    """A tenant backend's key, kept only as the SHA-256 of what the backend holds
    (docs/security.md "Server keys")."""

    __tablename__ = "server_keys"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name", name="uq_server_keys_tenant_name"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", ondelete="CASCADE")
    name: str = Field(max_length=63)
    key_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    created_at: datetime = Field(sa_type=UTCDateTime)
