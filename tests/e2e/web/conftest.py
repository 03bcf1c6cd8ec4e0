"""Fixtures of the web client's browser tests: one Chromium per module, a fresh context
(cookies, sessionStorage) per person, and an embedded server per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from support import browser

# Conditions are waited on, never slept for: long enough for a reconnect's backoff.
expect.set_options(timeout=browser.LIVE_TIMEOUT_MS)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = browser.launch(playwright)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def new_page(chromium: Browser) -> Iterator[Callable[..., Page]]:
    """A page in a context of its own: each person its own tab and sessionStorage."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> Page:
        settings = {"viewport": {"width": 1100, "height": 720}, **options}
        context = chromium.new_context(locale="en-GB", timezone_id="UTC", **settings)
        context.set_default_timeout(browser.LIVE_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[browser.Embedded]:
    with browser.Embedded(tmp_path) as embedded:
        yield embedded
