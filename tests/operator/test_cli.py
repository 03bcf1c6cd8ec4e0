"""`parley-operator`: kopf's command line with Parley's handlers, standalone by default."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from parley_operator import cli, logs


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run"], ["run", "--standalone"]),
        (
            ["run", "-A", "--liveness=http://0.0.0.0:8080/healthz"],
            ["run", "-A", "--liveness=http://0.0.0.0:8080/healthz", "--standalone"],
        ),
        (["run", "--standalone"], ["run", "--standalone"]),
        (
            ["run", "--peering", "parley", "--priority=5"],
            ["run", "--peering", "parley", "--priority=5"],
        ),
        (["run", "--peering=parley", "-p", "5"], ["run", "--peering=parley", "-p", "5"]),
        (["run", "-Pparley", "-p5"], ["run", "-Pparley", "-p5"]),
        (["--help"], ["--help"]),
    ],
)
def test_run_is_standalone_unless_peering_is_asked_for(
    argv: list[str], expected: list[str]
) -> None:
    assert cli.kopf_arguments(argv) == expected


def test_peering_from_kopfs_environment_variable_is_respected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KOPF_RUN_PEERING", "parley")
    assert cli.kopf_arguments(["run"]) == ["run"]


@pytest.mark.parametrize("peering", [["--peering", "parley"], ["--peering=parley"], ["-Pparley"]])
def test_peered_replicas_without_a_priority_draw_distinct_ones_so_they_do_not_all_pause(
    peering: list[str],
) -> None:
    # kopf pauses every peer that shares its priority with another live one.
    drawn = set()
    for _ in range(20):
        arguments = cli.kopf_arguments(["run", *peering])
        assert arguments[:-1] == ["run", *peering]
        assert arguments[-1].startswith("--priority=")
        drawn.add(int(arguments[-1].removeprefix("--priority=")))
    assert len(drawn) > 1
    assert all(0 < priority <= cli.PRIORITY_RANGE for priority in drawn)


def test_the_console_script_shows_kopfs_run_options_without_any_settings() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    shown = subprocess.run(
        [sys.executable, "-m", "parley_operator", "run", "--help"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "--all-namespaces" in shown.stdout
    assert "--liveness" in shown.stdout


def test_run_without_its_settings_fails_naming_them() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    failed = subprocess.run(
        [sys.executable, "-m", "parley_operator", "run"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    assert failed.returncode != 0
    assert "PARLEY_* settings are missing or invalid" in failed.stderr
    assert "auth_url" in failed.stderr


@pytest.mark.parametrize(
    ("arguments", "json_lines"),
    [
        (["run", "--log-format=json"], True),
        (["run", "--log-format", "json", "-A"], True),
        (["run", "--log-format=JSON"], True),
        (["run", "--log-format=full"], False),
        (["run", "--log-format", "plain"], False),
        (["run"], False),
    ],
)
def test_parleys_json_log_fields_are_used_exactly_when_kopf_is_asked_for_json(
    arguments: list[str], json_lines: bool
) -> None:
    assert logs.wants_json(arguments) is json_lines
