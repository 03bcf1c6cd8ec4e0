"""Attachments (docs/api.md "Attachments", docs/attachments.md): the rules around the bytes.

An upload is a row first (`POST /v1/attachments`), then bytes in the file store
(`storage.files`), then complete once the store is seen to hold exactly the declared size:
the local store says so when its upload route finishes, the object store when a send
finds the object there (a HEAD). A message takes complete uploads of its sender's, each
once (`Messages.send`). Who may download is decided on every request: the uploader, or a
member now of the chat it was sent in; anyone else gets 404.

Files go in a sweep that one replica runs at a time under a lease row: uploads never
sent, files of deleted messages and of purged tenants.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
import uuid
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from PIL import Image, UnidentifiedImageError

from parley_chat import metrics
from parley_chat.domain import errors
from parley_chat.domain.base import ServiceBase
from parley_chat.domain.views import AttachmentView, Caller
from parley_chat.storage import attachments as rows
from parley_chat.storage import files
from parley_chat.storage.models import Attachment
from parley_core import names
from parley_core.db import utcnow
from parley_core.errors import InvalidField

logger = logging.getLogger(__name__)

MAX_PER_MESSAGE = 10
"""docs/api.md: a message carries at most 10 attachments."""

IMAGE_HEAD_BYTES = 64 * 1024
"""Enough of an image for Pillow to read its size from the header."""

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""Shown inline; every other type is a download (`Content-Disposition: attachment`)."""

SERVED_TYPES = IMAGE_TYPES | {
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/zip",
    "application/gzip",
    "application/json",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "audio/mpeg",
    "audio/ogg",
    "audio/wav",
    "audio/webm",
    "audio/mp4",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "video/quicktime",
}
"""Types served as declared; any other is served as `application/octet-stream`, so an
uploaded `text/html` or `image/svg+xml` never runs as a page of this origin."""

UNSENT = "unsent"
"""The `reason` label (metrics.ATTACHMENT_DELETION_REASONS) of an upload never sent; the
others are a doomed row's `doomed`."""

SWEEP_LEASE = "attachments-sweep"
SWEEP_BATCH = 500


@dataclass(frozen=True, slots=True)
class UploadView:
    id: uuid.UUID
    upload_url: str
    upload_method: str
    upload_headers: dict[str, str]
    expires_at: datetime


def served_type(declared: str) -> str:
    """The Content-Type a download carries: the declared one when it is on the list."""
    base = declared.split(";", 1)[0].strip().lower()
    return base if base in SERVED_TYPES else "application/octet-stream"


def safe_filename(filename: str) -> str:
    """An ASCII stand-in for the filename parameter of RFC 6266: no control characters,
    quotes, backslashes or path separators; the real name goes in `filename*`."""
    folded = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    cleaned = re.sub(r'[\x00-\x1f\x7f"\\/:;%*?<>|]+', "_", folded).strip(" .")
    return cleaned or "download"


def content_disposition(filename: str, content_type: str) -> str:
    """RFC 6266: images inline, everything else a download; `filename*` (RFC 8187)
    carries the name as it was, percent-encoded, so no byte of it reaches the header raw."""
    kind = "inline" if content_type in IMAGE_TYPES else "attachment"
    # Path separators and control characters never belong in a saved file's name.
    cleaned = re.sub(r"[\x00-\x1f\x7f/\\]+", "_", filename)
    return f"{kind}; filename=\"{safe_filename(filename)}\"; filename*=UTF-8''{quote(cleaned)}"


def presentation(row: Attachment) -> files.Presentation:
    content_type = served_type(row.content_type)
    return files.Presentation(content_type, content_disposition(row.filename, content_type))


