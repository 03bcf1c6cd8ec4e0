"""Fixtures: one server per test module, and per test a CLI with its own config directory
and its own tenant on that server (tenants share nothing, so tests stay independent).
Tests that stop or reconfigure the server start their own with `make_server`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.cli.harness import Cli, Server, make_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with make_server(tmp_path_factory.mktemp("server")) as server:
        yield server


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A module that lists CLI_TRANSPORTS runs each test once per API: `parley --grpc`
    # must print what `parley` prints (docs/grpc.md).
    transports = getattr(metafunc.module, "CLI_TRANSPORTS", None)
    if transports and "cli" in metafunc.fixturenames:
        metafunc.parametrize("cli", transports, indirect=True)


@pytest.fixture
def cli(tmp_path: Path, server: Server, request: pytest.FixtureRequest) -> Cli:
    over_grpc = getattr(request, "param", "http") == "grpc"
    return Cli(
        tmp_path / "config",
        server.url,
        server.new_tenant(),
        grpc_target=server.grpc_target if over_grpc else None,
    )
