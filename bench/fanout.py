"""Stream fan-out on one chat replica: frames/s to many listeners of one chat, and the
memory an idle socket costs (docs/scaling.md keeps the figures).

Starts one `parley-auth serve` and one `parley-chat serve` (with `--workers N`, one pod's
worth of processes) on a fresh PostgreSQL database and the local Redis, then:

1. fan-out: opens `--listeners` sockets, all in one group chat, and posts `--messages`
   messages into it (a few in flight); prints the frames/s from the first POST to the last
   frame on the last socket, and the chat processes' CPU per 1,000 frames;
2. idle sockets: opens `--idle` more sockets that only answer pings, and prints the growth
   of the chat processes' resident memory per socket.

The load client is a few lines of WebSocket framing on asyncio (uvloop) that counts
frames without decoding them, so that it costs the server's machine as little as it can.
Everything talks to 127.0.0.1 only, and every wait is bounded.

    uv run python bench/fanout.py [--listeners 1000] [--messages 200] [--idle 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import harness
import httpx

PASSWORD = "bench password 123"
MESSAGE = b'{"type":"message",'
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- the processes ----------------------------------------------------------------------


def tree(pid: int) -> list[int]:
    """`pid` and its descendants (uvicorn workers), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def rss_bytes(pid: int) -> int:
    total = 0
    for each in tree(pid):
        try:
            total += int(Path(f"/proc/{each}/statm").read_text().split()[1]) * PAGE
        except OSError:
            continue
    return total


def cpu_seconds(pid: int) -> float:
    total = 0
    for each in tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


