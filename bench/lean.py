"""A load client that costs little CPU, so the server's cost is what a benchmark measures.

httpx and the `websockets` client spend tens of microseconds of Python per request or
frame, which on a 2-core machine is CPU taken from the server under test. Here a sender is
one keep-alive HTTP/1.1 connection writing a prepared request and reading the status line,
the headers it needs and the body; a listener is a bare WebSocket (RFC 6455) reading
unmasked server frames and answering pings, and never decodes JSON while it is timed.
Only what Parley's servers send is understood: Content-Length bodies, unfragmented frames.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from urllib.parse import urlsplit

_ZERO_MASK = b"\0\0\0\0"
"""RFC 6455 5.3 wants client frames masked; a zero key makes masking a no-op for us."""


async def _open(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
    return reader, writer, f"{host}:{port}"


async def _headers(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes]]:
    status = int((await reader.readline()).split(b" ", 2)[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


class Http:
    """One keep-alive HTTP/1.1 connection of one user; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._head = b""

    @classmethod
    async def open(cls, url: str, token: str) -> Http:
        reader, writer, host = await _open(url)
        http = cls(reader, writer)
        http._head = (
            f"Host: {host}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        return http

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self._writer.write(
            b"POST " + path.encode() + b" HTTP/1.1\r\n" + self._head
            + str(len(body)).encode() + b"\r\n\r\n" + body
        )  # fmt: skip
        status, headers = await _headers(self._reader)
        return status, await self._reader.readexactly(int(headers[b"content-length"]))

    def close(self) -> None:
        self._writer.close()


class Socket:
    """A stream client: frames as bytes, with the time each one was read."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    @classmethod
    async def open(cls, url: str, token: str, first: bytes | None = None) -> Socket:
        """Connect to `/v1/stream`, read the `ready` frame, and send `first` if given.

        A client's first frame (its resume) ends the wait the server puts live events on
        (`PARLEY_STREAM_RESUME_GRACE_SECONDS`); a listener that sent none would see every
        frame of its first second late."""
        reader, writer, host = await _open(url)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /v1/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
            ).encode()
        )
        status, _ = await _headers(reader)
        if status != 101:
            writer.close()
            raise RuntimeError(f"stream answered {status}")
        socket = cls(reader, writer)
        ready = await socket.frame()
        if b'"ready"' not in ready:
            raise RuntimeError(f"expected ready, got {ready[:80]!r}")
        if first is not None:
            socket.send_text(first)
        return socket

    async def frame(self) -> bytes:
        """The next text frame; pings are answered on the way, a close raises EOFError."""
        while True:
            first, second = await self._reader.readexactly(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self._reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self._reader.readexactly(8))
            payload = await self._reader.readexactly(length)
            opcode = first & 0x0F
            if opcode == 0x1:
                return payload
            if opcode == 0x9:
                self._send(0xA, payload)
            elif opcode == 0x8:
                raise EOFError(payload[2:].decode(errors="replace"))

    async def frames_until(self, done: bytes, into: list[tuple[float, bytes]]) -> None:
        """Append (arrival time, frame) to `into` until a frame containing `done`."""
        clock = time.perf_counter
        while True:
            payload = await self.frame()
            into.append((clock(), payload))
            if done in payload:
                return

    def send_text(self, text: bytes) -> None:
        self._send(0x1, text)

    def _send(self, opcode: int, payload: bytes) -> None:
        length = len(payload)
        if length < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        self._writer.write(head + _ZERO_MASK + payload)

    def close(self) -> None:
        self._writer.close()
