"""Auth benchmarks: login latency at the shipped argon2id cost, and token-verify cost.

Starts a real `parley-auth serve` process (default settings, so RFC 9106 argon2id) on a
temporary SQLite file, or on PostgreSQL with --database-url, and prints figures:

    uv run python bench/auth.py [--database-url postgresql+psycopg://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import harness
import httpx

from parley_core import tokens


def start_server(
    data_dir: Path, database_url: str | None, admin: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = harness.free_port()
    env = {
        **os.environ,
        "PARLEY_PORT": str(port),
        "PARLEY_DATA_DIR": str(data_dir),
        "PARLEY_ADMIN_TOKEN": admin,
    }
    env["PARLEY_LOG_LEVEL"] = "WARNING"
    if database_url:
        env["PARLEY_DATABASE_URL"] = database_url
    subprocess.run(
        [sys.executable, "-m", "parley_auth", "migrate"], env=env, check=True, capture_output=True
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "parley_auth", "serve"], env=env, stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not start")


async def login_figures(url: str, admin: str, rounds: int, concurrency: int) -> None:
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        await http.put(
            f"/internal/v1/tenants/{tenant}",
            json={"self_registration": True},
            headers={"Authorization": f"Bearer {admin}"},
        )
        body = {"tenant": tenant, "username": "bench", "password": "correct horse battery"}
        assert (await http.post("/v1/auth/register", json=body)).status_code == 201

        latencies = []
        for _ in range(rounds):
            started = time.perf_counter()
            response = await http.post("/v1/auth/login", json=body)
            latencies.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
        print(
            f"login, one at a time ({rounds}):  p50 {statistics.median(latencies):6.1f} ms"
            f"   p99 {harness.percentile(latencies, 0.99):6.1f} ms"
        )

        started = time.perf_counter()
        per_worker = max(1, rounds // concurrency)

        async def worker() -> None:
            for _ in range(per_worker):
                assert (await http.post("/v1/auth/login", json=body)).status_code == 200

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        print(
            f"login, {concurrency} concurrent:        "
            f"{concurrency * per_worker / elapsed:6.1f} logins/s"
        )

        access = (await http.post("/v1/auth/login", json=body)).json()["access_token"]
        headers = {"Authorization": f"Bearer {access}"}
        me = []
        for _ in range(rounds * 4):
            started = time.perf_counter()
            assert (await http.get("/v1/auth/me", headers=headers)).status_code == 200
            me.append((time.perf_counter() - started) * 1000)
        print(
            f"GET /v1/auth/me round trip:     p50 {statistics.median(me):6.2f} ms"
            f"   p99 {harness.percentile(me, 0.99):6.2f} ms"
        )

        jwks = (await http.get("/.well-known/jwks.json")).json()

    async def source() -> dict[str, object]:
        return jwks

    count = 20_000
    for label, max_cached in (("first sight, signature checked", 0), ("repeat, cache hit", 10_000)):
        verifier = tokens.Verifier(source, max_cached=max_cached)
        await verifier.verify(access)
        started = time.perf_counter()
        for _ in range(count):
            await verifier.verify(access)
        per_call = (time.perf_counter() - started) / count * 1e6
        print(f"token verify, {label + ':':32s} {per_call:7.2f} us per token")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    admin = uuid.uuid4().hex
    with tempfile.TemporaryDirectory() as data_dir:
        process, url = start_server(Path(data_dir), args.database_url, admin)
        try:
            print(
                f"auth at {url}, {os.cpu_count()} cores, database {args.database_url or 'SQLite'}"
            )
            asyncio.run(login_figures(url, admin, args.rounds, args.concurrency))
        finally:
            process.terminate()
            process.wait(timeout=15)


if __name__ == "__main__":
    main()
