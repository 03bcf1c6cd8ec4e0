"""The web client (docs/web.md) in headless Chromium against a real embedded server: what
people do with it, end to end, over the public contract only."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from support import browser

NewPage = Callable[..., Page]


def test_two_people_register_create_a_chat_and_talk_live(
    server: browser.Embedded, new_page: NewPage, tmp_path: Path
) -> None:
    alice, bob = new_page(), new_page()
    alice.goto(server.url)
    expect(alice.get_by_role("heading", name="Log in to Parley")).to_be_visible()
    browser.screenshot(alice, "login", tmp_path)
    browser.register(alice, server.url, "alice")
    browser.register(bob, server.url, "bob")

    browser.create_chat(alice, "Lunch", ["bob"])
    browser.send(alice, "pizza at noon?")
    lunch = bob.get_by_role("button", name="Lunch, 1 unread")
    expect(lunch).to_be_visible()
    lunch.click()
    expect(bob.locator("#message-list .body")).to_have_text(["pizza at noon?"])
    # Opening the chat moved bob's read marker: the badge goes, on the server too.
    expect(bob.get_by_role("button", name="Lunch", exact=True)).to_be_visible()

    bob.get_by_role("textbox", name="Message", exact=True).press_sequentially("sure")
    expect(alice.locator("#typing")).to_have_text("bob is typing…")
    bob.get_by_role("textbox", name="Message", exact=True).press("Enter")
    expect(alice.locator("#message-list .body")).to_have_text(["pizza at noon?", "sure"])
    expect(alice.locator("#typing")).to_have_text("")
    browser.send(alice, "see you there")
    expect(bob.locator("#message-list .body")).to_have_text(
        ["pizza at noon?", "sure", "see you there"]
    )
    browser.screenshot(alice, "chat", tmp_path)

    alice.get_by_role("button", name="Members").click()
    expect(alice.locator("#member-list li")).to_contain_text(["alice", "bob"])
    browser.screenshot(alice, "members", tmp_path)
    alice.get_by_role("button", name="New chat").click()
    browser.screenshot(alice, "new-chat", tmp_path)


def test_one_edits_and_deletes_a_message_and_the_other_sees_both(
    server: browser.Embedded, new_page: NewPage
) -> None:
    alice, bob = new_page(), new_page()
    browser.register(alice, server.url, "alice")
    browser.register(bob, server.url, "bob")
    browser.create_chat(alice, "bob", ["bob"], kind="direct")
    browser.send(alice, "helo")
    browser.send(alice, "ignore this")
    bob.get_by_role("button", name="alice, 2 unread").click()
    expect(bob.locator("#message-list .body")).to_have_text(["helo", "ignore this"])

    alice.get_by_role("button", name="Edit message 1").click()
    editor = alice.get_by_role("textbox", name="Edit message")
    editor.fill("hello")
    editor.press("Enter")
    alice.get_by_role("button", name="Delete message 2").click()
    alice.get_by_role("button", name="Really delete message 2?").click()

    expect(bob.locator("#message-list .body")).to_have_text(["hello", "This message was deleted."])
    expect(bob.locator("#message-list .edited")).to_have_count(1)
    # Nobody edits or deletes another's messages: bob gets no such buttons.
    expect(bob.get_by_role("button", name="Edit message 1")).to_have_count(0)


def test_a_client_that_was_offline_gets_every_message_once_and_in_order(
    server: browser.Embedded, new_page: NewPage
) -> None:
    alice, bob = new_page(), new_page()
    browser.register(alice, server.url, "alice")
    browser.register(bob, server.url, "bob")
    browser.create_chat(alice, "Trip", ["bob"])
    browser.send(alice, "one")
    bob.get_by_role("button", name="Trip, 1 unread").click()
    browser.send(bob, "two")
    expect(alice.locator("#message-list .body")).to_have_text(["one", "two"])

    # Bob cannot reconnect until the route is lifted: his stream stays down while alice talks.
    bob.route("**/v1/stream/ticket", lambda route: route.abort())
    server.stop(signal.SIGKILL)
    expect(bob.locator("#connection")).not_to_have_text("Connected")
    expect(alice.locator("#connection")).not_to_have_text("Connected")

    # Sent while the server is down: shown at once, marked as not sent, retried later.
    browser.send(alice, "three")
    expect(alice.locator('#message-list li[data-state="failed"]')).to_have_count(1)

    server.start()
    expect(alice.locator("#connection")).to_have_text("Connected")
    expect(alice.locator("#message-list .body")).to_have_text(["one", "two", "three"])
    browser.send(alice, "four")
    browser.send(alice, "five")
    expect(alice.locator("#message-list li[data-seq]")).to_have_count(5)

    bob.unroute("**/v1/stream/ticket")
    expect(bob.locator("#connection")).to_have_text("Connected")
    everything = ["one", "two", "three", "four", "five"]
    expect(bob.locator("#message-list .body")).to_have_text(everything)
    seqs = bob.locator("#message-list li").evaluate_all("items => items.map(i => i.dataset.seq)")
    assert seqs == ["1", "2", "3", "4", "5"]
    expect(alice.locator("#message-list .body")).to_have_text(everything)


def test_a_wrong_password_shows_an_error_and_logs_nobody_in(
    server: browser.Embedded, new_page: NewPage
) -> None:
    page = new_page()
    browser.register(page, server.url, "alice")
    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Username", exact=True).fill("alice")
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert").first).to_have_text("Wrong username or password.")
    expect(page.locator("#app-view")).to_be_hidden()
    stored = page.evaluate("sessionStorage.getItem('parley.session')")
    assert stored is None
    assert page.evaluate("localStorage.length") == 0


def test_an_expired_access_token_is_refreshed_without_the_user_noticing(
    tmp_path: Path, new_page: NewPage
) -> None:
    with browser.Embedded(tmp_path, access_token_ttl_seconds="10") as server:
        alice, bob = new_page(), new_page()
        browser.register(alice, server.url, "alice")
        browser.register(bob, server.url, "bob")
        browser.create_chat(alice, "Later", ["bob"])
        browser.send(alice, "before")
        bob.get_by_role("button", name="Later, 1 unread").click()
        first = json.loads(alice.evaluate("sessionStorage.getItem('parley.session')"))

        # The stream closes when its token expires (4401); the client refreshes and resumes.
        alice.wait_for_function(
            "old => JSON.parse(sessionStorage.getItem('parley.session')).access_token !== old",
            arg=first["access_token"],
        )
        browser.send(alice, "after")
        expect(bob.locator("#message-list .body")).to_have_text(["before", "after"])
        expect(alice.locator('#message-list li[data-state="sent"]')).to_have_count(2)
        expect(alice.locator("#auth-view")).to_be_hidden()
        # The refresh token was rotated, and the old one is spent.
        latest = json.loads(alice.evaluate("sessionStorage.getItem('parley.session')"))
        assert latest["refresh_token"] != first["refresh_token"]
        refused = httpx.post(
            f"{server.url}/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert refused.status_code == 401


def test_history_pages_upward_in_order(server: browser.Embedded, new_page: NewPage) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        account = {"tenant": "default", "username": "carol", "password": browser.PASSWORD}
        assert http.post("/v1/auth/register", json=account).status_code == 201
    page = new_page()
    browser.register(page, server.url, "alice")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        login = {"tenant": "default", "username": "carol", "password": browser.PASSWORD}
        token = http.post("/v1/auth/login", json=login).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        chat = http.post(
            "/v1/chats",
            json={"kind": "group", "title": "Log", "members": ["alice"]},
            headers=bearer,
        ).json()
        for number in range(1, 121):
            sent = http.post(
                f"/v1/chats/{chat['id']}/messages", json={"body": f"m{number}"}, headers=bearer
            )
            assert sent.status_code == 201
    page.get_by_role("button", name="Log, 120 unread").click()
    expect(page.locator("#message-list li")).to_have_count(50)
    page.get_by_role("button", name="Load older messages").click()
    expect(page.locator("#message-list li")).to_have_count(100)
    page.get_by_role("button", name="Load older messages").click()
    expect(page.locator("#message-list li")).to_have_count(120)
    expect(page.get_by_role("button", name="Load older messages")).to_be_hidden()
    assert browser.bodies(page) == [f"m{number}" for number in range(1, 121)]


def test_the_client_fits_a_phone_and_follows_a_dark_system_theme(
    server: browser.Embedded, new_page: NewPage, tmp_path: Path
) -> None:
    phone = new_page(viewport={"width": 390, "height": 760}, color_scheme="dark")
    desk = new_page()
    browser.register(desk, server.url, "bob")
    browser.register(phone, server.url, "alice")
    browser.create_chat(phone, "Night owls", ["bob"])
    browser.send(phone, "still up?")
    desk.get_by_role("button", name="Night owls, 1 unread").click()
    browser.send(desk, "always")
    expect(phone.locator("#message-list .body")).to_have_text(["still up?", "always"])
    # One pane at a time: the chat hides the list, and Back brings it again.
    expect(phone.locator("#sidebar")).to_be_hidden()
    browser.screenshot(phone, "phone-dark-chat", tmp_path)
    phone.get_by_role("button", name="Back to the chat list").click()
    expect(phone.locator("#sidebar")).to_be_visible()
    expect(phone.get_by_role("button", name="Night owls", exact=True)).to_be_focused()
    background = phone.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(17, 20, 24)"
    browser.screenshot(phone, "phone-dark-list", tmp_path)


def test_the_chat_list_and_composer_work_from_the_keyboard(
    server: browser.Embedded, new_page: NewPage
) -> None:
    alice, bob = new_page(), new_page()
    browser.register(bob, server.url, "bob")
    browser.register(alice, server.url, "alice")
    browser.create_chat(alice, "First", ["bob"])
    browser.create_chat(alice, "Second", ["bob"])
    alice.get_by_role("button", name="Second", exact=True).focus()
    alice.keyboard.press("ArrowDown")
    expect(alice.get_by_role("button", name="First", exact=True)).to_be_focused()
    alice.keyboard.press("Enter")
    expect(alice.get_by_role("textbox", name="Message", exact=True)).to_be_focused()
    alice.keyboard.type("typed, not clicked")
    alice.keyboard.press("Enter")
    expect(bob.get_by_role("button", name="First, 1 unread")).to_be_visible()
