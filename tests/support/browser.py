"""A real browser and a real embedded server for the web client's tests (tests/e2e/web).

The browser is Debian's Chromium (`apt-get install chromium chromium-driver`, as .ci/run
does) driven by Playwright: Playwright's own browser download is never used. Without it the
tests skip, or fail under PARLEY_REQUIRE_SERVICES=1, like the PostgreSQL and Redis tests
(support/services.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, Playwright, expect

from support import auth, processes, services

CHROMIUM = Path(os.environ.get("PARLEY_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse"
# Reconnection backs off up to 15 s; a loaded machine adds start-up time on top.
LIVE_TIMEOUT_MS = 45_000


def launch(playwright: Playwright) -> Browser:
    if not CHROMIUM.exists():
        services.unavailable("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


class Embedded(processes.Started):
    """`make run`'s process on a port and a data directory of the test's own; both stay the
    same across `stop()` and `start()`, as a restarted laptop server keeps them."""

    def __init__(self, data_dir: Path, **settings: str) -> None:
        self.port = processes.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self._env = {
            **{
                key: value
                for key, value in os.environ.items()
                if not key.startswith("PARLEY_") or key == "PARLEY_REQUIRE_SERVICES"
            },
            **auth.PROCESS_ENV,
            "PARLEY_PORT": str(self.port),
            "PARLEY_LOG_LEVEL": "WARNING",
            **{f"PARLEY_{name.upper()}": value for name, value in settings.items()},
        }
        self._log = data_dir / "embedded.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Embedded:
        with self._log.open("ab") as out:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "parley_embedded"],
                cwd=self.data_dir,
                env=self._env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the embedded server exited:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop(signal.SIGKILL)
        raise TimeoutError(f"the embedded server did not start:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        processes.stop_process(self._process, sig, timeout=15)

    def log(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""


def register(page: Page, url: str, username: str, *, tenant: str = "default") -> None:
    """Register `username` through the page's own form and wait until its stream is live."""
    page.goto(f"{url}/?tenant={tenant}")
    page.get_by_role("button", name="Create one").click()
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#connection")).to_have_text("Connected", timeout=LIVE_TIMEOUT_MS)


def login(page: Page, url: str, username: str, password: str = PASSWORD) -> None:
    """Log `username` in through the page's own form and wait until its stream is live."""
    page.goto(url)
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#connection")).to_have_text("Connected", timeout=LIVE_TIMEOUT_MS)


def create_chat(page: Page, title: str, members: list[str], *, kind: str = "group") -> None:
    page.get_by_role("button", name="New chat").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Direct" if kind == "direct" else "Group").check()
    if kind == "group":
        dialog.get_by_label("Title").fill(title)
    dialog.get_by_label("Members (usernames, separated by commas)").fill(", ".join(members))
    dialog.get_by_role("button", name="Create").click()
    expect(page.locator("#chat-view")).to_be_visible()


def send(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message", exact=True)
    box.fill(text)
    box.press("Enter")


def bodies(page: Page) -> list[str]:
    return page.locator("#message-list .body").all_inner_texts()


def screenshot(page: Page, name: str, fallback: Path) -> None:
    """Write a screenshot of a main view: into PARLEY_WEB_SCREENSHOTS when set (docs/web/,
    to refresh the docs' pictures), else next to the test's other files."""
    folder = Path(os.environ.get("PARLEY_WEB_SCREENSHOTS") or fallback)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))
