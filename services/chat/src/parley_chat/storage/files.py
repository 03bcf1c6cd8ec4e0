"""Where attachment bytes live: one small protocol, two stores (docs/attachments.md).

`S3Store` is any S3-compatible object store in a cluster: uploads and downloads go by
presigned URL straight between the client and the store, so no file byte passes through a
chat pod. `LocalStore` is a directory (the embedded default): its upload URL is a chat
route carrying a signed, short-lived token, and chat streams the bytes to and from disk.

A file's key is `tenant/attachment-id`; the domain decides who may reach which key.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

CHUNK_BYTES = 1024 * 1024
"""What the local store reads or writes at once: the most of a file it holds in memory."""


@dataclass(frozen=True, slots=True)
class UploadTarget:
    url: str
    """Absolute for the object store; a path of chat's own API for the local store."""
    headers: dict[str, str]
    """The headers the upload must carry as they are (the signature covers them)."""


@dataclass(frozen=True, slots=True)
class Download:
    """How a download is served: `redirect` to a short-lived URL, or chat streams `path`."""

    redirect: str | None = None
    path: Path | None = None


@dataclass(frozen=True, slots=True)
class Presentation:
    """The response headers of a download, decided by the domain (RFC 6266)."""

    content_type: str
    content_disposition: str
    headers: dict[str, str] = field(default_factory=dict)


class FileStore(Protocol):
    """What the attachment rules need of a store of bytes."""

    def upload_target(
        self, key: str, *, size: int, content_type: str, expires_in: int
    ) -> UploadTarget:
        """Where the client puts exactly `size` bytes within `expires_in` seconds."""
        ...

    async def stored_size(self, key: str) -> int | None:
        """The size of the stored object, or None when there is none (yet)."""
        ...

    async def head(self, key: str, length: int) -> bytes:
        """The first `length` bytes of the object (enough for an image's header)."""
        ...

    def download(self, key: str, presentation: Presentation, *, expires_in: int) -> Download:
        """How the caller gets the bytes, with `presentation`'s headers."""
        ...

    async def delete(self, key: str) -> None:
        """Delete the object; one that is not there is fine."""
        ...


class UploadRefused(Exception):
    """The local upload's token is expired or forged, or its body is not the size it
    declared (docs/api.md: 403)."""


class LocalStore:
    """Files under one directory, uploaded through chat's own route (`receive`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._secret = _local_secret(root / ".upload-key")

    # -- the upload token -----------------------------------------------------------

    def upload_target(
        self, key: str, *, size: int, content_type: str, expires_in: int
    ) -> UploadTarget:
        tenant, attachment_id = key.split("/", 1)
        expires = int(time.time()) + expires_in
        token = self._sign(f"{key}:{size}:{expires}")
        url = (
            f"/v1/attachments/{attachment_id}/upload"
            f"?tenant={tenant}&size={size}&expires={expires}&token={token}"
        )
        return UploadTarget(url, {"Content-Type": content_type, "Content-Length": str(size)})

    def check_token(self, key: str, *, size: int, expires: int, token: str) -> None:
        if expires < time.time():
            raise UploadRefused("the upload URL has expired")
        if not hmac.compare_digest(self._sign(f"{key}:{size}:{expires}"), token):
            raise UploadRefused("the upload URL is not valid")

    def _sign(self, text: str) -> str:
        digest = hmac.new(self._secret, text.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    # -- bytes ----------------------------------------------------------------------

    async def receive(self, key: str, chunks: AsyncIterable[bytes], *, size: int) -> Path:
        """Write the upload's body to the key, a chunk at a time, refusing any body that
        is not exactly `size` bytes; nothing is at the key unless all of it arrived."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")
        received = 0
        pending: list[bytes] = []
        pending_bytes = 0
        try:
            with partial.open("wb") as out:
                async for chunk in chunks:
                    received += len(chunk)
                    if received > size:
                        raise UploadRefused(f"the body is longer than the declared {size} bytes")
                    pending.append(chunk)
                    pending_bytes += len(chunk)
                    if pending_bytes >= CHUNK_BYTES:
                        await asyncio.to_thread(out.writelines, pending)
                        pending, pending_bytes = [], 0
                if pending:
                    await asyncio.to_thread(out.writelines, pending)
            if received != size:
                raise UploadRefused(f"the body is {received} bytes, not the declared {size}")
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return path

    async def stored_size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    async def head(self, key: str, length: int) -> bytes:
        with self._path(key).open("rb") as source:
            return source.read(length)

    def download(self, key: str, presentation: Presentation, *, expires_in: int) -> Download:
        return Download(path=self._path(key))

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        tenant, name = key.split("/", 1)
        # Keys are made of a slug and a UUID; nothing here climbs out of the root.
        if "/" in name or name.startswith(".") or tenant.startswith("."):
            raise ValueError("not an attachment key")
        return self.root / tenant / name


async def chunks_of(path: Path) -> AsyncIterator[bytes]:
    """The file's bytes, `CHUNK_BYTES` at a time, read off the event loop."""
    with path.open("rb") as source:
        while chunk := await asyncio.to_thread(source.read, CHUNK_BYTES):
            yield chunk


def _local_secret(path: Path) -> bytes:
    """The key signing local upload URLs, made once and shared by every worker process
    on the host through the directory they share."""
    with contextlib.suppress(FileExistsError):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(secrets.token_bytes(32))
    for _ in range(100):
        secret = path.read_bytes()
        if len(secret) == 32:
            return secret
        time.sleep(0.01)  # another worker is writing it this instant
    raise RuntimeError(f"{path} is not a 32-byte key")


class S3Store:
    """Any S3-compatible object store. boto3 is synchronous: presigning is local
    computation, and the few calls over the network (HEAD, a ranged GET, DELETE) run in a
    thread so they do not block the event loop."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint: str | None,
        region: str,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        self.bucket = bucket
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint or None,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def upload_target(
        self, key: str, *, size: int, content_type: str, expires_in: int
    ) -> UploadTarget:
        # ContentLength and ContentType are signed headers of the URL: the store itself
        # refuses a body of another size (403), as the contract says.
        url = self._client.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ContentLength": size,
                "ContentType": content_type,
            },
            ExpiresIn=expires_in,
        )
        return UploadTarget(url, {"Content-Type": content_type, "Content-Length": str(size)})

    async def stored_size(self, key: str) -> int | None:
        try:
            found = await asyncio.to_thread(self._client.head_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                return None
            raise
        return int(found["ContentLength"])

    async def head(self, key: str, length: int) -> bytes:
        def read() -> bytes:
            found = self._client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes=0-{length - 1}"
            )
            body: bytes = found["Body"].read()
            return body

        return await asyncio.to_thread(read)

    def download(self, key: str, presentation: Presentation, *, expires_in: int) -> Download:
        url = self._client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentType": presentation.content_type,
                "ResponseContentDisposition": presentation.content_disposition,
            },
            ExpiresIn=expires_in,
        )
        return Download(redirect=url)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=key)


def _status(error: ClientError) -> int:
    meta: dict[str, Any] = error.response.get("ResponseMetadata", {})
    return int(meta.get("HTTPStatusCode", 0))
