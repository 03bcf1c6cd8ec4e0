"""The chores every replica runs while it serves (parley_core.service.every): a failing round
is logged by its error's type alone and the next round still runs; shutdown ends the loop."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from parley_core import service


def test_a_failing_round_is_logged_without_its_text_and_the_next_round_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds: list[int] = []

    async def job() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("INSERT ... VALUES ('a secret body')")

    async def run() -> None:
        lifespan = service.every(0.001, job, name="test chore")
        app: Any = None
        async with lifespan(app):
            while len(rounds) < 3:
                await asyncio.sleep(0.001)

    with caplog.at_level(logging.WARNING, logger="parley_core.service"):
        asyncio.run(run())
    (record,) = [r for r in caplog.records if r.getMessage() == "background job failed"]
    assert record.__dict__["job"] == "test chore"
    assert record.__dict__["error.type"] == "RuntimeError"
    assert "secret" not in caplog.text
    assert record.exc_info is None


def test_leaving_the_lifespan_cancels_the_loop_and_waits_for_it() -> None:
    async def run() -> bool:
        started, ended = asyncio.Event(), asyncio.Event()

        async def job() -> None:
            started.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                ended.set()
                raise

        app: Any = None
        async with service.every(3600, job, name="slow chore")(app):
            await started.wait()
        return ended.is_set()

    assert asyncio.run(run())
