"""A dead database answers a prompt 503 naming it, never a 500 or a hang."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from parley_auth.app import create_app
from support import auth
from support.problems import unavailable
from support.servers import ServedApp

DEAD_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/parley"


def test_a_dead_database_is_a_503_naming_it(tmp_path: Path) -> None:
    app = create_app(auth.settings(tmp_path, DEAD_POSTGRES))
    with ServedApp(app) as served, httpx.Client(base_url=served.url, timeout=30) as http:
        started = time.monotonic()
        body = {"tenant": "acme", "username": "alice", "password": "correct horse"}
        login = http.post("/v1/auth/login", json=body)
        register = http.post("/v1/auth/register", json=body)
        elapsed = time.monotonic() - started
        assert (login.status_code, register.status_code) == (503, 503)
        unavailable(login, "database")
        assert elapsed < 10


def test_readiness_names_the_dead_database_while_liveness_stays_up(tmp_path: Path) -> None:
    app = create_app(auth.settings(tmp_path, DEAD_POSTGRES))
    with ServedApp(app) as served, httpx.Client(base_url=served.url, timeout=30) as http:
        assert http.get("/healthz").status_code == 200
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert "database" in ready.json()["detail"]
        assert ready.json()["checks"] == {"database": "failing"}
