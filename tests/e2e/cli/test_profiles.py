"""`parley auth status` and `parley profiles`: what a profile is logged in as, where, and
until when, never its tokens; and which profiles exist, the one in use marked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from e2e.cli.harness import PASSWORD, Cli


def _tokens(cli: Cli) -> list[str]:
    document = json.loads(cli.credentials.read_text())
    return [
        value
        for profile in document["profiles"].values()
        for key, value in profile.items()
        if key.endswith("token") and value
    ]


def test_auth_status_names_the_server_tenant_user_and_expiry_but_no_token(cli: Cli) -> None:
    cli.register("alice")

    status = json.loads(cli.ok("auth", "status", "--json"))
    text = cli.run("auth", "status")

    assert (status["server"], status["tenant"], status["username"]) == (
        cli.server_url,
        cli.tenant,
        "alice",
    )
    assert status["logged_in"] is True
    assert status["profile"] == "default"
    expires = datetime.fromisoformat(status["access_token_expires_at"])
    assert datetime.now(UTC) < expires < datetime.now(UTC) + timedelta(days=1)
    assert text.code == 0
    assert "alice" in text.stdout
    assert cli.server_url in text.stdout
    for token in _tokens(cli):
        assert token not in text.stdout + json.dumps(status)
    assert PASSWORD not in text.stdout


def test_auth_status_of_a_profile_not_logged_in_exits_3_and_says_so(cli: Cli) -> None:
    result = cli.run("--profile", "nobody", "auth", "status")

    assert result.code == 3
    assert "logged_in\tfalse" in result.stdout
    assert "not logged in" in result.stderr


def test_profiles_lists_each_profile_and_marks_the_one_in_use(cli: Cli) -> None:
    cli.register("alice")
    cli.register("bob", profile="work")

    listed = cli.ok("--profile", "work", "profiles").splitlines()
    as_json = json.loads(cli.ok("profiles", "--json"))

    assert [line.split("\t")[:2] for line in listed] == [[" ", "default"], ["*", "work"]]
    assert [line.split("\t")[4] for line in listed] == ["alice", "bob"]
    assert {p["name"]: p["current"] for p in as_json} == {"default": True, "work": False}
    assert all(p["logged_in"] for p in as_json)
    everything = "\n".join(listed) + json.dumps(as_json)
    for token in _tokens(cli):
        assert token not in everything


def test_profiles_shows_the_profile_in_use_even_before_anything_is_saved(cli: Cli) -> None:
    (line,) = cli.ok("--profile", "fresh", "profiles").splitlines()

    assert line.split("\t")[:2] == ["*", "fresh"]
    assert line.endswith("logged out")