def image_size(head: bytes, content_type: str) -> tuple[int | None, int | None]:
    """An image's width and height from its header only: `Image.open` is lazy and nothing
    here calls `load`, so no pixel is decoded (a decompression bomb stays a header)."""
    if content_type not in IMAGE_TYPES:
        return None, None
    try:
        with Image.open(io.BytesIO(head)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None, None
    return int(width), int(height)


def view_of(row: Attachment) -> AttachmentView:
    return AttachmentView(
        id=row.id,
        filename=row.filename,
        content_type=served_type(row.content_type),
        size=row.size,
        url=f"/v1/attachments/{row.id}",
        width=row.width,
        height=row.height,
    )


class Attachments(ServiceBase):
    async def create_upload(
        self, caller: Caller, *, filename: str, content_type: str, size: int
    ) -> UploadView:
        """docs/api.md `POST /v1/attachments`: a row and where its bytes go."""
        policy = await self._policy(caller)
        if problem := names.text_problem(filename):
            raise InvalidField("filename", problem)
        if size > policy.max_attachment_bytes:
            raise errors.AttachmentTooLarge(policy.max_attachment_bytes)
        now = utcnow()
        row = Attachment(
            id=uuid.uuid4(),
            tenant=caller.tenant,
            uploader_id=caller.user_id,
            filename=filename,
            content_type=content_type,
            size=size,
            created_at=now,
        )
        async with self.sessions() as session, session.begin():
            session.add(row)
        seconds = self.attachment_policy.url_seconds
        target = self.files.upload_target(
            rows.key_of(row), size=size, content_type=content_type, expires_in=seconds
        )
        return UploadView(
            row.id, target.url, "PUT", target.headers, now + timedelta(seconds=seconds)
        )

    async def receive_upload(
        self,
        attachment_id: uuid.UUID,
        *,
        tenant: str,
        size: int,
        expires: int,
        token: str,
        body: AsyncIterable[bytes],
    ) -> None:
        """The local store's upload route: the signed URL is the only credential."""
        store = self.files
        if not isinstance(store, files.LocalStore):
            raise errors.AttachmentNotFound()
        key = f"{tenant}/{attachment_id}"
        try:
            store.check_token(key, size=size, expires=expires, token=token)
        except files.UploadRefused as exc:
            raise errors.UploadRefused(str(exc)) from exc
        async with self.sessions() as session:
            row = await rows.get(session, attachment_id, tenant=tenant)
        if row is None or row.completed_at is not None:
            raise errors.UploadRefused("this upload is done or gone")
        try:
            await store.receive(key, body, size=row.size)
        except files.UploadRefused as exc:
            raise errors.UploadRefused(str(exc)) from exc
        await self._complete(row, await store.head(key, IMAGE_HEAD_BYTES))

    async def _complete(self, row: Attachment, head: bytes) -> None:
        width, height = image_size(head, row.content_type)
        async with self.sessions() as session, session.begin():
            await rows.complete(
                session, row.id, tenant=row.tenant, at=utcnow(), width=width, height=height
            )
        row.completed_at, row.width, row.height = utcnow(), width, height

    async def _is_complete(self, row: Attachment) -> bool:
        """Whether the store holds the whole upload: known, or (the object store, whose
        uploads chat does not see) found out now by a HEAD, and then remembered."""
        if row.completed_at is not None:
            return True
        key = rows.key_of(row)
        if await self.files.stored_size(key) != row.size:
            return False
        head = b""
        if row.content_type in IMAGE_TYPES:
            head = await self.files.head(key, IMAGE_HEAD_BYTES)
        await self._complete(row, head)
        return True

    async def _attachable(self, caller: Caller, ids: Sequence[uuid.UUID]) -> list[AttachmentView]:
        """The uploads a send names, checked before its transaction (which ties them to
        the message, each once): the sender's own, not sent yet, and complete (the object
        store is asked for an upload that is not known complete yet)."""
        if len(ids) > MAX_PER_MESSAGE:
            raise InvalidField("attachments", f"at most {MAX_PER_MESSAGE}")
        if len(set(ids)) != len(ids):
            raise InvalidField("attachments", "the same attachment twice")
        async with self.sessions() as session:
            found = {row.id: row for row in await rows.by_ids(session, ids, tenant=caller.tenant)}
        attachable = []
        for attachment_id in ids:
            row = found.get(attachment_id)
            if row is None or row.uploader_id != caller.user_id:
                raise InvalidField("attachments", f"{attachment_id}: no such upload of yours")
            if row.chat_id is not None:
                raise InvalidField("attachments", f"{attachment_id}: already sent")
            if not await self._is_complete(row):
                raise InvalidField(
                    "attachments", f"{attachment_id}: upload not complete ({row.size} bytes)"
                )
            attachable.append(view_of(row))
        return attachable

    async def download(
        self, caller: Caller, attachment_id: uuid.UUID
    ) -> tuple[files.Download, files.Presentation, int]:
        """How the caller gets the file: checked on every request, so a member removed
        from the chat loses it at once. The size is the response's Content-Length."""
        _, target, shown, size = await self.describe(caller, attachment_id)
        return target, shown, size

    async def describe(
        self, caller: Caller, attachment_id: uuid.UUID
    ) -> tuple[AttachmentView, files.Download, files.Presentation, int]:
        """`download`'s answer with the attachment's view (gRPC's GetAttachment), by the
        same checks."""
        async with self.sessions() as session:
            row = await rows.get(session, attachment_id, tenant=caller.tenant)
            if row is None or not await rows.may_read(
                session, row, caller.user_id, tenant=caller.tenant
            ):
                raise errors.AttachmentNotFound()
        if not await self._is_complete(row):
            raise errors.AttachmentNotFound("attachment not uploaded yet")
        shown = presentation(row)
        target = self.files.download(
            rows.key_of(row), shown, expires_in=self.attachment_policy.url_seconds
        )
        return view_of(row), target, shown, row.size

    async def sweep_attachments(self, holder: str, *, lease_seconds: float) -> int:
        """Delete the files due to go, if this replica holds the sweep's lease: uploads
        never sent, files of deleted messages and of purged tenants. How many it deleted."""
        now = utcnow()
        async with self.sessions() as session, session.begin():
            held = await rows.take_lease(
                session,
                SWEEP_LEASE,
                holder,
                now=now,
                until=now + timedelta(seconds=lease_seconds),
            )
        if not held:
            return 0
        unsent_before = now - timedelta(seconds=self.attachment_policy.unsent_seconds)
        async with self.sessions() as session:
            due = await rows.due(session, unsent_before=unsent_before, limit=SWEEP_BATCH)
        deleted = 0
        for row in due:
            # The row goes first, in its own transaction: a send racing the sweep either
            # took the upload (the row is no longer due, the file stays) or finds none.
            async with self.sessions() as session, session.begin():
                gone = await rows.forget(session, row, unsent_before=unsent_before)
            if not gone:
                continue
            await self.files.delete(rows.key_of(row))
            metrics.ATTACHMENTS_DELETED.labels(reason=row.doomed or UNSENT).inc()
            deleted += 1
        if deleted:
            logger.info("attachments deleted", extra={"count": deleted})
        return deleted
