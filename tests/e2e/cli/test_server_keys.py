"""`parley admin server-keys ...` and `parley login --token-stdin`: a tenant's backend gets
a key, mints a token pair for its user, and the user's CLI works with it unchanged."""

from __future__ import annotations

import json

import httpx
from e2e.cli.harness import Cli, Server


def test_a_backend_key_mints_a_pair_that_logs_the_cli_in(cli: Cli, server: Server) -> None:
    cli.env["PARLEY_ADMIN_TOKEN"] = server.admin_token()
    created = json.loads(cli.ok("admin", "server-keys", "create", cli.tenant, "backend", "--json"))
    assert created["key"].startswith("psk_")
    listed = json.loads(cli.ok("admin", "server-keys", "list", cli.tenant, "--json"))
    assert [key["name"] for key in listed["server_keys"]] == ["backend"]
    assert created["key"] not in json.dumps(listed)

    backend = {"Authorization": f"Bearer {created['key']}"}
    put = httpx.put(
        f"{cli.server_url}/v1/tenant/users/dana", json={"display_name": "Dana"}, headers=backend
    )
    assert put.status_code == 201, put.text
    pair = httpx.post(f"{cli.server_url}/v1/tenant/users/dana/tokens", json={}, headers=backend)
    assert pair.status_code == 200, pair.text

    login = cli.run("login", "--token-stdin", stdin=pair.text)
    assert login.code == 0, login
    assert "as dana" in login.stderr
    assert json.loads(cli.ok("whoami", "--json"))["username"] == "dana"
    cli.ok("chat", "create", "--title", "Backend-made", "--json")

    # An access token alone works too, until it expires.
    access = httpx.post(
        f"{cli.server_url}/v1/tenant/users/dana/tokens", json={}, headers=backend
    ).json()["access_token"]
    assert cli.run("login", "--token-stdin", stdin=access + "\n").code == 0
    assert json.loads(cli.ok("whoami", "--json"))["username"] == "dana"
    cli.ok("logout")

    cli.ok("admin", "server-keys", "revoke", cli.tenant, created["id"])
    refused = httpx.post(f"{cli.server_url}/v1/tenant/users/dana/tokens", json={}, headers=backend)
    assert refused.status_code == 401


def test_a_token_on_stdin_that_is_not_one_is_refused(cli: Cli) -> None:
    for stdin, code in (("", 2), ("{not json", 2), ('{"refresh_token": "x"}', 2), ("a b", 2)):
        result = cli.run("login", "--token-stdin", stdin=stdin)
        assert result.code == code, (stdin, result)
    forged = cli.run("login", "--token-stdin", stdin="eyJhbGciOiJFZERTQSJ9.e30.c2ln")
    assert forged.code == 3, forged
