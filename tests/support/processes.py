"""Services as real OS processes (`python -m parley_auth serve`, ...), and Redis and
PostgreSQL servers of the tests' own, for tests that stop, kill or restart one while
others keep running."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Self

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def free_cluster_port() -> int:
    """A free port for a Redis Cluster node: its cluster bus listens 10,000 above it, so
    both must be free and the port at most 55535 (Redis refuses a higher one)."""
    for _ in range(1000):
        port = random.randint(20_000, 55_535)
        try:
            with socket.socket() as node, socket.socket() as bus:
                node.bind(("127.0.0.1", port))
                bus.bind(("127.0.0.1", port + 10_000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


class Started:
    """A server of a test's own, used as `with ...:` and stopped however the block ends, so
    none is left running behind a failed test; `stop()` and `start()` again in between."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def stop_process(process: subprocess.Popen[bytes] | None, sig: int, *, timeout: float) -> None:
    """Signal a child that still runs and wait for it; kill it if it outlives `timeout`."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


class ServiceProcess(Started):
    """`python -m <module> serve` on a fixed port, with `PARLEY_*` settings from `env`.

    The port stays the same across `stop()` and `start()`, as a restarted pod keeps its
    Service address.
    """

    def __init__(
        self, module: str, env: dict[str, str], *, log_dir: Path, start_seconds: float = 90
    ) -> None:
        self.module = module
        self._start_seconds = start_seconds
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {
            **os.environ,
            "PARLEY_HOST": "127.0.0.1",
            "PARLEY_PORT": str(self.port),
            "PARLEY_LOG_LEVEL": "WARNING",
            **env,
        }
        self._log_path = log_dir / f"{module}-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        log = self._log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", self.module, "serve"],
            env=self._env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        # A loaded machine (a shared CI runner) spends many seconds on imports alone.
        deadline = time.monotonic() + self._start_seconds
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.module} exited at startup:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop(signal.SIGKILL)  # not left running behind the failed test
        raise TimeoutError(
            f"{self.module} did not start within {self._start_seconds:.0f} s:\n{self.log()}"
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the process (SIGTERM: graceful; SIGKILL: a crash) and wait for it."""
        stop_process(self._process, sig, timeout=15)

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def log(self) -> str:
        return self._log_path.read_text(errors="replace") if self._log_path.exists() else ""


class RedisProcess(Started):
    """A Redis server of the test's own, on a free port, that a test may stop and restart
    without touching the machine's shared one."""

    def __init__(self, work_dir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = work_dir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisProcess:
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self._dir),
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)


class RedisClusterProcess(Started):
    """A Redis Cluster of the test's own: three `redis-server --cluster-enabled yes` on free
    loopback ports with every slot assigned (`redis-cli --cluster create`, no replicas).
    `url` names the first node; clients discover the others from it."""

    NODES = 3

    def __init__(self, work_dir: Path) -> None:
        self._dir = work_dir
        self.ports = [free_cluster_port() for _ in range(self.NODES)]
        self.url = f"redis://127.0.0.1:{self.ports[0]}/0"
        self._processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> RedisClusterProcess:
        for port in self.ports:
            command = [
                "redis-server", "--port", str(port), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(self._dir / f"nodes-{port}.conf"),
                "--save", "", "--appendonly", "no", "--dir", str(self._dir),
            ]  # fmt: skip
            self._processes.append(
                subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        try:
            for port in self.ports:
                self._wait(partial(self._answers, port), "start")
            nodes = [f"127.0.0.1:{port}" for port in self.ports]
            subprocess.run(
                ["redis-cli", "--cluster", "create", *nodes,
                 "--cluster-replicas", "0", "--cluster-yes"],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            for port in self.ports:
                self._wait(partial(self._agrees, port), "agree on its slots")
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self, port: int) -> bool:
        return self._cli(port, "PING") == "PONG"

    def _agrees(self, port: int) -> bool:
        return "cluster_state:ok" in self._cli(port, "CLUSTER", "INFO")

    @staticmethod
    def _cli(port: int, *command: str) -> str:
        done = subprocess.run(
            ["redis-cli", "-p", str(port), *command], capture_output=True, text=True, timeout=10
        )
        return done.stdout.strip()

    @staticmethod
    def _wait(ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 30
        while not ready():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the Redis Cluster did not {what} within 30 s")
            time.sleep(0.1)

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        self._processes = []
        for config in self._dir.glob("nodes-*.conf"):
            config.unlink()


class PostgresProcess(Started):
    """A PostgreSQL cluster of the test's own (initdb into a temporary directory, fsync
    off) on a free loopback port, that a test may crash and restart without touching the
    machine's shared server. PostgreSQL refuses to run as root, so as root the cluster
    belongs to the `postgres` user."""

    def __init__(self, bin_dir: Path) -> None:
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._bin = bin_dir
        self._dir = Path(tempfile.mkdtemp(prefix="parley-postgres-"))
        self._data = self._dir / "data"
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self._dir, "postgres", "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self._data), "-U", "postgres", "--auth=trust", "--no-sync")

    @staticmethod
    def find_binaries() -> Path | None:
        """The newest installed server's bin directory, or None when there is none."""
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_major_version)
        if found:
            return found[-1].parent
        initdb = shutil.which("initdb")
        return Path(initdb).parent if initdb else None

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as_owner, str(self._bin / program), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed:\n{done.stdout}{done.stderr}")

    def start(self) -> PostgresProcess:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        log = str(self._dir / "postgres.log")
        self._run("pg_ctl", "-D", str(self._data), "-l", log, "-o", options, "-w", "start")
        return self

    def stop(self) -> None:
        """Stop at once, as a crash or a killed pod does (`immediate`: no checkpoint)."""
        if (self._data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


def _major_version(initdb: Path) -> int:
    version = initdb.parent.parent.name
    return int(version) if version.isdigit() else 0
