"""One webhook delivery: a signed POST of one event, to an address checked to be public.

The guard against server-side request forgery resolves the URL's host itself, refuses it
when any address it resolves to is not public (`domain.webhooks.public_address`), and
connects to the address it checked, sending the name as the Host header and as TLS
SNI (so the certificate is still checked against the name). Resolving again at connect
time would let a name that answers a public address to the check and a private one to
the connection (DNS rebinding) reach the inside of the network.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from parley_chat.domain import webhooks

USER_AGENT = "Parley-Webhooks/1"
EVENT_ID_HEADER = "Parley-Event-Id"
SIGNATURE_HEADER = "Parley-Signature"


class Outcome(enum.StrEnum):
    SUCCESS = "success"  # a 2xx
    FAILURE = "failure"  # any other status, a redirect included
    TIMEOUT = "timeout"  # no answer within the timeout
    ERROR = "error"  # no connection, TLS refused, the connection dropped
    REFUSED = "refused"  # the host is or resolves to an address that is not public


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    status_code: int | None = None
    reason: str = ""
    """Why it failed, for the log: never a URL's query, a header or the body."""


class Refused(Exception):
    """The URL's host is not a public address, or does not resolve."""


Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Host and port -> the addresses it resolves to."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `Parley-Signature` header: `t=UNIX,v1=HEX`, where v1 is HMAC-SHA256 of
    `t.body` keyed with the webhook's secret (docs/api.md "Tenant backends")."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


async def checked_address(host: str, port: int, resolve: Resolver) -> str:
    """The address to connect to: the first the host resolves to, once all are public."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        try:
            found = await resolve(host, port)
        except OSError as exc:
            raise Refused(f"the host does not resolve ({exc.strerror or exc})") from None
        addresses = [ipaddress.ip_address(address.split("%", 1)[0]) for address in found]
    else:
        addresses = [literal]
    if not addresses:
        raise Refused("the host does not resolve")
    for address in addresses:
        if not webhooks.public_address(address):
            raise Refused(f"the host resolves to a non-public address {address}")
    return str(addresses[0])


class Sender:
    """Delivers events over one HTTP client shared by every webhook of the process."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        allow_private: bool,
        resolve: Resolver = system_resolver,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.allow_private = allow_private
        self._resolve = resolve
        self._client = httpx.AsyncClient(
            timeout=timeout_seconds,
            # contract: a redirect is a failure, never followed (it could point inside).
            follow_redirects=False,
            # No proxy from the environment: the address checked is the one connected to.
            trust_env=False,
            transport=transport,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=32),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, url: str, *, secret: str, event_id: str, body: bytes) -> Attempt:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_ID_HEADER: event_id,
            SIGNATURE_HEADER: signature(secret, int(time.time()), body),
        }
        try:
            async with asyncio.timeout(self.timeout_seconds):
                target, extensions = await self._target(url, headers)
                async with self._client.stream(
                    "POST", target, content=body, headers=headers, extensions=extensions
                ) as response:
                    # The body is never read: an endpoint cannot make us hold a large one.
                    status = response.status_code
        except Refused as exc:
            return Attempt(Outcome.REFUSED, reason=str(exc))
        except (TimeoutError, httpx.TimeoutException):
            return Attempt(Outcome.TIMEOUT, reason=f"no answer within {self.timeout_seconds} s")
        except httpx.HTTPError as exc:
            return Attempt(Outcome.ERROR, reason=type(exc).__name__)
        if 200 <= status < 300:
            return Attempt(Outcome.SUCCESS, status)
        return Attempt(Outcome.FAILURE, status, reason=f"answered {status}")

    async def _target(self, url: str, headers: dict[str, str]) -> tuple[str, dict[str, object]]:
        """The URL to request and its extensions: with the guard on, the URL with its host
        replaced by the checked address, the name kept as Host and SNI."""
        if self.allow_private:
            return url, {}
        # Checked when the webhook was saved; checked again, as the setting may have changed.
        if problem := webhooks.url_problem(url, allow_private=False):
            raise Refused(f"the URL {problem}")
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or 443
        address = await checked_address(host, port, self._resolve)
        literal = f"[{address}]" if ":" in address else address
        headers["Host"] = parts.netloc
        pinned = urlunsplit(parts._replace(netloc=f"{literal}:{port}"))
        return pinned, {"sni_hostname": host}
