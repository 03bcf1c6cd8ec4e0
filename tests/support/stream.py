"""A test client of `GET /v1/stream`, on the websockets library's blocking API."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

Frame = dict[str, Any]


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + "/v1/stream"


class StreamClient:
    """One stream connection: connects, checks `ready`, and reads frames with deadlines."""

    def __init__(
        self,
        http_url: str,
        token: str,
        *,
        via_query: bool = False,
        ticket: str | None = None,
        receive_buffer: int | None = None,
        presence: bool = False,
    ) -> None:
        """`receive_buffer` shrinks the TCP window (set before connecting, when it counts),
        to play a client on a slow link. `ticket` connects with a stream ticket instead
        of the token. `presence` frames are dropped unless asked for, as a client that
        predates them ignores them: a test about other frames is not about who is online."""
        self._stack = ExitStack()
        self.presence = presence
        options: dict[str, Any] = {}
        if receive_buffer is not None:
            host, port = http_url.removeprefix("http://").rsplit(":", 1)
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.connect((host, int(port)))
            options.update(sock=sock, max_queue=1)
        if ticket is not None:
            opening = connect(f"{ws_url(http_url)}?ticket={ticket}", **options)
        elif via_query:
            opening = connect(f"{ws_url(http_url)}?access_token={token}", **options)
        else:
            headers = {"Authorization": f"Bearer {token}"}
            opening = connect(ws_url(http_url), additional_headers=headers, **options)
        self.ws: ClientConnection = self._stack.enter_context(opening)
        ready = self.recv()
        assert ready["type"] == "ready", ready
        self.user_id: str = ready["user_id"]

    def send(self, frame: Frame) -> None:
        self.ws.send(json.dumps(frame))

    def recv(self, timeout: float = 10) -> Frame:
        deadline = time.monotonic() + timeout
        while True:
            frame: Frame = json.loads(self.ws.recv(timeout=max(0.0, deadline - time.monotonic())))
            if self.presence or frame.get("type") != "presence":
                return frame

    def recv_until(self, done: Callable[[list[Frame]], bool], timeout: float = 15) -> list[Frame]:
        """Frames until `done(frames)` holds; fails the test at the deadline."""
        frames: list[Frame] = []
        deadline = time.monotonic() + timeout
        while not done(frames):
            left = deadline - time.monotonic()
            assert left > 0, f"gave up waiting; got {frames}"
            frames.append(self.recv(timeout=left))
        return frames

    def messages(self, count: int, timeout: float = 15) -> list[Frame]:
        """The next `count` message frames (other frames are skipped)."""
        frames = self.recv_until(
            lambda got: sum(f["type"] == "message" for f in got) >= count, timeout
        )
        return [f for f in frames if f["type"] == "message"]

    def silence(self, seconds: float = 0.5) -> list[Frame]:
        """Whatever arrives within `seconds`; a test asserts it is empty (or harmless)."""
        frames: list[Frame] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                frames.append(self.recv(timeout=left))
            except TimeoutError:
                break
        return frames

    def close_code(self, timeout: float = 10) -> int | None:
        """Read until the server closes; the close code it sent."""
        try:
            while True:
                self.ws.recv(timeout=timeout)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> StreamClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def reconnecting(http_url: str, token: str, *, timeout: float = 15) -> StreamClient:
    """A stream opened as a client should: a 1013 (a dependency not answering yet, such
    as a broker just restarted) is retried until `timeout`; any other refusal fails."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return StreamClient(http_url, token)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            if code != 1013 or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def close_code_at_connect(url: str, query: str = "", token: str | None = None) -> int | None:
    """The close code of a stream connection the server refuses (`query` like
    `?ticket=...`; `token` in the Authorization header)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with connect(ws_url(url) + query, additional_headers=headers) as ws:
        try:
            frame = ws.recv(timeout=10)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
    raise AssertionError(f"the server accepted the connection: {frame!r}")


def ticket_for(http_url: str, token: str) -> dict[str, Any]:
    """`POST /v1/stream/ticket`: `{ticket, expires_in}`."""
    response = httpx.post(
        f"{http_url}/v1/stream/ticket", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def token_of(user: Any) -> str:
    """The bearer token in a `support.chat.User`'s headers."""
    header: str = user.headers["Authorization"]
    return header.removeprefix("Bearer ")


def open_stalled(http_url: str, token: str) -> socket.socket:
    """A stream connection that completes the handshake and then reads nothing: the
    slowest consumer there is. Its receive window is as small as the kernel allows."""
    host, port = http_url.removeprefix("http://").rsplit(":", 1)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(
        (
            f"GET /v1/stream?access_token={token} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def read_frames_until_close(sock: socket.socket, timeout: float = 30) -> tuple[int, int | None]:
    """Drain a raw connection's server frames: (text frames seen, close code sent)."""
    sock.settimeout(timeout)
    buffer = b""

    def take(count: int) -> bytes:
        nonlocal buffer
        while len(buffer) < count:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed without a close frame")
            buffer += chunk
        taken, buffer = buffer[:count], buffer[count:]
        return taken

    texts = 0
    while True:
        first, second = take(2)
        opcode, length = first & 0x0F, second & 0x7F
        if length == 126:
            length = int.from_bytes(take(2), "big")
        elif length == 127:
            length = int.from_bytes(take(8), "big")
        payload = take(length)
        if opcode == 0x1:
            texts += 1
        elif opcode == 0x8:
            return texts, int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