@contextmanager
def serve(module: str, env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = harness.free_port()
    env = {**os.environ, **env, "PARLEY_PORT": str(port), "PARLEY_LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "-m", module, "migrate"], env=env, check=True)
    process = subprocess.Popen([sys.executable, "-m", module, "serve"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


# -- a cheap WebSocket client -------------------------------------------------------------


class Listener(asyncio.Protocol):
    """One stream socket: the handshake, then frames counted, pings answered."""

    def __init__(self, path: str, token: str, port: int) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
        self.buffer = bytearray()
        self.upgraded = False
        self.ready = asyncio.get_running_loop().create_future()
        self.messages = 0
        self.target = 0
        self.done: asyncio.Future[float] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        for future in (self.ready, self.closed):
            if not future.done():
                future.set_result(None)
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("socket closed"))

    def send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        assert self.transport is not None
        assert len(payload) < 126
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        start = 0
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(bytes(buffer[:200]).decode(errors="replace"))
            self.upgraded = True
            start = end + 4
        size = len(buffer)
        while size - start >= 2:
            opcode = buffer[start] & 0x0F
            length = buffer[start + 1] & 0x7F
            head = 2
            if length == 126:
                if size - start < 4:
                    break
                (length,) = struct.unpack_from("!H", buffer, start + 2)
                head = 4
            elif length == 127:
                if size - start < 10:
                    break
                (length,) = struct.unpack_from("!Q", buffer, start + 2)
                head = 10
            if size - start < head + length:
                break
            body = start + head
            if opcode == 0x1:
                if buffer.startswith(MESSAGE, body):
                    self.messages += 1
                    if self.messages == self.target and self.done is not None:
                        self.done.set_result(time.perf_counter())
                elif not self.ready.done():
                    self.ready.set_result(None)
            elif opcode == 0x9:
                self.send(0xA, bytes(buffer[body : body + length]))
            elif opcode == 0x8 and not self.ready.done():
                self.ready.set_exception(ConnectionError(bytes(buffer[body : body + length])))
            start = body + length
        del buffer[:start]

    def expect(self, count: int) -> asyncio.Future[float]:
        self.target = self.messages + count
        self.done = asyncio.get_running_loop().create_future()
        return self.done

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_sockets(
    chat_url: str, tokens: list[str], count: int, *, batch: int = 25
) -> list[Listener]:
    """`count` stream sockets, tokens taken in turn, each past `ready` and its first frame."""
    loop = asyncio.get_running_loop()
    port = int(chat_url.rsplit(":", 1)[1])
    opened: list[Listener] = []

    async def one(index: int) -> Listener:
        for attempt in range(5):
            listener = Listener("/v1/stream", tokens[index % len(tokens)], port)
            await loop.create_connection(lambda listener=listener: listener, "127.0.0.1", port)
            try:
                await asyncio.wait_for(listener.ready, 120)
            except ConnectionError:
                # A loaded machine's database made the setup time out (1013): as a client
                # would, connect again.
                listener.close()
                await asyncio.sleep(0.5 * (attempt + 1))
                continue
            listener.send(0x1, b'{"type":"ping"}')  # the first frame: live events flow at once
            return listener
        raise ConnectionError("the stream refused five times")

    for first in range(0, count, batch):
        opened += await asyncio.gather(*(one(i) for i in range(first, min(count, first + batch))))
    return opened


# -- the scenario -------------------------------------------------------------------------


def setup(auth_url: str, chat_url: str, users: int) -> tuple[list[str], str, dict[str, str]]:
    """`users` members of one group chat of a fresh tenant: their tokens, the chat, and the
    owner's headers (who sends)."""
    tenant = f"fanout-{uuid.uuid4().hex[:6]}"
    admin = {"Authorization": f"Bearer {harness.ADMIN}"}
    tokens = []
    with httpx.Client(base_url=auth_url, timeout=60) as http:
        body = {"self_registration": True, "limits": {"messages_per_minute": 10_000_000}}
        http.put(f"/internal/v1/tenants/{tenant}", json=body, headers=admin).raise_for_status()
        for n in range(users):
            account = {"tenant": tenant, "username": f"user{n:04d}", "password": PASSWORD}
            http.post("/v1/auth/register", json=account).raise_for_status()
            tokens.append(http.post("/v1/auth/login", json=account).json()["access_token"])
    owner = {"Authorization": f"Bearer {tokens[0]}"}
    members = [f"user{n:04d}" for n in range(1, users)]
    created = httpx.post(
        f"{chat_url}/v1/chats",
        json={"kind": "group", "title": "fan-out", "members": members},
        headers=owner,
        timeout=60,
    )
    created.raise_for_status()
    return tokens, created.json()["id"], owner


async def post_all(chat_url: str, owner: dict[str, str], chat_id: str, count: int) -> None:
    async with httpx.AsyncClient(base_url=chat_url, headers=owner, timeout=60) as http:
        sent = iter(range(count))

        async def sender() -> None:
            for n in sent:
                response = await http.post(f"/v1/chats/{chat_id}/messages", json={"body": f"m{n}"})
                response.raise_for_status()

        await asyncio.gather(*(sender() for _ in range(4)))


async def fanout(
    chat_url: str,
    pid: int,
    tokens: list[str],
    chat_id: str,
    owner: dict[str, str],
    args: argparse.Namespace,
) -> None:
    listeners_count: int = args.listeners
    messages: int = args.messages
    listeners = await open_sockets(chat_url, tokens, listeners_count)
    # Warm-up: caches, connections, the first frames.
    waits = [listener.expect(5) for listener in listeners]
    await post_all(chat_url, owner, chat_id, 5)
    await asyncio.wait_for(asyncio.gather(*waits), 120)

    waits = [listener.expect(messages) for listener in listeners]
    cpu, started = cpu_seconds(pid), time.perf_counter()
    await post_all(chat_url, owner, chat_id, messages)
    ends = await asyncio.wait_for(asyncio.gather(*waits), 600)
    elapsed = max(ends) - started
    used = cpu_seconds(pid) - cpu
    frames = listeners_count * messages
    print(
        f"fan-out: {listeners_count} listeners x {messages} messages = {frames} frames "
        f"in {elapsed:.2f} s"
    )
    print(f"  delivered          {frames / elapsed:10.0f} frames/s")
    print(f"  chat CPU           {used * 1e6 / frames:10.1f} us per frame ({used:.2f} s)")
    for listener in listeners:
        listener.close()
    await asyncio.gather(*(listener.closed for listener in listeners))


async def idle(chat_url: str, pid: int, tokens: list[str], count: int) -> None:
    await asyncio.sleep(2)  # let the closed listeners' connections end on the server
    before = rss_bytes(pid)
    sockets = await open_sockets(chat_url, tokens, count)
    await asyncio.sleep(2)  # the first frames answered, the sockets idle
    after = rss_bytes(pid)
    print(f"idle: {count} sockets, chat RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB")
    print(f"  RSS per idle socket {(after - before) / count / 1024:8.1f} KiB")
    for listener in sockets:
        listener.close()


async def run(args: argparse.Namespace, auth_url: str, chat_url: str, pid: int) -> None:
    users: int = args.users
    tokens, chat_id, owner = setup(auth_url, chat_url, users)
    await fanout(chat_url, pid, tokens, chat_id, owner, args)
    idle_count: int = args.idle
    if idle_count:
        await idle(chat_url, pid, tokens, idle_count)


def main() -> None:
    parser = harness.arguments(__doc__)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--listeners", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=50, help="members; sockets take them in turn")
    parser.add_argument("--workers", type=int, default=1, help="PARLEY_WORKERS of chat")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.listeners + args.idle + 100:
        sys.exit(f"RLIMIT_NOFILE hard limit {hard} is too low for {args.listeners + args.idle}")
    cheap_hashes = {"PARLEY_ARGON2_TIME_COST": "1", "PARLEY_ARGON2_MEMORY_KIB": "64"}
    chat_env = {
        "PARLEY_REDIS_URL": args.redis,
        "PARLEY_REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:8]}:",
        "PARLEY_WORKERS": str(args.workers),
        "PARLEY_STREAM_IDLE_SECONDS": "600",
        # Every socket re-reads its chats from the database each re-check: at the default
        # 30 s, 10,000 sockets are 333 queries a second, which is not what this measures.
        "PARLEY_STREAM_RECHECK_SECONDS": "600",
    }
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with harness.database(args.postgres) as url, tempfile.TemporaryDirectory() as data:
        common = {"PARLEY_DATABASE_URL": url, "PARLEY_ADMIN_TOKEN": harness.ADMIN}
        auth_env = {**common, "PARLEY_DATA_DIR": str(Path(data) / "auth"), **cheap_hashes}
        with serve("parley_auth", auth_env) as (auth_url, _):
            chat = {**common, "PARLEY_AUTH_URL": auth_url, **chat_env}
            with serve("parley_chat", chat) as (chat_url, process):
                print(
                    f"chat: 1 replica, {args.workers} worker(s), Redis {args.redis}; "
                    f"client: this process (uvloop)"
                )
                asyncio.run(run(args, auth_url, chat_url, process.pid))


if __name__ == "__main__":
    main()
