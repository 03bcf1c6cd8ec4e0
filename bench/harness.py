"""What every benchmark script shares: figures, free ports, and real Parley processes on
a fresh PostgreSQL database (the scripts import it from their own folder)."""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

ADMIN = "bench-" + uuid.uuid4().hex
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def latency(samples_ms: list[float]) -> str:
    """The median and the 99th percentile of latencies in milliseconds."""
    return (
        f"p50 {statistics.median(samples_ms):7.1f} ms   p99 {percentile(samples_ms, 0.99):7.1f} ms"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def arguments(description: str | None) -> argparse.ArgumentParser:
    """A parser with the option every benchmark on PostgreSQL takes: `--postgres`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--postgres", default=POSTGRES, help="a URL to create databases with")
    return parser


@contextmanager
def database(admin_url: str, *, keep: bool = False) -> Iterator[str]:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"parley_bench_{uuid.uuid4().hex[:8]}"
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(admin_url).set(database=name).render_as_string(False)
    finally:
        if not keep:
            with engine.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@dataclass(frozen=True)
class Server:
    url: str
    pid: int


@contextmanager
def serve(module: str, env: dict[str, str]) -> Iterator[str]:
    with server(module, env) as started:
        yield started.url


@contextmanager
def server(module: str, env: dict[str, str], *, python: str = sys.executable) -> Iterator[Server]:
    """`python -m module serve` on a free port once `migrate` ran, until the block ends;
    `python` may be another checkout's interpreter (bench/suite.py --compare)."""
    port = free_port()
    env = {**os.environ, **env, "PARLEY_PORT": str(port), "PARLEY_LOG_LEVEL": "WARNING"}
    subprocess.run([python, "-m", module, "migrate"], env=env, check=True)
    process = subprocess.Popen([python, "-m", module, "serve"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield Server(url, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=20)


@dataclass(frozen=True)
class Stack:
    database_url: str
    auth: Server
    chats: list[Server]


@contextmanager
def parley(
    postgres: str,
    *,
    replicas: int,
    auth_env: dict[str, str] | None = None,
    chat_env: dict[str, str] | None = None,
) -> Iterator[tuple[str, list[str]]]:
    """One auth process and `replicas` chat processes on a fresh database: their URLs."""
    with stack(postgres, replicas=replicas, auth_env=auth_env, chat_env=chat_env) as started:
        yield started.auth.url, [chat.url for chat in started.chats]


@contextmanager
def stack(
    postgres: str,
    *,
    replicas: int,
    auth_env: dict[str, str] | None = None,
    chat_env: dict[str, str] | None = None,
    python: str = sys.executable,
) -> Iterator[Stack]:
    """One auth process and `replicas` chat processes on a fresh database."""
    with database(postgres) as url, tempfile.TemporaryDirectory() as data:
        common = {"PARLEY_DATABASE_URL": url, "PARLEY_ADMIN_TOKEN": ADMIN}
        auth = {**common, "PARLEY_DATA_DIR": str(Path(data) / "auth"), **(auth_env or {})}
        with server("parley_auth", auth, python=python) as auth_server, ExitStack() as stack:
            chat = {**common, "PARLEY_AUTH_URL": auth_server.url, **(chat_env or {})}
            chats = [
                stack.enter_context(server("parley_chat", chat, python=python))
                for _ in range(replicas)
            ]
            yield Stack(url, auth_server, chats)
