"""The e2e CLI tests' harness: a real `make run` server, and `parley` pointed at it."""

from __future__ import annotations

import contextlib
import io
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from unittest import mock

import httpx
import pytest

from parley_cli import app as parley
from support import auth
from support.processes import Started, free_port, stop_process

FAST_HASHING = {
    **auth.PROCESS_ENV,
}
SHARED_ADDRESS = {
    # Every test's client is 127.0.0.1: the failed logins of all the tests on a module's
    # server would fill one per-address window, and a later test's login would get 429.
    "PARLEY_LOGIN_FAILURES_PER_ADDRESS": "100000",
}
PASSWORD = "correct horse battery"


def _clean_environ() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("PARLEY_")}


class Server(Started):
    """`python -m parley_embedded` in its own directory, restartable on the same port with
    the same data, as `make run` stopped and started again."""

    def __init__(self, directory: Path, settings: dict[str, str]) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Its own, not make run's 50051, which another server of the run may hold.
        self.grpc_target = f"127.0.0.1:{free_port()}"
        self._env = {
            **_clean_environ(),
            **FAST_HASHING,
            **SHARED_ADDRESS,
            "PARLEY_HOST": "127.0.0.1",
            "PARLEY_PORT": str(self.port),
            "PARLEY_GRPC_PORT": self.grpc_target.rsplit(":", 1)[1],
            "PARLEY_LOG_LEVEL": "WARNING",
            **settings,
        }
        self._log = directory / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "parley_embedded"],
                cwd=self.directory,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the embedded server did not become ready:\n{self.log()}")
            time.sleep(0.1)

    def stop(self) -> None:
        stop_process(self._process, signal.SIGTERM, timeout=20)

    def admin_token(self) -> str:
        return (self.directory / ".parley" / "admin-token").read_text().strip()

    def new_tenant(self) -> str:
        """A tenant of its own for one test, with self-registration on."""
        slug = f"t-{uuid.uuid4().hex[:12]}"
        answer = httpx.put(
            f"{self.url}/internal/v1/tenants/{slug}",
            json={"display_name": slug, "self_registration": True},
            headers={"Authorization": f"Bearer {self.admin_token()}"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        return slug

    def log(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


class Cli:
    """`parley` as a user's shell runs it: its own config directory, no `PARLEY_*` from the
    test's environment, stdin and stdout not a terminal, and its own tenant on the server.

    `run` calls the console script's `main` in this process (a Python start-up per call
    would dominate the suite's time); `run_process` and `follow` start a real process, for
    what only a process shows: exit statuses, stray tracebacks, a long-running tail.
    """

    def __init__(
        self,
        config_home: Path,
        server_url: str,
        tenant: str = "default",
        *,
        grpc_target: str | None = None,
    ) -> None:
        """`grpc_target`: every command runs with `--grpc` against it (PARLEY_GRPC_TARGET)."""
        self.config_home = config_home
        self.server_url = server_url
        self.tenant = tenant
        self.env = {
            **_clean_environ(),
            "XDG_CONFIG_HOME": str(config_home),
            "PARLEY_SERVER": server_url,
            **({"PARLEY_GRPC_TARGET": grpc_target} if grpc_target else {}),
        }

    @property
    def credentials(self) -> Path:
        return self.config_home / "parley" / "credentials.json"

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "parley_cli", *args]

    def run(self, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with (
            mock.patch.dict(os.environ, {**self.env, **(env or {})}, clear=True),
            mock.patch.object(sys, "stdin", io.StringIO(stdin)),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                parley.main(list(args))
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
            else:
                code = 0
        return Result(code, out.getvalue(), err.getvalue())

    def run_process(self, *args: str, stdin: str = "") -> Result:
        done = subprocess.run(
            self.command(*args),
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, stdin: str = "") -> str:
        result = self.run(*args, stdin=stdin)
        assert result.code == 0, f"parley {' '.join(args)} failed: {result}"
        return result.stdout

    def register(self, username: str, *, profile: str | None = None) -> None:
        prefix = ["--profile", profile] if profile else []
        self.ok(
            *prefix,
            "register",
            "--tenant",
            self.tenant,
            "--username",
            username,
            "--password-stdin",
            stdin=PASSWORD,
        )

    def follow(self, *args: str) -> Follower:
        return Follower(self.command(*args), self.env)


class Follower:
    """A long-running `parley` (tail) whose output lines are read as they come."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._stderr: list[str] = []
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._pump, args=(self.process.stdout, self._lines.put)),
            threading.Thread(target=self._pump, args=(self.process.stderr, self._stderr.append)),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _pump(stream: IO[str], sink: Callable[[str], object]) -> None:
        for line in stream:
            sink(line.rstrip("\n"))

    def lines(self, count: int, timeout: float = 30) -> list[str]:
        """The next `count` lines of stdout; fails the test if they do not come in time."""
        deadline = time.monotonic() + timeout
        got: list[str] = []
        while len(got) < count:
            try:
                got.append(self._lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail(
                    f"expected {count} lines, got {got}; exit code {self.process.poll()}; "
                    f"stderr: {self.stderr()}"
                )
        return got

    def no_more_lines(self, wait: float) -> list[str]:
        """Whatever else stdout printed within `wait` seconds (expected: nothing)."""
        time.sleep(wait)
        extra: list[str] = []
        while not self._lines.empty():
            extra.append(self._lines.get_nowait())
        return extra

    def stderr(self) -> list[str]:
        return list(self._stderr)

    def stop(self) -> int:
        """Ctrl-C, as a person ends `parley tail`."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()
        return self.process.returncode


@contextlib.contextmanager
def make_server(directory: Path, **settings: str) -> Iterator[Server]:
    server = Server(directory, settings).start()
    try:
        yield server
    finally:
        server.stop()
