"""Smoke test of an installed Parley through its Ingress (the e2e workflow runs it on kind).

    python tests/chart/k8s_smoke.py --api http://127.0.0.1 --tenant smoke

Registers two users in a self-registration Tenant, logs both in, opens bob's WebSocket
stream, has alice create a chat with bob and send a message, and waits for bob to receive
it on the stream (docs/api.md: Auth API, Chat API, Real-time stream). Every step goes
through the Ingress, so the path split between auth and chat is exercised too. Exits
non-zero with the failing step's answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.sync.client import connect

PASSWORD = "smoke test password"


def wait_for(what: str, attempt: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not attempt():
        if time.monotonic() > deadline:
            sys.exit(f"gave up waiting for {what}")
        time.sleep(2)


def expect(response: httpx.Response, *statuses: int) -> Any:
    if response.status_code not in statuses:
        sys.exit(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, expected {statuses}: {response.text}"
        )
    return response.json() if response.content else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True, help="base URL of the Ingress")
    parser.add_argument("--tenant", required=True, help="a Tenant with self-registration on")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for readiness")
    options = parser.parse_args()
    suffix = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{suffix}", f"bob-{suffix}"

    with httpx.Client(base_url=options.api, timeout=15) as client:

        def jwks_served() -> bool:
            try:
                return client.get("/.well-known/jwks.json").status_code == 200
            except httpx.TransportError:
                return False

        wait_for("the auth service behind the Ingress", jwks_served, options.timeout)

        def registered(username: str) -> Callable[[], bool]:
            def attempt() -> bool:
                response = client.post(
                    "/v1/auth/register",
                    json={"tenant": options.tenant, "username": username, "password": PASSWORD},
                )
                if response.status_code == 404:  # the operator has not created the tenant yet
                    return False
                expect(response, 201)
                return True

            return attempt

        wait_for(f"tenant {options.tenant}", registered(alice), options.timeout)
        registered(bob)()
        print(f"registered {alice} and {bob} in {options.tenant}")

        def login(username: str) -> str:
            pair = expect(
                client.post(
                    "/v1/auth/login",
                    json={"tenant": options.tenant, "username": username, "password": PASSWORD},
                ),
                200,
            )
            token: str = pair["access_token"]
            return token

        alice_token, bob_token = login(alice), login(bob)
        print("logged in")

        parts = urlsplit(options.api)
        scheme = "wss" if parts.scheme == "https" else "ws"
        stream_url = urlunsplit(
            (scheme, parts.netloc, "/v1/stream", f"access_token={bob_token}", "")
        )
        with connect(stream_url, open_timeout=15) as stream:
            ready = json.loads(stream.recv(timeout=15))
            if ready.get("type") != "ready":
                sys.exit(f"expected a ready frame, got {ready}")
            print("bob's stream is ready")

            headers = {"Authorization": f"Bearer {alice_token}"}
            chat = expect(
                client.post(
                    "/v1/chats",
                    json={"kind": "group", "title": "smoke", "members": [bob]},
                    headers=headers,
                ),
                201,
            )
            body = f"hello from the smoke test {suffix}"
            sent = expect(
                client.post(
                    f"/v1/chats/{chat['id']}/messages", json={"body": body}, headers=headers
                ),
                201,
            )
            print(f"sent message {sent['seq']} to chat {chat['id']}")

            deadline = time.monotonic() + 30
            while True:
                frame = json.loads(stream.recv(timeout=max(deadline - time.monotonic(), 0.1)))
                if frame.get("type") == "message" and frame["message"]["body"] == body:
                    break
            print("bob received it on the stream")

        history = expect(
            client.get(
                f"/v1/chats/{chat['id']}/messages",
                params={"after_seq": 0},
                headers={"Authorization": f"Bearer {bob_token}"},
            ),
            200,
        )
        if [m["body"] for m in history["messages"]] != [body]:
            sys.exit(f"unexpected history: {history}")
    print("smoke test passed")


if __name__ == "__main__":
    main()
