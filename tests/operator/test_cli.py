"""`parley-operator`: kopf's command line with Parley's handlers, standalone by default."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from parley_operator import cli


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run"], ["run", "--standalone"]),
        (
            ["run", "-A", "--liveness=http://0.0.0.0:8080/healthz"],
            ["run", "-A", "--liveness=http://0.0.0.0:8080/healthz", "--standalone"],
        ),
        (["run", "--standalone"], ["run", "--standalone"]),
        (["run", "--peering", "parley"], ["run", "--peering", "parley"]),
        (["run", "--peering=parley"], ["run", "--peering=parley"]),
        (["run", "-Pparley"], ["run", "-Pparley"]),
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
