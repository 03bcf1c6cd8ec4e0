"""`parley admin tenant ...` with the admin token `make run` keeps in .parley/admin-token."""

from __future__ import annotations

import json

from e2e.cli.harness import Cli, Server


def test_an_admin_creates_updates_shows_and_deletes_a_tenant(cli: Cli, server: Server) -> None:
    token = server.admin_token()
    put = cli.run(
        "admin", "tenant", "put", "acme", "--display-name", "Acme", "--self-registration",
        "--max-users", "5", "--admin-token", token, "--json",
    )  # fmt: skip
    assert put.code == 0, put
    assert put.stderr == "Created tenant acme.\n"
    created = json.loads(put.stdout)
    assert (created["display_name"], created["self_registration"]) == ("Acme", True)
    assert created["limits"]["max_users"] == 5

    # Settings not given keep their values.
    cli.env["PARLEY_ADMIN_TOKEN"] = token
    updated = json.loads(cli.ok("admin", "tenant", "put", "acme", "--suspended", "--json"))
    assert (updated["suspended"], updated["self_registration"]) == (True, True)
    assert updated["limits"]["max_users"] == 5
    shown = dict(line.split("\t") for line in cli.ok("admin", "tenant", "get", "acme").splitlines())
    assert (shown["suspended"], shown["limits.max_users"], shown["usage.users"]) == (
        "true",
        "5",
        "0",
    )

    assert cli.run("admin", "tenant", "delete", "acme").code == 2  # not without --yes
    cli.ok("admin", "tenant", "delete", "acme", "--yes")
    gone = cli.run("admin", "tenant", "get", "acme")
    assert (gone.code, gone.stderr) == (1, "error: unknown tenant (HTTP 404)\n")


def test_the_admin_token_can_be_kept_in_the_profile(cli: Cli, server: Server) -> None:
    assert cli.run("admin", "tenant", "get", cli.tenant).code == 3
    cli.ok("admin", "login", "--token-stdin", stdin=server.admin_token() + "\n")
    assert json.loads(cli.ok("admin", "tenant", "get", cli.tenant, "--json"))["slug"] == cli.tenant


def test_a_wrong_admin_token_is_an_authentication_failure(cli: Cli) -> None:
    result = cli.run("admin", "tenant", "get", "default", "--admin-token", "not-the-token")
    assert result.code == 3
    assert result.stderr == f"error: the server at {cli.server_url} refused the admin token\n"
    result = cli.run("admin", "login", "--token-stdin", stdin="not-the-token")
    assert result.code == 3
