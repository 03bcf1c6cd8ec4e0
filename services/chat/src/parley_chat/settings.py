"""The chat process's one settings class (docs/api.md "Running it")."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator

from parley_core.settings import CoreSettings, SettingsGroup


class AuthPeerSettings(SettingsGroup):
    """How chat calls the auth service (parley_chat.peers.auth)."""

    url: str = "http://127.0.0.1:8001"
    """Base URL of the auth service: its JWKS and its `/internal` routes (the same process
    in the embedded default)."""

    timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    """Budget of one call to auth, retries included; past it, 503 naming auth."""

    retries: int = Field(default=2, ge=0, le=5)
    """Extra attempts of an idempotent call to auth after a connection error or a 5xx."""

    cache_seconds: float = Field(default=30.0, ge=0)
    """How long a tenant's limits and a username's user id are trusted without asking auth."""

    stale_seconds: float = Field(default=86_400.0, ge=0)
    """How long a cached answer still serves while auth is down (sends keep working)."""

    breaker_failures: int = Field(default=5, ge=1)
    """Consecutive failed calls to auth that open the circuit."""

    breaker_reset_seconds: float = Field(default=10.0, gt=0)
    """How long the open circuit fails fast before one call probes auth again."""


class StreamSettings(SettingsGroup):
    """The WebSocket stream (docs/stream.md)."""

    queue_size: int = Field(default=1024, ge=16)
    """Frames one stream client may fall behind by before it is closed with 4429."""

    idle_seconds: float = Field(default=120.0, gt=0)
    """Silence from a stream client before it is closed with 4408 (clients ping)."""

    typing_interval_seconds: float = Field(default=2.0, ge=0)
    """At most one typing frame per chat per connection in this long."""

    resume_grace_seconds: float = Field(default=1.0, ge=0, le=30)
    """After `ready`, how long live events wait for the client's first frame (its resume)."""

    recheck_seconds: float = Field(default=30.0, gt=0, le=3600)
    """How often each stream re-reads its user's chats from the database and its tenant's
    standing: a member removed while the `member.left` event was lost stops receiving
    the chat, and a suspended or deleted tenant's streams close (4403, 4401), within this
    long plus `PARLEY_AUTH_CACHE_SECONDS`."""

    ticket_seconds: int = Field(default=30, ge=1, le=60)
    """Lifetime of a single-use stream ticket from `POST /v1/stream/ticket` (at most 60 s)."""


class PresenceSettings(SettingsGroup):
    """Presence across replicas (docs/stream.md "Presence"); with Redis only."""

    heartbeat_seconds: float = Field(default=10.0, gt=0, le=300)
    """How often each replica tells Redis it lives and sweeps for replicas that stopped:
    the users of a replica that died go offline within `PARLEY_PRESENCE_TTL_SECONDS` plus
    this long (40 s by default)."""

    ttl_seconds: float = Field(default=30.0, gt=0, le=3600)
    """How long a replica that stopped heartbeating still counts as alive; more than
    `PARLEY_PRESENCE_HEARTBEAT_SECONDS`, so a slow heartbeat is not taken for a death."""

    @model_validator(mode="after")
    def _ttl_outlasts_heartbeat(self) -> PresenceSettings:
        if self.ttl_seconds <= self.heartbeat_seconds * 1.1:
            raise ValueError("ttl_seconds must be more than heartbeat_seconds (times 1.1)")
        return self


class S3Settings(SettingsGroup):
    """The S3-compatible object store that holds attachments in a cluster (docs/attachments.md).
    Credentials come from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (or the rest of
    boto3's chain: a web identity for IRSA, an instance profile) unless set here."""

    bucket: str = ""
    """The bucket; set, attachments go to the object store by presigned URLs; empty, to
    files under `PARLEY_ATTACHMENTS_DIR` served by chat itself (the embedded default)."""

    endpoint: str = ""
    """The store's URL, for anything but AWS S3 (`https://storage.googleapis.com`, a
    MinIO address); empty: AWS S3 in `PARLEY_S3_REGION`."""

    region: str = "us-east-1"
    """The region requests are signed for (GCS and MinIO accept any)."""

    access_key_id: SecretStr | None = None
    """An access key id in place of `AWS_ACCESS_KEY_ID` (with `PARLEY_S3_SECRET_ACCESS_KEY`)."""

    secret_access_key: SecretStr | None = None
    """The secret of `PARLEY_S3_ACCESS_KEY_ID`."""


class AttachmentSettings(SettingsGroup):
    """Files sent with messages (docs/api.md "Attachments")."""

    dir: Path | None = None
    """Where files go without `PARLEY_S3_BUCKET`; empty: `attachments/` under `PARLEY_DATA_DIR`."""

    url_seconds: int = Field(default=300, ge=10, le=3600)
    """Lifetime of an upload URL and of the short-lived download URL a 302 points at."""

    unsent_seconds: int = Field(default=86_400, ge=1)
    """Uploads not sent in a message within this long are deleted (24 hours)."""

    sweep_seconds: float = Field(default=300.0, gt=0)
    """How often one replica (the holder of a lease row) deletes the files due to go:
    unsent uploads, the files of deleted messages and of purged tenants."""


class ChatSettings(CoreSettings):
    database_name: ClassVar[str] = "chat"

    auth: AuthPeerSettings = Field(default_factory=AuthPeerSettings)
    """The auth service, as chat calls it (`PARLEY_AUTH_*`)."""

    stream: StreamSettings = Field(default_factory=StreamSettings)
    """The WebSocket stream (`PARLEY_STREAM_*`)."""

    presence: PresenceSettings = Field(default_factory=PresenceSettings)
    """Presence across replicas (`PARLEY_PRESENCE_*`)."""

    s3: S3Settings = Field(default_factory=S3Settings)
    """The object store of attachments in a cluster (`PARLEY_S3_*`)."""

    attachments: AttachmentSettings = Field(default_factory=AttachmentSettings)
    """Files sent with messages (`PARLEY_ATTACHMENTS_*`)."""

    message_edits_per_minute: int = Field(default=60, ge=1)
    """Edits and deletions of their own messages one user may make a minute before 429."""

    chat_creations_per_minute: int = Field(default=10, ge=1)
    """Chats one user may create a minute (a repeat of a direct chat included) before 429."""

    member_adds_per_minute: int = Field(default=60, ge=1)
    """Members one user may add to chats a minute before 429."""

    read_markers_per_minute: int = Field(default=120, ge=1)
    """Read markers (`POST .../read`) one user may set a minute before 429."""

    typing_frames_per_minute: int = Field(default=120, ge=1)
    """Typing frames one user may send a minute over all chats and streams; past it the
    frame is dropped with an `error` frame (the per-chat interval applies first)."""

    reactions_per_minute: int = Field(default=120, ge=1)
    """Reactions one user may add or remove a minute (a repeat included) before 429."""

    chats_joined_per_hour: int = Field(default=100, ge=1)
    """Chats one user may be put in by others an hour (created with them as a member, or
    added); past it, adding them is 429 until the hour ends."""
