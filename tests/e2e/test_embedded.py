"""`make run`'s process, started as a user would: one port, SQLite, tenant `default`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PARLEY_") or key == "PARLEY_REQUIRE_SERVICES"
    }
    env["PARLEY_PORT"] = str(port)
    log = tmp_path / "embedded.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "parley_embedded"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the embedded server did not become ready:\n{log.read_text()}")
            time.sleep(0.2)
        yield url, tmp_path
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_embedded_default_serves_the_auth_contract_on_one_port(
    embedded: tuple[str, Path],
) -> None:
    url, data_dir = embedded
    with httpx.Client(base_url=url, timeout=30) as http:
        account = {"tenant": "default", "username": "alice", "password": "correct horse"}
        assert http.post("/v1/auth/register", json=account).status_code == 201
        tokens = http.post("/v1/auth/login", json=account).json()
        me = http.get("/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.json()["username"] == "alice"
        refreshed = http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200
        assert http.get("/.well-known/jwks.json").json()["keys"]
        assert http.get("/healthz").status_code == 200
        assert "parley_http" in http.get("/metrics").text

    assert (data_dir / ".parley" / "auth.db").exists()
    assert (data_dir / ".parley" / "signing-key.pem").exists()


def test_the_embedded_default_prints_its_url_and_a_working_admin_token(
    embedded: tuple[str, Path],
) -> None:
    url, data_dir = embedded
    printed = (data_dir / "embedded.log").read_text()
    assert url in printed
    token = (data_dir / ".parley" / "admin-token").read_text().strip()
    assert token in printed
    with httpx.Client(base_url=url, timeout=30) as http:
        tenant = http.get(
            "/internal/v1/tenants/default", headers={"Authorization": f"Bearer {token}"}
        )
        assert tenant.status_code == 200
        assert tenant.json()["self_registration"] is True
        assert http.get("/internal/v1/tenants/default").status_code == 401
