"""The canary's I/O: its login, its chat, the sends, and one stream per chat replica.

Each stream prefers its own replica. When that one goes away (a pod killed, a node lost) it
reconnects to the next replica that answers and resumes from the last `seq` it delivered,
as every client does (docs/api.md "Real-time stream"), so a replica's death costs
reconnects and some delay, and, when the contract holds, nothing else.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from parley_cli.canary import ledger, metrics

logger = logging.getLogger("parley.canary")

_UNAUTHORIZED_CLOSE = 4401
_BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class Config:
    api_url: str
    """Where the canary logs in, finds its chat and sends: the public API."""
    tenant: str
    username: str
    password: str
    auth_url: str | None = None
    """Where the canary logs in, when not at `api_url` (auth and chat apart, in tests)."""
    replicas: list[str] = field(default_factory=list)
    """Chat replicas' base URLs, one stream each."""
    replicas_dns: str | None = None
    """`host:port` of a headless Service: one stream per address it resolves to."""
    interval_seconds: float = 5.0
    loss_seconds: float = 60.0
    chat_title: str = "parley-canary"
    resolve_seconds: float = 30.0


class Session:
    """The canary's access token, renewed by logging in again when refused."""

    def __init__(self, http: httpx.AsyncClient, auth: httpx.AsyncClient, config: Config) -> None:
        self._http = http
        self._auth = auth
        self._config = config
        self.token = ""

    async def login(self) -> str:
        body = {
            "tenant": self._config.tenant,
            "username": self._config.username,
            "password": self._config.password,
        }
        response = await self._auth.post("/v1/auth/login", json=body)
        if response.status_code == 401:
            # First run in a tenant with self-registration: the canary creates its user.
            registered = await self._auth.post("/v1/auth/register", json=body)
            if registered.status_code not in (201, 409):
                registered.raise_for_status()
            response = await self._auth.post("/v1/auth/login", json=body)
        response.raise_for_status()
        self.token = str(response.json()["access_token"])
        return self.token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        response = await self._http.request(method, path, headers=self.headers(), **options)
        if response.status_code == 401:
            await self.login()
            response = await self._http.request(method, path, headers=self.headers(), **options)
        return response


async def canary_chat(session: Session, title: str) -> tuple[str, int]:
    """The id of the canary's chat (made on first run) and its last `seq` now."""
    response = await session.request("GET", "/v1/chats")
    response.raise_for_status()
    for chat in response.json()["chats"]:
        if chat.get("title") == title and chat.get("kind") == "group":
            return str(chat["id"]), int(chat["last_seq"])
    created = await session.request(
        "POST", "/v1/chats", json={"kind": "group", "title": title, "members": []}
    )
    created.raise_for_status()
    return str(created.json()["id"]), int(created.json()["last_seq"])


