"""`parley tail`: follow `GET /v1/stream`, reconnecting and resuming for as long as it runs.

The tail keeps, per chat, the last `seq` it printed (its cursor). After every connect it
sends `{type: "resume", cursors}` (docs/api.md "Real-time stream"), so the server replays
what was missed and then goes live. The cursors also make printing exactly-once on this
side: a message at or below its chat's cursor was printed already and is dropped, and one
that skips ahead is preceded by the missing ones read from the history route. So even a
server that replayed too much, or a frame that overtook a replay, prints no duplicate and
leaves no gap.

Close codes (the server's docs): 4401 means the access token expired or was refused, so
the pair is rotated and the stream reopened at once; 4408 (idle), 4429 (too slow), 1012
(restarting) and lost connections reopen after a short, growing, jittered pause. The
server closes sockets that send nothing for 120 s, hence a ping every 30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from parley_cli import api, output
from parley_cli.errors import ApiError, AuthError

PING_SECONDS = 30.0
CLOSE_UNAUTHORIZED = 4401
# What each close code means to a person. The CLI imports no server code, so this is its
# own table; tests/unit/cli/test_close_codes.py checks it names every code the server's
# `parley_chat.closes.CloseCode` closes with.
CLOSE_REASONS = {
    1000: "the server closed the stream",
    1001: "the server is going away",
    1006: "the connection was lost",
    1011: "the server had an internal error",
    1012: "the server is restarting",
    1013: "the server is busy",
    4403: "the tenant is suspended",
    4408: "the stream was idle",
    4429: "the stream fell behind",
}


class Backoff:
    """Pauses between reconnects: doubling from `first` up to `most`, with full jitter so
    clients cut off together do not all return together."""

    def __init__(self, first: float = 0.25, most: float = 5.0) -> None:
        self.first = first
        self.most = most
        self.attempt = 0

    def next(self) -> float:
        ceiling = min(self.most, self.first * 2**self.attempt)
        self.attempt += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class Tail:
    """Prints the stream of the chats in `cursors` (all of the user's when `only` is None)."""

    def __init__(
        self,
        client: api.Client,
        out: output.Output,
        *,
        cursors: dict[str, int],
        labels: dict[str, str],
        only: set[str] | None,
        me: str | None,
        names: dict[str, str] | None = None,
        ping_seconds: float = PING_SECONDS,
        backoff: Backoff | None = None,
    ) -> None:
        self.client = client
        self.out = out
        self.cursors = dict(cursors)
        """Per chat, the last `seq` printed: what `resume` asks to continue after."""
        self.labels = dict(labels)
        self.names = dict(names or {})
        """Usernames by user id, for presence frames (which carry only the id)."""
        self.only = only
        self.me = me
        self.names = dict(names or {})
        """Usernames by user id, for the frames that give only an id (reactions)."""
        self.ping_seconds = ping_seconds
        self.backoff = backoff or Backoff()
        self._url = api.stream_url(client.server)
        self._user_id: str | None = None
        self._refused = 0
        self._last_reason: str | None = None

    async def run(self) -> None:
        """Follow the stream until cancelled; returns never, raises `AuthError` when the
        login is over and `ApiError` when the server does not serve a stream at all."""
        while True:
            resumed = self._user_id is not None  # connected (and ready) at least once
            if resumed and self.only is None:
                try:
                    await asyncio.to_thread(self._discover)
                except ApiError as exc:
                    await self._pause(str(exc))
                    continue
            token = await asyncio.to_thread(self.client.access_token)
            try:
                async with connect(
                    self._url,
                    additional_headers={"Authorization": f"Bearer {token}"},
                    open_timeout=10,
                    close_timeout=2,
                    user_agent_header="parley-cli",
                ) as socket:
                    await self._follow(socket, resumed=resumed)
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else 1006
                if code == CLOSE_UNAUTHORIZED:
                    await self._renew(token)
                    continue
                await self._pause(CLOSE_REASONS.get(code, f"the stream closed ({code})"))
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403):
                    await self._renew(token)
                elif status == 429 or status >= 500:
                    await self._pause(f"the server answered HTTP {status}")
                else:
                    raise ApiError(
                        f"the server at {self.client.server} does not serve the stream "
                        f"(HTTP {status} from {api.STREAM_PATH})"
                    ) from None
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                reason = str(exc) or type(exc).__name__
                await self._pause(f"cannot reach server at {self.client.server} ({reason})")
            except ApiError as exc:  # a history or chat lookup while following failed
                await self._pause(str(exc))

    # -- one connection -------------------------------------------------------------------

    async def _follow(self, socket: ClientConnection, *, resumed: bool) -> None:
        try:
            ready = json.loads(await socket.recv())
        except ValueError:
            ready = None
        if not isinstance(ready, dict) or ready.get("type") != "ready":
            raise ApiError("the stream did not start with a ready frame")
        self._user_id = str(ready.get("user_id"))
        self._refused = 0
        self._last_reason = None
        # Resume before anything else: live frames that overtake the replay are caught by
        # the cursors, but the sooner the server knows them the less it sends twice.
        await socket.send(json.dumps({"type": "resume", "cursors": self.resume_cursors()}))
        self.backoff.reset()
        if resumed:
            self.out.notice("reconnected; resuming")
        pinger = asyncio.create_task(self._ping(socket))
        try:
            while True:
                text = await socket.recv()
                try:
                    frame = json.loads(text)
                except ValueError:
                    frame = None
                await self.take(frame if isinstance(frame, dict) else {"type": None, "raw": text})
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger

    async def _ping(self, socket: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(self.ping_seconds)
                await socket.send('{"type":"ping"}')

    def resume_cursors(self) -> dict[str, int]:
        if self.only is None:
            return dict(self.cursors)
        return {chat_id: seq for chat_id, seq in self.cursors.items() if chat_id in self.only}

    async def take(self, frame: dict[str, Any]) -> None:
        """Print one frame from the server, at most once and in order for its chat."""
        try:
            await self._take(frame)
        except (KeyError, TypeError, ValueError):
            # Not a frame of docs/api.md: say so and keep following.
            self.out.notice(f"ignored a malformed frame: {json.dumps(frame, default=str)[:100]}")

    async def _take(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind is None:
            raise ValueError("no type")
        if kind == "error":
            self.out.notice(f"stream: {frame.get('detail', 'error')}")
            return
        if kind == "presence":
            user_id = str(frame["user_id"])
            self.out.stream_frame(frame, self.names.get(user_id, user_id))
            return
        chat_id = frame.get("chat_id")
        if not isinstance(chat_id, str) or (self.only is not None and chat_id not in self.only):
            return  # pong, and chats this tail does not follow
        if kind == "message":
            seq = int(frame["message"]["seq"])
            last = self.cursors.get(chat_id)
            if last is not None:
                if seq <= last:
                    return  # printed already
                if seq > last + 1:
                    await self._fill(chat_id, after=last, before=seq)
            await self._print(frame, chat_id)
            self.cursors[chat_id] = seq
        elif kind == "member.left" and frame["member"].get("user_id") == self._user_id:
            await self._print(frame, chat_id)
            self.cursors.pop(chat_id, None)  # rejoining later starts afresh
        else:
            if kind == "member.joined":
                member = frame["member"]
                self.names[member["user_id"]] = member["username"]
            await self._print(frame, chat_id)

    async def _fill(self, chat_id: str, *, after: int, before: int) -> None:
        """Print the messages strictly between `after` and `before` from the history."""
        while after < before - 1:
            page = await asyncio.to_thread(
                self.client.history,
                chat_id,
                after_seq=after,
                limit=min(api.MAX_PAGE, before - 1 - after),
            )
            for message in page["messages"]:
                if message["seq"] <= after or message["seq"] >= before:
                    continue
                await self._print(
                    {"type": "message", "chat_id": chat_id, "message": message}, chat_id
                )
                self.cursors[chat_id] = after = message["seq"]
            if not page["has_more"] or not page["messages"]:
                return

    async def _print(self, frame: dict[str, Any], chat_id: str) -> None:
        if not self.out.json_mode and chat_id not in self.labels:
            try:
                chat = await asyncio.to_thread(self.client.chat, chat_id)
                self.labels[chat_id] = output.chat_label(chat, self.me)
            except ApiError:
                self.labels[chat_id] = chat_id[: output.SHORT_ID]
        who = self.names.get(frame["user_id"]) if frame.get("type") == "reaction" else None
        self.out.stream_frame(frame, self.labels.get(chat_id, chat_id), who)

    # -- between connections --------------------------------------------------------------

    def _discover(self) -> None:
        """Chats joined while disconnected: resumed from the user's read position."""
        for chat in self.client.chats():
            self.names.update(output.usernames([chat]))
            if chat["id"] not in self.cursors:
                self.cursors[chat["id"]] = chat["last_read_seq"]
                self.labels[chat["id"]] = output.chat_label(chat, self.me)
            self.names.update(output.usernames([chat]))

    async def _renew(self, stale: str) -> None:
        self._refused += 1
        if self._refused > 2:
            raise AuthError("the stream refused a freshly issued token; run 'parley login'")
        await asyncio.to_thread(self.client.renew, stale)

    async def _pause(self, reason: str) -> None:
        delay = self.backoff.next()
        if reason != self._last_reason:  # once per outage, not once per attempt
            self.out.notice(f"{reason}; reconnecting")
            self._last_reason = reason
        await asyncio.sleep(delay)
