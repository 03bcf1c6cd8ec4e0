"""`make bench`: Parley's benchmark table, from one run on this machine.

Starts one `parley-auth serve` and one `parley-chat serve` (bench/harness.py) on a fresh
PostgreSQL database and the local Redis under a key prefix of their own, drives them with
the lean client (bench/lean.py) and prints one table (docs/performance.md reads it):

- b, c: S senders POST into one group chat with L listeners, K requests in flight; the
  acknowledged messages per second, the POST latency, and delivery (POST sent until the
  frame reached a listener) over every listener's frames.
- fan-out: L listeners of one chat, frames delivered per second.
- idle: N open streams doing nothing; the chat process's RSS growth per socket.
- resume: a client that missed N messages of one chat sends `resume`; until the last frame.

For every case, the CPU the server processes used (from /proc) per message, and the
PostgreSQL commits per message (pg_stat_database's xact_commit). `--compare REF` runs the
same cases for another git ref's servers (a git worktree with its own venv) and prints
the ratios, so a change is judged against a run on the same machine at the same time.

    uv run python bench/suite.py [--quick] [--compare main]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import harness
import httpx
import lean
import sqlalchemy as sa

PASSWORD = "bench password 123"
AUTH_ENV = {
    # Cheap hashes and no per-address limits: every bench user comes from 127.0.0.1.
    "PARLEY_ARGON2_TIME_COST": "1",
    "PARLEY_ARGON2_MEMORY_KIB": "64",
    "PARLEY_ARGON2_PARALLELISM": "1",
    "PARLEY_REGISTRATIONS_PER_ADDRESS": "1000000",
    "PARLEY_LOGINS_PER_ADDRESS": "1000000",
}
TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
_SEQ = re.compile(rb'"seq":(\d+),')


CASES = ["b", "c", "fanout", "idle", "resume"]


@dataclass(frozen=True)
class Sizes:
    b: tuple[int, int, int, int] = (10, 10, 1000, 10)
    """Senders, listeners, messages, requests in flight."""
    c: tuple[int, int, int, int] = (20, 50, 2000, 32)
    fanout: tuple[int, int] = (1000, 100)
    """Listeners, messages."""
    idle: int = 10_000
    resume: int = 10_000
    time_limit: float = 120.0
    """Seconds any one phase may take before the case gives up and reports what it got."""


FULL = Sizes()
QUICK = Sizes(
    b=(3, 3, 60, 3),
    c=(4, 6, 80, 8),
    fanout=(30, 10),
    idle=100,
    resume=500,
    time_limit=30.0,
)


@dataclass
class Row:
    case: str
    msg_s: float | None = None
    send_p50: float | None = None
    send_p99: float | None = None
    deliver_p50: float | None = None
    deliver_p99: float | None = None
    chat_cpu_ms: float | None = None
    """The chat process's CPU per message, in ms."""
    server_cpu_ms: float | None = None
    """Auth's and chat's CPU per message, in ms."""
    commits: float | None = None
    frames_s: float | None = None
    rss_kib: float | None = None
    seconds: float | None = None