class Canary:
    def __init__(self, config: Config, *, transport: httpx.AsyncBaseTransport | None = None):
        self.config = config
        self.ledger = ledger.Ledger(loss_seconds=config.loss_seconds)
        self._http = httpx.AsyncClient(base_url=config.api_url, timeout=10, transport=transport)
        self._auth = httpx.AsyncClient(
            base_url=config.auth_url or config.api_url, timeout=10, transport=transport
        )
        self.session = Session(self._http, self._auth, config)
        self._streams: dict[str, asyncio.Task[None]] = {}
        self._chat_id = ""
        self._start_seq = 0
        self._run = uuid.uuid4().hex[:8]

    async def run(self) -> None:
        await self.session.login()
        self._chat_id, self._start_seq = await canary_chat(self.session, self.config.chat_title)
        logger.info("canary started", extra={"chat_id": self._chat_id})
        try:
            await asyncio.gather(self._discover(), self._send())
        finally:
            for task in self._streams.values():
                task.cancel()
            await self._http.aclose()
            await self._auth.aclose()

    # -- replicas -----------------------------------------------------------------------

    def replicas(self) -> list[str]:
        if self.config.replicas_dns is None:
            return list(self.config.replicas)
        host, _, port = self.config.replicas_dns.rpartition(":")
        try:
            found = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
        except OSError:
            logger.warning("replicas not resolved", extra={"dns": self.config.replicas_dns})
            return list(self._streams)  # keep what we have
        addresses = sorted({str(info[4][0]) for info in found})
        return [f"http://[{a}]:{port}" if ":" in a else f"http://{a}:{port}" for a in addresses]

    async def _discover(self) -> None:
        while True:
            wanted = self.replicas()
            for url in wanted:
                if url not in self._streams:
                    self.ledger.add_stream(url)
                    self._streams[url] = asyncio.create_task(self._hold(url))
            for url in [u for u in self._streams if u not in wanted]:
                self._streams.pop(url).cancel()
                self.ledger.remove_stream(url)
            metrics.STREAMS.set(len(self._streams))
            if self.config.replicas_dns is None:
                return
            await asyncio.sleep(self.config.resolve_seconds)

    # -- sending ------------------------------------------------------------------------

    async def _send(self) -> None:
        number = 0
        while True:
            started = time.monotonic()
            number += 1
            await self.send_one(number)
            lost = self.ledger.expire(time.monotonic())
            if lost:
                metrics.LOST.inc(lost)
                logger.error("messages lost", extra={"lost": lost})
            await asyncio.sleep(
                max(0.0, self.config.interval_seconds - (time.monotonic() - started))
            )

    async def send_one(self, number: int) -> None:
        client_msg_id = f"canary-{self._run}-{number}"
        self.ledger.sending(client_msg_id, time.monotonic())
        body = {"body": f"canary {number}", "client_msg_id": client_msg_id}
        try:
            response = await self.session.request(
                "POST", f"/v1/chats/{self._chat_id}/messages", json=body
            )
        except httpx.HTTPError as exc:
            response = None
            logger.warning("send failed", extra={"error.type": type(exc).__name__})
        if response is not None and response.status_code in (200, 201):
            self.ledger.acknowledged(client_msg_id)
            metrics.SENT.inc()
            return
        self.ledger.refused(client_msg_id)
        metrics.SEND_ERRORS.inc()
        if response is not None:
            logger.warning(
                "send refused", extra={"http.response.status_code": response.status_code}
            )

    # -- streams ------------------------------------------------------------------------

    async def _hold(self, preferred: str) -> None:
        """One stream: on `preferred` while it answers, else on the next replica that does."""
        cursor = self._start_seq
        attempt = 0
        while True:
            candidates = [preferred, *[u for u in self._streams if u != preferred]]
            url = candidates[attempt % len(candidates)]
            try:
                async for seq in self._receive(preferred, url, cursor):
                    cursor = max(cursor, seq)
                    attempt = 0
            except asyncio.CancelledError:
                raise
            except (OSError, WebSocketException, TimeoutError, httpx.HTTPError) as exc:
                if _refused_token(exc):
                    await self.session.login()
                logger.warning(
                    "stream lost", extra={"stream": preferred, "error.type": type(exc).__name__}
                )
            metrics.RECONNECTS.inc()
            await asyncio.sleep(_BACKOFF_SECONDS[min(attempt, len(_BACKOFF_SECONDS) - 1)])
            attempt += 1

    async def _receive(self, stream: str, url: str, cursor: int) -> Any:
        ws_url = url.replace("http", "ws", 1).rstrip("/") + "/v1/stream"
        async with connect(
            ws_url, additional_headers=self.session.headers(), open_timeout=10
        ) as ws:
            ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if ready.get("type") != "ready":
                raise WebSocketException(f"expected ready, got {ready.get('type')}")
            await ws.send(json.dumps({"type": "resume", "cursors": {self._chat_id: cursor}}))
            metrics.CONNECTED.inc()
            try:
                async for raw in ws:
                    frame = json.loads(raw)
                    if frame.get("type") != "message" or frame.get("chat_id") != self._chat_id:
                        continue
                    message = frame["message"]
                    seq = int(message["seq"])
                    self._judge(stream, seq, message.get("client_msg_id"))
                    yield seq
            finally:
                metrics.CONNECTED.dec()
            raise _StreamEnded(f"closed {ws.close_code}")

    def _judge(self, stream: str, seq: int, client_msg_id: str | None) -> None:
        arrival = self.ledger.received(stream, seq, client_msg_id, time.monotonic())
        metrics.RECEIVED.inc()
        if arrival.duplicate:
            metrics.DUPLICATED.inc()
            logger.error("duplicate delivery", extra={"stream": stream, "seq": seq})
        if arrival.out_of_order:
            metrics.OUT_OF_ORDER.inc()
            logger.error("out-of-order delivery", extra={"stream": stream, "seq": seq})
        if arrival.delay is not None:
            metrics.DELAY.observe(arrival.delay)


class _StreamEnded(WebSocketException):
    """The server closed the stream cleanly: reconnect like after any other loss."""


def _refused_token(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionClosed) and exc.rcvd is not None:
        return exc.rcvd.code == _UNAUTHORIZED_CLOSE
    if isinstance(exc, _StreamEnded):
        return str(_UNAUTHORIZED_CLOSE) in str(exc)
    return isinstance(exc, InvalidStatus) and exc.response.status_code == 401
