"""A revoked server key is refused on every auth replica at once: no replica keeps a key it
has seen (docs/security.md "Server keys"). Two real auth processes on one PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import httpx

from support import auth, services
from support.auth import AuthApi
from support.kubernetes import eventually
from support.processes import ServiceProcess


def test_a_revoked_key_is_refused_by_every_replica_within_a_second(
    tmp_path: Path, postgres_url: str
) -> None:
    env = {
        "PARLEY_DATABASE_URL": postgres_url,
        "PARLEY_REDIS_URL": services.redis_url(),
        "PARLEY_REDIS_PREFIX": services.redis_prefix(),
        "PARLEY_ADMIN_TOKEN": auth.ADMIN_TOKEN,
        **auth.PROCESS_ENV,
    }
    with (
        ServiceProcess("parley_auth", {**env, "PARLEY_DATA_DIR": str(tmp_path / "one")},
                       log_dir=tmp_path) as first,
        ServiceProcess("parley_auth", {**env, "PARLEY_DATA_DIR": str(tmp_path / "two")},
                       log_dir=tmp_path) as second,
        AuthApi(first.url) as api,
    ):  # fmt: skip
        tenant = api.tenant()
        key = api.server_key(tenant)
        urls = [first.url, second.url]

        def status_on(url: str) -> int:
            response = httpx.put(
                f"{url}/v1/tenant/users/alice", json={}, headers=api.bearer(key), timeout=10
            )
            return response.status_code

        # Each replica has used the key, so a cache would now hold it.
        assert [status_on(url) for url in urls] in ([201, 200], [200, 201])
        assert [status_on(url) for url in urls] == [200, 200]
        listed = api.http.get(f"/internal/v1/tenants/{tenant}/server-keys", headers=api.admin)
        key_id = listed.json()["server_keys"][0]["id"]
        revoked = api.http.delete(
            f"/internal/v1/tenants/{tenant}/server-keys/{key_id}", headers=api.admin
        )
        assert revoked.status_code == 204

        def refused_everywhere() -> None:
            assert [status_on(url) for url in urls] == [401, 401]

        eventually(refused_everywhere, timeout=1.0, interval=0.05, what="revoked on every replica")