HEADINGS = {
    "msg_s": "msg/s",
    "send_p50": "send p50 ms",
    "send_p99": "send p99 ms",
    "deliver_p50": "deliv p50 ms",
    "deliver_p99": "deliv p99 ms",
    "chat_cpu_ms": "chat CPU ms/msg",
    "server_cpu_ms": "all CPU ms/msg",
    "commits": "commits/msg",
    "frames_s": "frames/s",
    "rss_kib": "RSS KiB/socket",
    "seconds": "time s",
}


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its children still running."""
    proc = Path(f"/proc/{pid}")
    # The command may hold spaces and parentheses; the fields start after the last ')'.
    stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
    total = (int(stat[11]) + int(stat[12])) / TICKS
    for child in (proc / "task" / str(pid) / "children").read_text().split():
        total += cpu_seconds(int(child))
    return total


def rss_kib(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KIB


class Probe:
    """CPU and PostgreSQL commits of one stack, read between the phases of a case."""

    def __init__(self, stack: harness.Stack, admin_url: str) -> None:
        self._stack = stack
        self._database = sa.engine.make_url(stack.database_url).database
        # Watching from the admin database, so the probe's own reads commit nothing here.
        self._admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")

    def cpu(self) -> tuple[float, float]:
        """(chat, auth + chat) CPU seconds so far."""
        chat = sum(cpu_seconds(server.pid) for server in self._stack.chats)
        return chat, chat + cpu_seconds(self._stack.auth.pid)

    def cpu_since(self, before: tuple[float, float]) -> tuple[float, float]:
        chat, both = self.cpu()
        return chat - before[0], both - before[1]

    def commits(self) -> int:
        """Commits in the bench database so far. A backend reports its counts at most
        once a second, and an idle one after 10 s; ending the services' backends makes
        them report at once (their pools reconnect on next use: pool_pre_ping)."""
        query = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db"
        count = "SELECT count(*) FROM pg_stat_activity WHERE datname = :db"
        with self._admin.connect() as connection:
            connection.execute(sa.text(query), {"db": self._database})
            deadline = time.monotonic() + 10
            while connection.execute(sa.text(count), {"db": self._database}).scalar_one():
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            # Past parley_core.db.PING_IDLE_SECONDS: the pools check their connections
            # before using them again, rather than fail a request on one that was ended.
            time.sleep(1.5)
            connection.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            commits: int = connection.execute(
                sa.text("SELECT xact_commit FROM pg_stat_database WHERE datname = :db"),
                {"db": self._database},
            ).scalar_one()
        return commits

    def close(self) -> None:
        self._admin.dispose()


@dataclass
class User:
    name: str
    token: str


class Tenant:
    """A tenant of the bench stack with no send limit in the way, and its users."""

    def __init__(self, stack: harness.Stack) -> None:
        self.slug = f"bench-{uuid.uuid4().hex[:8]}"
        self._auth = stack.auth.url
        self._chat = stack.chats[0].url
        self._count = 0
        admin = {"Authorization": f"Bearer {harness.ADMIN}"}
        body = {
            "self_registration": True,
            "limits": {"messages_per_minute": 10_000_000, "max_users": 1_000_000},
        }
        httpx.put(
            f"{self._auth}/internal/v1/tenants/{self.slug}", json=body, headers=admin
        ).raise_for_status()

    async def users(self, count: int) -> list[User]:
        names = [f"user{self._count + n:05d}" for n in range(count)]
        self._count += count
        gate = asyncio.Semaphore(16)

        async def one(http: httpx.AsyncClient, name: str) -> User:
            account = {"tenant": self.slug, "username": name, "password": PASSWORD}
            async with gate:
                (await http.post("/v1/auth/register", json=account)).raise_for_status()
                login = await http.post("/v1/auth/login", json=account)
                login.raise_for_status()
            return User(name, login.json()["access_token"])

        async with httpx.AsyncClient(base_url=self._auth, timeout=60) as http:
            return list(await asyncio.gather(*(one(http, name) for name in names)))

    async def group(self, owner: User, members: list[User]) -> dict[str, object]:
        async with httpx.AsyncClient(base_url=self._chat, timeout=60) as http:
            response = await http.post(
                "/v1/chats",
                json={"kind": "group", "title": "bench", "members": [m.name for m in members]},
                headers={"Authorization": f"Bearer {owner.token}"},
            )
            response.raise_for_status()
            created: dict[str, object] = response.json()
            return created


async def open_sockets(
    url: str, users: list[User], count: int, limit: float, first: bytes | None = None
) -> list[lean.Socket]:
    """Up to `count` streams, round robin over `users`, 16 handshakes at a time, each
    sending `first`; fewer when `limit` seconds pass first or the server refuses some
    (each handshake reads the database, whose pool may run dry on a loaded machine)."""
    gate = asyncio.Semaphore(16)
    deadline = time.monotonic() + limit

    async def one(index: int) -> lean.Socket | None:
        async with gate:
            if time.monotonic() > deadline:
                return None
            try:
                return await lean.Socket.open(url, users[index % len(users)].token, first)
            except (EOFError, RuntimeError, OSError) as exc:
                print(f"  a stream was not opened: {exc}", file=sys.stderr)
                return None

    opened = await asyncio.gather(*(one(n) for n in range(count)))
    return [socket for socket in opened if socket is not None]


@dataclass
class Sent:
    started: float
    acked: float
    status: int
    body: bytes


async def send(
    url: str, senders: list[User], path: str, count: int, in_flight: int, first: int = 0
) -> list[Sent]:
    """`count` messages, `in_flight` requests at a time on as many connections, spread
    over `senders`; numbered from `first` in their bodies."""
    sent: list[Sent] = []
    numbers = iter(range(first, first + count))
    clock = time.perf_counter

    async def worker(index: int) -> None:
        http = await lean.Http.open(url, senders[index % len(senders)].token)
        try:
            for n in numbers:
                started = clock()
                status, body = await http.post(path, b'{"body":"bench message %d"}' % n)
                sent.append(Sent(started, clock(), status, body))
        finally:
            http.close()

    await asyncio.gather(*(worker(i) for i in range(in_flight)))
    failed = [s for s in sent if s.status != 201]
    if failed:
        raise RuntimeError(f"{len(failed)} sends failed: {failed[0].status} {failed[0].body!r}")
    return sent


def ms(samples: list[float], fraction: float) -> float:
    return harness.percentile(samples, fraction) * 1000


class Bench:
    def __init__(self, stack: harness.Stack, probe: Probe, sizes: Sizes) -> None:
        self.stack, self.probe, self.sizes = stack, probe, sizes
        self.url = stack.chats[0].url
        self.tenant = Tenant(stack)

    async def messages(self, case: str, shape: tuple[int, int, int, int]) -> Row:
        senders_count, listeners_count, total, in_flight = shape
        senders = await self.tenant.users(senders_count)
        listeners = await self.tenant.users(listeners_count)
        chat = await self.tenant.group(senders[0], senders[1:] + listeners)
        path = f"/v1/chats/{chat['id']}/messages"
        commits = self.probe.commits()
        # Warm-up: pooled connections open, statements prepared, caches filled.
        warm = 5 * in_flight
        await send(self.url, senders, path, warm, in_flight)
        sockets = await open_sockets(
            self.url, listeners, listeners_count, self.sizes.time_limit, resume(chat, warm)
        )
        frames: list[list[tuple[float, bytes]]] = [[] for _ in sockets]
        done = b'"seq":%d,' % (warm + total)
        reading = [
            asyncio.create_task(socket.frames_until(done, into))
            for socket, into in zip(sockets, frames, strict=True)
        ]
        cpu = self.probe.cpu()
        started = time.perf_counter()
        sent = await send(self.url, senders, path, total, in_flight, first=warm)
        acked = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*reading), self.sizes.time_limit)
        chat_cpu, all_cpu = (
            after - before for after, before in zip(self.probe.cpu(), cpu, strict=False)
        )
        for socket in sockets:
            socket.close()
        commits = self.probe.commits() - commits

        posted = {int(json.loads(s.body)["seq"]): s.started for s in sent}
        delivery = [
            at - posted[seq]
            for received in frames
            for at, frame in received
            if (match := _SEQ.search(frame)) and (seq := int(match[1])) in posted
        ]
        latencies = [s.acked - s.started for s in sent]
        return Row(
            case,
            msg_s=total / (acked - started),
            send_p50=statistics.median(latencies) * 1000,
            send_p99=ms(latencies, 0.99),
            deliver_p50=statistics.median(delivery) * 1000,
            deliver_p99=ms(delivery, 0.99),
            chat_cpu_ms=chat_cpu / total * 1000,
            server_cpu_ms=all_cpu / total * 1000,
            commits=commits / (warm + total),
            frames_s=len(delivery) / (time.perf_counter() - started),
        )

    async def fanout(self) -> Row:
        listeners_count, total = self.sizes.fanout
        sender, *users = await self.tenant.users(1 + min(listeners_count, 100))
        chat = await self.tenant.group(sender, users)
        path = f"/v1/chats/{chat['id']}/messages"
        await send(self.url, [sender], path, 20, 4)
        sockets = await open_sockets(
            self.url, users, listeners_count, self.sizes.time_limit, resume(chat, 20)
        )
        counts = [0] * len(sockets)
        done = b'"seq":%d,' % (20 + total)

        async def count(index: int, socket: lean.Socket) -> None:
            while done not in await socket.frame():
                counts[index] += 1
            counts[index] += 1

        reading = [asyncio.create_task(count(i, s)) for i, s in enumerate(sockets)]
        cpu = self.probe.cpu()
        started = time.perf_counter()
        await send(self.url, [sender], path, total, 4, first=20)
        await asyncio.wait_for(asyncio.gather(*reading), self.sizes.time_limit)
        elapsed = time.perf_counter() - started
        chat_cpu, all_cpu = (
            after - before for after, before in zip(self.probe.cpu(), cpu, strict=False)
        )
        for socket in sockets:
            socket.close()
        return Row(
            f"fan-out {len(sockets)}",
            msg_s=total / elapsed,
            chat_cpu_ms=chat_cpu / total * 1000,
            server_cpu_ms=all_cpu / total * 1000,
            frames_s=sum(counts) / elapsed,
        )

    async def idle(self) -> Row:
        users = await self.tenant.users(min(self.sizes.idle, 100))
        chat_pid = self.stack.chats[0].pid
        # One small round first, so what every first connection allocates is not counted.
        for socket in await open_sockets(self.url, users, 50, self.sizes.time_limit):
            socket.close()
        before = rss_kib(chat_pid)
        sockets = await open_sockets(self.url, users, self.sizes.idle, self.sizes.time_limit)
        growth = rss_kib(chat_pid) - before
        for socket in sockets:
            socket.close()
        return Row(f"idle {len(sockets)}", rss_kib=growth / len(sockets))

    async def resume(self) -> Row:
        total = self.sizes.resume
        [reader] = await self.tenant.users(1)
        chat = await self.tenant.group(reader, [])
        missed(self.stack.database_url, chat, self.tenant.slug, total)
        socket = await lean.Socket.open(self.url, reader.token)
        frames: list[tuple[float, bytes]] = []
        cpu = self.probe.cpu()
        started = time.perf_counter()
        socket.send_text(resume(chat, 0))
        await asyncio.wait_for(
            socket.frames_until(b'"seq":%d,' % total, frames), self.sizes.time_limit
        )
        elapsed = time.perf_counter() - started
        chat_cpu, all_cpu = (
            after - before for after, before in zip(self.probe.cpu(), cpu, strict=False)
        )
        socket.close()
        return Row(
            f"resume {total}",
            chat_cpu_ms=chat_cpu / total * 1000,
            server_cpu_ms=all_cpu / total * 1000,
            frames_s=len(frames) / elapsed,
            seconds=elapsed,
        )


def resume(chat: dict[str, object], seq: int) -> bytes:
    return b'{"type":"resume","cursors":{"%s":%d}}' % (str(chat["id"]).encode(), seq)


def missed(database_url: str, chat: dict[str, object], tenant: str, count: int) -> None:
    """`count` messages in `chat` from its owner, written straight into the log: what a
    client that was away missed (sending them through the API would time the sends)."""
    [owner] = chat["members"]  # type: ignore[misc]
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO messages (chat_id, seq, id, tenant, sender_id, sender_username,"
                " body, client_msg_id, created_at, edited_at, deleted)"
                " SELECT :chat, n, gen_random_uuid(), :tenant, :sender, :name,"
                " 'a message of about the usual length, number ' || n, NULL, now(), NULL, false"
                " FROM generate_series(1, :count) AS n"
            ),
            {
                "chat": chat["id"],
                "tenant": tenant,
                "sender": owner["user_id"],
                "name": owner["username"],
                "count": count,
            },
        )
        connection.execute(
            sa.text("UPDATE chats SET last_seq = :count WHERE id = :chat"),
            {"chat": chat["id"], "count": count},
        )
    engine.dispose()


@contextmanager
def profiled(pid: int, folder: Path | None, case: str) -> Iterator[None]:
    """py-spy samples the chat process while `case` runs (root only), into folder/case.txt
    as collapsed stacks; `bench/profile.py` sums them up."""
    if folder is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).parent / "py-spy"
    command = [str(spy), "record", "--pid", str(pid), "--rate", "200", "--format", "raw"]
    recorder = subprocess.Popen([*command, "--output", str(folder / f"{case}.txt")])
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=60)


async def run_cases(
    stack: harness.Stack, probe: Probe, sizes: Sizes, only: list[str], profile: Path | None
) -> list[Row]:
    bench = Bench(stack, probe, sizes)
    cases = {
        "b": lambda: bench.messages("b", sizes.b),
        "c": lambda: bench.messages("c", sizes.c),
        "fanout": bench.fanout,
        "idle": bench.idle,
        "resume": bench.resume,
    }
    rows = []
    for name, case in cases.items():
        if name not in only:
            continue
        started = time.perf_counter()
        with profiled(stack.chats[0].pid, profile, name):
            try:
                rows.append(await case())
            except (OSError, EOFError, RuntimeError, TimeoutError) as exc:
                # One case that breaks (a stream closed on the listener, a send refused)
                # still leaves the others' figures: the row says what happened.
                rows.append(Row(f"{name} failed: {type(exc).__name__} {exc}"[:80]))
        print(f"  {time.perf_counter() - started:5.1f} s  {rows[-1]}", file=sys.stderr)
    return rows


def measure(args: argparse.Namespace, python: str, label: str) -> list[Row]:
    print(f"== {label}", file=sys.stderr)
    started = time.perf_counter()
    chat_env = {
        "PARLEY_REDIS_URL": args.redis,
        "PARLEY_REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:8]}:",
        # The idle case keeps silent streams open longer than the default allows.
        "PARLEY_STREAM_IDLE_SECONDS": "900",
        # c keeps 32 sends in flight while 50 streams may read the log at once (a gap
        # fill): the default 10 + 10 connections timed out on a loaded machine.
        "PARLEY_DATABASE_POOL_SIZE": "20",
    }
    with harness.stack(
        args.postgres, replicas=1, auth_env=AUTH_ENV, chat_env=chat_env, python=python
    ) as stack:
        print(f"  {time.perf_counter() - started:5.1f} s  started", file=sys.stderr)
        probe = Probe(stack, args.postgres)
        try:
            sizes = QUICK if args.quick else FULL
            return asyncio.run(run_cases(stack, probe, sizes, args.cases, args.profile))
        finally:
            probe.close()


@contextmanager
def checkout(ref: str) -> Iterator[str]:
    """A worktree of `ref` with its own venv from its uv.lock: its Python."""
    root = Path(__file__).resolve().parent.parent
    uv = root / ".tools" / "uv" / "bin" / "uv"
    uv_command = str(uv) if uv.exists() else shutil.which("uv") or "uv"
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as temporary:
        tree = Path(temporary) / "tree"
        subprocess.run(
            ["git", "-C", str(root), "worktree", "add", "--detach", str(tree), ref],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        try:
            environment = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
            subprocess.run(
                [uv_command, "sync", "--locked", "--quiet"], cwd=tree, check=True, env=environment
            )
            yield str(tree / ".venv" / "bin" / "python")
        finally:
            subprocess.run(
                ["git", "-C", str(root), "worktree", "remove", "--force", str(tree)], check=False
            )


def cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def table(rows: list[Row], title: str) -> str:
    columns = [f.name for f in fields(Row)][1:]
    lines = [
        f"{title}",
        "| case | " + " | ".join(HEADINGS[c] for c in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for row in rows:
        values = [cell(getattr(row, c)) for c in columns]
        lines.append(f"| {row.case} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def ratios(rows: list[Row], base: list[Row], ref: str) -> str:
    columns = [f.name for f in fields(Row)][1:]
    lines = [
        f"this tree / {ref} (above 1: more of it here)",
        "| case | " + " | ".join(HEADINGS[c] for c in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for row, other in zip(rows, base, strict=True):
        values = []
        for column in columns:
            mine, theirs = getattr(row, column), getattr(other, column)
            values.append("-" if mine is None or not theirs else f"{mine / theirs:.2f}x")
        lines.append(f"| {row.case.split()[0]} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def raise_open_files_limit() -> None:
    """Thousands of sockets on both ends: the soft limit up to the hard one (the servers
    this process starts inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = harness.arguments(__doc__)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: does it run")
    parser.add_argument("--compare", metavar="REF", help="also measure this git ref")
    parser.add_argument("--cases", nargs="+", default=CASES, choices=CASES)
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy the chat process of this tree"
    )
    args = parser.parse_args()
    raise_open_files_limit()
    mode = "quick" if args.quick else "full"
    rows = measure(args, sys.executable, "this tree")
    print(table(rows, f"this tree ({mode}, {os.cpu_count()} CPUs)"))
    if args.compare:
        with checkout(args.compare) as python:
            base = measure(
                argparse.Namespace(**{**vars(args), "profile": None}), python, args.compare
            )
        print()
        print(table(base, f"{args.compare} ({mode})"))
        print()
        print(ratios(rows, base, args.compare))


if __name__ == "__main__":
    main()
