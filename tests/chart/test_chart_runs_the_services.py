"""The environment the parley chart gives its containers starts the real services.

The images cannot be built here, so the workspace's own console scripts stand in for them
(the images run the same ones): the migration Jobs' command and environment migrate both
services into one PostgreSQL database, and the Deployments' command and environment, with
the Secrets the chart generated (admin token, Ed25519 signing key), serve `/readyz` 200 on
PostgreSQL and Redis. Only what cannot exist outside a pod is mapped: the listen address,
the mounted key file and /tmp.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from support import charts, services

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def container_env(
    manifests: list[charts.Manifest], container: charts.Manifest, tmp_path: Path
) -> dict[str, str]:
    """The container's variables with Secret references resolved from the rendered Secrets."""
    secrets = {s["metadata"]["name"]: s["data"] for s in charts.of_kind(manifests, "Secret")}
    resolved = {}
    for name, value in charts.env(container).items():
        if isinstance(value, dict):
            reference = value["secretKeyRef"]
            value = charts.b64(secrets[reference["name"]][reference["key"]])
        resolved[name] = value
    assert resolved["PARLEY_DATA_DIR"].startswith("/tmp/")
    resolved["PARLEY_DATA_DIR"] = str(tmp_path / resolved["PARLEY_DATA_DIR"].removeprefix("/tmp/"))
    return resolved


def container_port(container: charts.Manifest, name: str) -> int:
    (port,) = (p["containerPort"] for p in container["ports"] if p["name"] == name)
    return int(port)


def base_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("PARLEY_")}


@pytest.fixture
def rendered() -> Iterator[list[charts.Manifest]]:
    database = services.create_postgres_database()
    redis = services.redis_url()
    try:
        yield charts.template(
            "parley",
            "--set",
            f"externalDatabase.url={database}",
            "--set",
            f"externalRedis.url={redis}",
        )
    finally:
        services.drop_postgres_database(database)


def run_migrations(manifests: list[charts.Manifest], tmp_path: Path) -> None:
    """Both Jobs at once: they touch separate tables and migration histories."""
    running = {}
    for component in ("auth", "chat"):
        job = charts.named(manifests, "Job", f"parley-{component}-migrate")
        (container,) = job["spec"]["template"]["spec"]["containers"]
        running[component] = subprocess.Popen(
            [BIN / container["command"][0], *container["args"]],
            env={**base_env(), **container_env(manifests, container, tmp_path)},
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    for component, process in running.items():
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, f"{component} migrate:\n{output}"


def serve(
    manifests: list[charts.Manifest], component: str, tmp_path: Path, extra: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str, Path, int]:
    """The component's Deployment as a process: it, its base URL, its log and its gRPC port."""
    tmp_path.mkdir()
    deployment = charts.named(manifests, "Deployment", f"parley-{component}")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = container_env(manifests, container, tmp_path)
    assert env["PARLEY_HOST"] == "0.0.0.0"
    port = free_port()
    env.update(PARLEY_HOST="127.0.0.1", PARLEY_PORT=str(port), **extra)
    # The pod's gRPC port is fixed (grpc.port); here two services and other test runs share
    # one host, so each process takes a free one.
    assert env["PARLEY_GRPC_PORT"] == str(container_port(container, "grpc"))
    env["PARLEY_GRPC_PORT"] = str(free_port())
    if "PARLEY_SIGNING_KEY_FILE" in env:
        # The pod mounts the Secret's key at this path; here it is a private file.
        (volume,) = (v for v in pod["volumes"] if "secret" in v)
        secret = charts.named(manifests, "Secret", volume["secret"]["secretName"])
        key = tmp_path / "signing-key.pem"
        key.write_text(charts.b64(secret["data"][volume["secret"]["items"][0]["key"]]))
        key.chmod(0o400)
        env["PARLEY_SIGNING_KEY_FILE"] = str(key)
    log = tmp_path / f"{component}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [BIN / container["command"][0], *container["args"]],
            env={**base_env(), **env},
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}", log, int(env["PARLEY_GRPC_PORT"])


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{url} did not become ready:\n{log.read_text()}", pytrace=False)
        time.sleep(0.2)


def grpc_live(port: int) -> None:
    """What the kubelet's gRPC liveness probe asks: grpc.health.v1.Health/Check on ""."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health: Any = health_pb2_grpc.HealthStub(channel)
        answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_the_charts_jobs_and_deployments_migrate_and_serve_the_real_services(
    rendered: list[charts.Manifest], tmp_path: Path
) -> None:
    run_migrations(rendered, tmp_path)

    auth, auth_url, auth_log, auth_grpc = serve(rendered, "auth", tmp_path / "auth", {})
    try:
        wait_ready(auth, auth_url, auth_log)
        grpc_live(auth_grpc)
        jwks = httpx.get(f"{auth_url}/.well-known/jwks.json").json()
        assert jwks["keys"][0]["crv"] == "Ed25519"
        deployment = charts.named(rendered, "Deployment", "parley-auth")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        token = container_env(rendered, container, tmp_path)["PARLEY_ADMIN_TOKEN"]
        tenant = httpx.get(
            f"{auth_url}/internal/v1/tenants/nobody",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert tenant.status_code == 404  # the generated admin token is accepted

        chat, chat_url, chat_log, chat_grpc = serve(
            rendered, "chat", tmp_path / "chat", {"PARLEY_AUTH_URL": auth_url}
        )
        try:
            wait_ready(chat, chat_url, chat_log)
            grpc_live(chat_grpc)
        finally:
            stop(chat)
    finally:
        stop(auth)
