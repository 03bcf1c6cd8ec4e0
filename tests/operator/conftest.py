"""Real auth and chat servers, an emulated Kubernetes API, and the operator between them.

Only Kubernetes is emulated (kmock, tests/support/kubernetes.py); auth and chat are the
real apps on SQLite, served by uvicorn on loopback. The operator runs under kopf's own
`KopfRunner` with a registry built per test from explicit settings.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kopf.testing import KopfRunner

from parley_auth.app import create_app as create_auth_app
from parley_chat.app import create_app as create_chat_app
from parley_operator import logs, main
from parley_operator.settings import OperatorSettings
from support import auth, chat
from support.harness import MakeSettings, Restartable, RunOperator
from support.kubernetes import Cluster, Kubectl, unused_url

MakeServer = Callable[[], Restartable]


@pytest.fixture(scope="session")
def auth_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("operator-auth") / "auth.db"
    return auth.migrated(f"sqlite+aiosqlite:///{path}")


@pytest.fixture(scope="session")
def chat_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("operator-chat") / "chat.db"
    return chat.migrated(f"sqlite+aiosqlite:///{path}")


@pytest.fixture(scope="session")
def make_auth_server(auth_database: str, tmp_path_factory: pytest.TempPathFactory) -> MakeServer:
    """A new, not yet started auth server on the shared auth database."""
    data_dir = tmp_path_factory.mktemp("auth-data")
    return lambda: Restartable(lambda: create_auth_app(auth.settings(data_dir, auth_database)))


@pytest.fixture(scope="session")
def auth_url(make_auth_server: MakeServer) -> Iterator[str]:
    with make_auth_server() as server:
        yield server.url


@pytest.fixture(scope="session")
def make_chat_server(
    chat_database: str, auth_url: str, tmp_path_factory: pytest.TempPathFactory
) -> MakeServer:
    """A new, not yet started chat server on the shared chat database."""
    data_dir = tmp_path_factory.mktemp("chat-data")
    return lambda: Restartable(
        lambda: create_chat_app(chat.settings(data_dir, chat_database, auth_url))
    )


@pytest.fixture(scope="session")
def chat_url(make_chat_server: MakeServer) -> Iterator[str]:
    with make_chat_server() as server:
        yield server.url


@pytest.fixture
def api(auth_url: str) -> Iterator[auth.AuthApi]:
    client = auth.AuthApi(auth_url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster() as emulated:
        yield emulated


@pytest.fixture
def kubectl(cluster: Cluster) -> Iterator[Kubectl]:
    client = Kubectl(cluster.url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def namespace() -> str:
    return f"ns-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def slug() -> Callable[[], str]:
    """Tenant slugs are global in auth: each test names its tenants uniquely."""
    return lambda: f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_settings(auth_url: str) -> MakeSettings:
    """Operator settings for tests: the real auth service, and short timers and backoffs.

    Chat is only called to purge a tenant, so tests that delete one pass
    `chat_url=chat_url`; elsewhere it names an address where nothing listens, and a call
    to it would show up as ChatUnavailable."""
    nowhere = unused_url()

    def make(**overrides: Any) -> OperatorSettings:
        values: dict[str, Any] = {
            "auth_url": auth_url,
            "chat_url": nowhere,
            "admin_token": auth.ADMIN_TOKEN,
            "public_url": "https://chat.example.test",
            "request_timeout_seconds": 2.0,
            "refresh_interval_seconds": 1.0,
            "metrics_port": 0,
            "retry_delay_seconds": 0.2,
            "retry_max_delay_seconds": 1.0,
        }
        values.update(overrides)
        return OperatorSettings(_env_file=None, **values)

    return make


@pytest.fixture
def run_operator(
    cluster: Cluster, kubectl: Kubectl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> RunOperator:
    """Start the real operator (kopf's CLI `run`, as `parley-operator run` does) against
    the emulator, logged in through a kubeconfig as it would be outside a pod."""
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig(tmp_path / "kubeconfig")))

    @contextmanager
    def running(
        settings: OperatorSettings, *namespaces: str, extra: Sequence[str] = ()
    ) -> Iterator[KopfRunner]:
        """`extra`: more of kopf's `run` options, such as `--log-format=json`."""
        for name in namespaces:
            kubectl.namespace(name)
        arguments = ["run", "--standalone", "--verbose", *extra]
        arguments += [f"--namespace={name}" for name in namespaces]
        registry = main.build_registry(settings, json_logs=logs.wants_json(arguments))
        runner = KopfRunner(arguments, registry=registry, timeout=60)
        with runner:
            yield runner
        assert runner.exit_code == 0, runner.output

    return running
