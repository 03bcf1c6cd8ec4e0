"""Where `parley` keeps credentials, how private they are, and how it refreshes them."""

from __future__ import annotations

import json
import stat
import subprocess

import httpx
from e2e.cli.harness import PASSWORD, Cli


def _profile(cli: Cli, name: str = "default") -> dict[str, str]:
    profile: dict[str, str] = json.loads(cli.credentials.read_text())["profiles"][name]
    return profile


def _spoil_access_token(cli: Cli, name: str = "default") -> dict[str, str]:
    """Make the stored access token one the server answers 401 to, as an expired one."""
    document = json.loads(cli.credentials.read_text())
    before = dict(document["profiles"][name])
    document["profiles"][name]["access_token"] = before["access_token"][:-8] + "AAAAAAAA"
    cli.credentials.write_text(json.dumps(document))
    return before


def test_credentials_live_under_xdg_config_home_readable_by_the_owner_only(cli: Cli) -> None:
    result = cli.run_process(
        "register", "--tenant", cli.tenant, "-u", "alice", "--password-stdin", stdin=PASSWORD
    )
    assert result.code == 0, result
    assert stat.S_IMODE(cli.credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.credentials.parent.stat().st_mode) == 0o700
    profile = _profile(cli)
    assert (profile["server"], profile["tenant"], profile["username"]) == (
        cli.server_url,
        cli.tenant,
        "alice",
    )
    assert PASSWORD not in cli.credentials.read_text()


def test_a_rejected_access_token_is_refreshed_once_and_the_new_pair_saved(cli: Cli) -> None:
    cli.register("alice")
    before = _spoil_access_token(cli)
    cli.ok("chat", "create", "--title", "Lunch")
    after = _profile(cli)
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]
    # The next command goes on with the saved pair; the old refresh token is spent and
    # never presented again (a second use would end the login).
    assert cli.ok("chats").count("Lunch") == 1
    assert _profile(cli)["refresh_token"] == after["refresh_token"]


def test_parallel_commands_refreshing_at_once_do_not_end_the_login(cli: Cli) -> None:
    cli.register("alice")
    _spoil_access_token(cli)
    processes = [
        subprocess.Popen(
            cli.command("chats"),
            env=cli.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
    # Had two of them presented the same refresh token, the server would have revoked
    # the whole family, and this would be exit code 3.
    assert cli.run("whoami").code == 0


def test_logout_ends_the_session_on_the_server_and_forgets_the_tokens(cli: Cli) -> None:
    cli.register("alice")
    refresh_token = _profile(cli)["refresh_token"]
    cli.ok("logout")
    assert "refresh_token" not in {k for k, v in _profile(cli).items() if v}
    assert cli.run("chats").code == 3
    answer = httpx.post(
        f"{cli.server_url}/v1/auth/refresh", json={"refresh_token": refresh_token}, timeout=30
    )
    assert answer.status_code == 401
    assert cli.run("logout").code == 0  # logging out twice is fine


def test_profiles_keep_separate_logins(cli: Cli) -> None:
    cli.register("alice")
    cli.register("bob", profile="bob")
    assert cli.ok("whoami").split("\t")[0] == "alice"
    assert cli.ok("--profile", "bob", "whoami").split("\t")[0] == "bob"
    cli.env["PARLEY_PROFILE"] = "bob"
    assert cli.ok("whoami").split("\t")[0] == "bob"
