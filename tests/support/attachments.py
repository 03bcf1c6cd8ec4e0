"""Attachments in tests: a real S3-compatible server (moto's, as a subprocess on a loopback
port) and a client that uploads the way docs/api.md says, following `upload_url`."""

from __future__ import annotations

import io
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
from PIL import Image

from support.chat import ChatApi, User
from support.processes import free_port

ACCESS_KEY = "testing-key"
SECRET_KEY = "testing-secret"
REGION = "us-east-1"


class MotoServer:
    """`moto_server` on 127.0.0.1 and a free port, until stopped."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        binary = Path(sys.executable).with_name("moto_server")
        self._process = subprocess.Popen(
            [str(binary), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{self.url}/moto-api/", timeout=1)
                return
            except httpx.TransportError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.05)

    def client(self) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def bucket(self) -> str:
        name = f"parley-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


@dataclass(frozen=True)
class Store:
    """Where a test chat server keeps attachment bytes, and how a test looks inside."""

    kind: str
    """`local` (chat's own directory) or `s3` (moto)."""
    overrides: dict[str, Any]
    """The chat settings that pick it."""
    directory: Path | None = None
    moto: MotoServer | None = None
    bucket: str | None = None

    def holds(self, tenant: str, attachment_id: str) -> bool:
        """Whether the store has the file now."""
        if self.directory is not None:
            return (self.directory / tenant / attachment_id).exists()
        assert self.moto is not None
        found = self.moto.client().list_objects_v2(
            Bucket=self.bucket, Prefix=f"{tenant}/{attachment_id}"
        )
        return bool(found.get("KeyCount"))


def local_store(directory: Path) -> Store:
    return Store("local", {"attachments": {"dir": directory}}, directory=directory)


def s3_store(moto: MotoServer) -> Store:
    bucket = moto.bucket()
    overrides = {
        "s3": {
            "bucket": bucket,
            "endpoint": moto.url,
            "region": REGION,
            "access_key_id": ACCESS_KEY,
            "secret_access_key": SECRET_KEY,
        }
    }
    return Store("s3", overrides, moto=moto, bucket=bucket)


def png(width: int = 3, height: int = 2) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(out, format="PNG")
    return out.getvalue()


class Files:
    """Uploading and downloading through a chat server as a client would."""

    def __init__(self, chats: ChatApi) -> None:
        self.chats = chats
        # Uploads and downloads leave the chat server (to the object store): a client
        # of its own, with no base URL, so a relative `upload_url` is resolved here.
        self.http = httpx.Client(timeout=60)

    def close(self) -> None:
        self.http.close()

    def absolute(self, url: str) -> str:
        return url if url.startswith("http") else self.chats.url + url

    def declare(
        self,
        user: User,
        *,
        size: int,
        filename: str = "notes.txt",
        content_type: str = "text/plain",
    ) -> dict[str, Any]:
        response = self.chats.http.post(
            "/v1/attachments",
            json={"filename": filename, "content_type": content_type, "size": size},
            headers=user.headers,
        )
        assert response.status_code == 201, response.text
        upload: dict[str, Any] = response.json()
        return upload

    def put(self, upload: dict[str, Any], content: bytes | Iterator[bytes]) -> httpx.Response:
        return self.http.request(
            upload["upload_method"],
            self.absolute(upload["upload_url"]),
            content=content,
            headers=upload["upload_headers"],
        )

    def upload(
        self,
        user: User,
        content: bytes = b"hello, file",
        *,
        filename: str = "notes.txt",
        content_type: str = "text/plain",
    ) -> str:
        """A complete upload of the user's: its id."""
        upload = self.declare(user, size=len(content), filename=filename, content_type=content_type)
        response = self.put(upload, content)
        assert response.status_code == 200, response.text
        return str(upload["id"])

    def download(self, user: User, attachment_id: str) -> httpx.Response:
        """`GET /v1/attachments/{id}`, without following a redirect."""
        return self.chats.http.get(f"/v1/attachments/{attachment_id}", headers=user.headers)

    def fetch(self, user: User, attachment_id: str) -> httpx.Response:
        """The file as the client ends up with it: a 302 followed to the object store."""
        response = self.download(user, attachment_id)
        if response.status_code == 302:
            return self.http.get(response.headers["location"])
        return response

    def send(self, user: User, chat_id: str, ids: list[str], body: str = "") -> httpx.Response:
        return self.chats.http.post(
            f"/v1/chats/{chat_id}/messages",
            json={"body": body, "attachments": ids},
            headers=user.headers,
        )
