"""Fixtures shared by every test directory."""

from __future__ import annotations

import pytest

from support import services


def pytest_sessionfinish(session: pytest.Session) -> None:
    services.delete_run_keys()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if services.skipped_services:
        names = ", ".join(sorted(services.skipped_services))
        terminalreporter.section("SERVICES MISSING", sep="!", red=True, bold=True)
        terminalreporter.write_line(
            f"Tests needing {names} were SKIPPED. Start them, or set "
            "PARLEY_REQUIRE_SERVICES=1 to make their absence fail the run.",
            red=True,
            bold=True,
        )
