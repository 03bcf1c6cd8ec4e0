"""Failures are one line on stderr with exit codes 1 (API), 2 (usage), 3 (authentication),
and never a traceback: checked on real processes, where a traceback would show."""

from __future__ import annotations

from e2e.cli.harness import PASSWORD, Cli, Result

from support.processes import free_port


def _one_line(result: Result) -> str:
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_a_wrong_password_is_an_authentication_failure_with_exit_code_3(cli: Cli) -> None:
    cli.register("alice")
    result = cli.run_process(
        "login", "--tenant", cli.tenant, "-u", "alice", "--password-stdin", stdin="wrong password"
    )
    assert result.code == 3
    assert _one_line(result) == "error: login failed: wrong tenant, username or password"


def test_commands_before_any_login_say_how_to_log_in_with_exit_code_3(cli: Cli) -> None:
    result = cli.run_process("chats")
    assert result.code == 3
    assert _one_line(result) == "error: not logged in; run 'parley login'"
    result = cli.run_process("--profile", "work", "chats")
    assert _one_line(result) == "error: not logged in; run 'parley --profile work login'"


def test_an_unknown_chat_is_an_api_error_with_exit_code_1(cli: Cli) -> None:
    cli.register("alice")
    result = cli.run_process("send", "Nowhere", "hello?")
    assert result.code == 1
    assert _one_line(result) == "error: no chat matches 'Nowhere'; 'parley chats' lists yours"
    result = cli.run_process("history", "00000000-0000-4000-8000-000000000000")
    assert result.code == 1
    assert "no chat matches" in _one_line(result)


def test_a_refusal_from_the_server_is_its_detail_with_exit_code_1(cli: Cli) -> None:
    cli.register("alice")
    cli.ok("chat", "create", "--title", "Lunch")
    result = cli.run("members", "add", "Lunch", "nobody-here")
    assert result.code == 1
    assert _one_line(result).endswith("(HTTP 404)")


def test_bad_usage_exits_with_code_2_and_points_at_help(cli: Cli) -> None:
    for args in (["history"], ["chats", "--bogus"], ["history", "x", "--limit", "0"]):
        result = cli.run_process(*args)
        assert result.code == 2, args
        assert "--help" in _one_line(result)
    cli.register("alice")
    result = cli.run("history", "x", "--before", "3", "--after", "1")
    assert (result.code, _one_line(result)) == (2, "error: give --before or --after, not both")
    result = cli.run("send", "x", "   ")
    assert (result.code, _one_line(result)) == (2, "error: the message is empty")


def test_a_server_that_is_down_is_named_in_one_line_with_exit_code_1(cli: Cli) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    result = cli.run_process(
        "login", "--server", down, "-u", "alice", "--password-stdin", stdin=PASSWORD
    )
    assert result.code == 1
    assert _one_line(result).startswith(f"error: cannot reach server at {down} (")


def test_a_password_prompt_needs_a_terminal_or_password_stdin(cli: Cli) -> None:
    result = cli.run_process("login", "-u", "alice")
    assert result.code == 2
    assert _one_line(result) == "error: no terminal to ask for the password; use --password-stdin"
