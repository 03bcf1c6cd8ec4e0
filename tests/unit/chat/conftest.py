"""Fixtures for the chat domain's unit tests (support.chat_domain)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.chat_domain import Run, runner_on


@pytest.fixture
def run(tmp_path: Path) -> Run[object]:
    """Run a coroutine against a fresh ChatService on its own loop and database."""
    return runner_on(tmp_path)
