"""The web client's second-wave features (docs/web.md "What it does"): threads, reactions,
mentions, presence, account settings and search, two people at a time against a real
embedded server, each change seen live (or at the next look) on the other's page."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import FilePayload, Locator, Page, expect

from support import browser

NewPage = Callable[..., Page]


def two_in_a_chat(server: browser.Embedded, new_page: NewPage, title: str) -> tuple[Page, Page]:
    """alice and bob, logged in, with the group chat `title` open on both pages."""
    alice, bob = new_page(), new_page()
    browser.register(alice, server.url, "alice")
    browser.register(bob, server.url, "bob")
    browser.create_chat(alice, title, ["bob"])
    bob.get_by_role("button", name=title, exact=True).click()
    expect(bob.locator("#chat-title")).to_have_text(title)
    return alice, bob


def chip(page: Page, emoji: str, count: int) -> Locator:
    """A reaction chip, named by its emoji and count."""
    return page.get_by_role("button", name=f"{emoji} {count}", exact=True)


def test_a_reply_in_a_thread_is_seen_live_by_the_other(
    server: browser.Embedded, new_page: NewPage, tmp_path: Path
) -> None:
    alice, bob = two_in_a_chat(server, new_page, "Plans")
    browser.send(alice, "where shall we meet?")
    expect(bob.locator("#message-list .body")).to_have_text(["where shall we meet?"])

    alice.get_by_role("button", name="Reply to message 1").click()
    thread = alice.get_by_role("log", name="Thread")
    expect(thread.locator(".body")).to_have_text(["where shall we meet?"])
    alice.get_by_role("textbox", name="Reply in thread").fill("at the station")
    alice.get_by_role("textbox", name="Reply in thread").press("Enter")
    expect(thread.locator(".body")).to_have_text(["where shall we meet?", "at the station"])

    # bob's root gains its thread summary live, and the thread opens from it.
    summary = bob.get_by_role("button", name="Open the thread of message 1, 1 reply")
    expect(summary).to_be_visible()
    summary.click()
    bobs_thread = bob.get_by_role("log", name="Thread")
    expect(bobs_thread.locator(".body")).to_have_text(["where shall we meet?", "at the station"])
    bob.get_by_role("textbox", name="Reply in thread").fill("at noon then")
    bob.get_by_role("button", name="Reply", exact=True).click()

    expect(thread.locator(".body")).to_have_text(
        ["where shall we meet?", "at the station", "at noon then"]
    )
    expect(
        alice.get_by_role("button", name="Open the thread of message 1, 2 replies")
    ).to_be_visible()
    expect(alice.locator("#message-list li.reply")).to_have_count(2)
    browser.screenshot(alice, "thread", tmp_path)
    alice.get_by_role("button", name="Close the thread").click()
    expect(thread).to_be_hidden()


def test_a_reaction_changes_the_count_live_on_the_other_page(
    server: browser.Embedded, new_page: NewPage, tmp_path: Path
) -> None:
    alice, bob = two_in_a_chat(server, new_page, "Lunch")
    browser.send(alice, "pizza?")
    expect(bob.locator("#message-list .body")).to_have_text(["pizza?"])

    bob.get_by_role("button", name="Add a reaction to message 1").click()
    browser.screenshot(bob, "reaction-picker", tmp_path)
    bob.get_by_role("menuitem", name="React with 👍").click()
    expect(chip(bob, "👍", 1)).to_have_attribute("aria-pressed", "true")
    alices_chip = chip(alice, "👍", 1)
    expect(alices_chip).to_have_attribute("aria-pressed", "false")

    alices_chip.click()
    expect(chip(alice, "👍", 2)).to_have_attribute("aria-pressed", "true")
    expect(chip(bob, "👍", 2)).to_have_attribute("aria-pressed", "true")

    # bob takes his back: the count drops on both pages, and alice's own stays hers.
    chip(bob, "👍", 2).click()
    expect(chip(bob, "👍", 1)).to_have_attribute("aria-pressed", "false")
    expect(chip(alice, "👍", 1)).to_have_attribute("aria-pressed", "true")


def test_a_mention_is_completed_marked_and_counted_apart(
    server: browser.Embedded, new_page: NewPage
) -> None:
    alice, bob = new_page(), new_page()
    browser.register(alice, server.url, "alice")
    browser.register(bob, server.url, "bob")
    browser.create_chat(alice, "Desk", ["bob"])
    box = alice.get_by_role("textbox", name="Message", exact=True)
    box.press_sequentially("ask @b")
    expect(alice.get_by_role("option", name="@bob")).to_be_visible()
    box.press("Enter")  # takes the suggestion rather than sending
    expect(box).to_have_value("ask @bob ")
    box.press_sequentially("about it")
    box.press("Enter")

    expect(bob.get_by_role("button", name="Desk, 1 unread, 1 mentioning you")).to_be_visible()
    expect(bob.locator("#chat-list .badge.mention")).to_have_text("@1")
    bob.get_by_role("button", name="Desk, 1 unread, 1 mentioning you").click()
    expect(bob.locator("#message-list mark.mention.me")).to_have_text("@bob")
    expect(bob.locator("#message-list li.mentioned")).to_have_count(1)
    expect(bob.get_by_role("button", name="Desk", exact=True)).to_be_visible()
    # On alice's own page the name is a member's, not hers: marked, but not as hers.
    expect(alice.locator("#message-list mark.mention")).to_have_text("@bob")
    expect(alice.locator("#message-list mark.mention.me")).to_have_count(0)


def test_a_status_change_is_seen_by_the_other(server: browser.Embedded, new_page: NewPage) -> None:
    alice, bob = two_in_a_chat(server, new_page, "Ops")
    alice.get_by_role("button", name="Members").click()
    expect(alice.get_by_role("img", name="bob is online")).to_be_visible()

    bob.get_by_role("combobox", name="Status").select_option("away")
    expect(alice.get_by_role("img", name="bob is away")).to_be_visible()
    bob.get_by_role("combobox", name="Status").select_option("dnd")
    expect(alice.get_by_role("img", name="bob is do not disturb")).to_be_visible()
    bob.get_by_role("combobox", name="Status").select_option("online")
    expect(alice.get_by_role("img", name="bob is online")).to_be_visible()


def test_a_new_display_name_shows_in_the_others_member_list(
    server: browser.Embedded, new_page: NewPage, tmp_path: Path
) -> None:
    alice, bob = two_in_a_chat(server, new_page, "Names")
    bob.get_by_role("button", name="Settings").click()
    dialog = bob.get_by_role("dialog", name="Settings")
    dialog.get_by_label("Display name").fill("Bobby Tables")
    dialog.get_by_role("button", name="Save name").click()
    expect(dialog.get_by_role("status")).to_contain_text(["Display name saved."])
    browser.screenshot(bob, "settings", tmp_path)
    dialog.get_by_role("button", name="Close").click()
    expect(bob.locator("#me")).to_have_text("Bobby Tables · default")

    alice.get_by_role("button", name="Members").click()
    expect(alice.locator("#member-list")).to_contain_text("Bobby Tables")
    expect(alice.locator("#member-list")).to_contain_text("@bob")


def test_a_password_change_logs_the_other_session_out_at_its_next_refresh(
    tmp_path: Path, new_page: NewPage
) -> None:
    # Short access tokens: the other session's next refresh comes within seconds.
    with browser.Embedded(tmp_path, access_token_ttl_seconds="10") as server:
        desk, laptop = new_page(), new_page()
        browser.register(desk, server.url, "alice")
        browser.login(laptop, server.url, "alice")

        desk.get_by_role("button", name="Settings").click()
        dialog = desk.get_by_role("dialog", name="Settings")
        dialog.get_by_label("Current password").fill("wrong password")
        dialog.get_by_label("New password").fill("a brand new one")
        dialog.get_by_role("button", name="Change password").click()
        expect(dialog.get_by_role("alert").last).to_have_text("The current password is wrong.")
        dialog.get_by_label("Current password").fill(browser.PASSWORD)
        dialog.get_by_label("New password").fill("a brand new one")
        dialog.get_by_role("button", name="Change password").click()
        expect(dialog.get_by_role("status").last).to_have_text(
            "Password changed. Your other logins have ended."
        )
        dialog.get_by_role("button", name="Close").click()

        expect(laptop.get_by_role("heading", name="Log in to Parley")).to_be_visible()
        expect(laptop.get_by_role("alert").first).to_have_text(
            "Your session has ended; please log in again."
        )
        # The desk's own login was kept: it refreshes past its token's expiry and stays.
        first = desk.evaluate("JSON.parse(sessionStorage.getItem('parley.session')).access_token")
        desk.wait_for_function(
            "old => JSON.parse(sessionStorage.getItem('parley.session')).access_token !== old",
            arg=first,
        )
        expect(desk.locator("#connection")).to_have_text("Connected")
        expect(desk.locator("#app-view")).to_be_visible()
        browser.login(laptop, server.url, "alice", "a brand new one")


def test_search_jumps_to_a_message_beyond_the_loaded_page(
    server: browser.Embedded, new_page: NewPage
) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        account = {"tenant": "default", "username": "carol", "password": browser.PASSWORD}
        assert http.post("/v1/auth/register", json=account).status_code == 201
        token = http.post("/v1/auth/login", json=account).json()["access_token"]
    page = new_page()
    browser.register(page, server.url, "alice")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        bearer = {"Authorization": f"Bearer {token}"}
        chat = http.post(
            "/v1/chats",
            json={"kind": "group", "title": "Archive", "members": ["alice"]},
            headers=bearer,
        ).json()
        for number in range(1, 81):
            body = "the hidden needle" if number == 3 else f"m{number}"
            sent = http.post(
                f"/v1/chats/{chat['id']}/messages", json={"body": body}, headers=bearer
            )
            assert sent.status_code == 201

    search = page.get_by_role("searchbox", name="Search messages")
    expect(search).to_be_visible()
    search.fill("needle")
    search.press("Enter")
    results = page.get_by_role("region", name="Search results")
    expect(results.get_by_role("status")).to_have_text("1 message found")
    results.get_by_role("button", name="carol in Archive: the hidden needle").click()

    found = page.locator('#message-list li[data-seq="3"]')
    expect(found).to_be_focused()
    expect(found).to_be_in_viewport()
    expect(found.locator(".body")).to_have_text("the hidden needle")
    expect(page.locator("#chat-title")).to_have_text("Archive")


def tiny_png(width: int, height: int) -> bytes:
    """A valid PNG of one colour, built by hand: no imaging library needed."""
    row = b"\x00" + b"\x1f\x5f\xbf" * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def test_files_sent_with_a_message_show_as_an_image_and_a_download(
    server: browser.Embedded, new_page: NewPage, tmp_path: Path
) -> None:
    alice, bob = two_in_a_chat(server, new_page, "Photos")
    attach = alice.get_by_role("button", name="Attach files")
    expect(attach).to_be_visible()
    picked: list[FilePayload] = [
        {"name": "dot.png", "mimeType": "image/png", "buffer": tiny_png(160, 100)},
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"bring snacks\n"},
    ]
    alice.locator("#attach-input").set_input_files(picked)
    uploads = alice.get_by_role("list", name="Files to send")
    expect(uploads.locator('li[data-state="ready"]')).to_have_count(2)
    browser.send(alice, "the plan")
    expect(uploads).to_be_hidden()

    image = bob.get_by_role("img", name="dot.png")
    expect(image).to_have_attribute("width", "160")
    expect(image).to_have_attribute("height", "100")
    bob.wait_for_function("() => document.querySelector('#message-list img')?.naturalWidth === 160")
    link = bob.get_by_role("link", name="Download notes.txt (13 B)")
    with bob.expect_download() as download:
        link.click()
    saved = tmp_path / "notes.txt"
    download.value.save_as(saved)
    assert saved.read_bytes() == b"bring snacks\n"
    browser.screenshot(bob, "attachments", tmp_path)
