"""The webhook URL rules and the delivery-time address guard (docs/integrations.md
"Webhooks"): what a URL may name, and which resolved addresses a delivery refuses."""

from __future__ import annotations

import asyncio
import ipaddress
import random

import pytest

from parley_chat.delivery import sender
from parley_chat.domain import webhooks
from support.problems import case

NOT_PUBLIC = [
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # the cloud metadata address
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "2002:7f00:1::1",  # 6to4 around 127.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1 (reserved for translation, not global)
]
PUBLIC = ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2001:4860:4860::8888"]


def test_loopback_private_link_local_multicast_and_reserved_addresses_are_not_public() -> None:
    for address in NOT_PUBLIC:
        with case(address):
            assert not webhooks.public_address(ipaddress.ip_address(address))
    for address in PUBLIC:
        with case(address):
            assert webhooks.public_address(ipaddress.ip_address(address))


BAD_URLS = {
    "http://example.com/hook": "https",
    "ftp://example.com/hook": "https",
    "https://": "host",
    "https://127.0.0.1/hook": "public address",
    "https://[::1]/hook": "public address",
    "https://10.0.0.7:8443/hook": "public address",
    "https://169.254.169.254/latest/meta-data": "public address",
    "https://localhost/hook": "public host",
    "https://api.localhost/hook": "public host",
    "https://db.internal/hook": "public host",
    "https://intranet/hook": "public host",
    "https://user:pass@example.com/hook": "credentials",
    "https://example.com/hook#part": "fragment",
    "https://example.com:99999/hook": "valid URL",
    "https://example.com/a b": "ASCII",
    "https://exämple.com/hook": "ASCII",
    "https://example.com/\x00": "ASCII",
    "https://example.com/" + "a" * 2100: "2048",
    "javascript:alert(1)": "https",
}


def test_a_webhook_url_must_be_https_and_name_a_public_host() -> None:
    for url, problem in BAD_URLS.items():
        with case(url[:80]):
            found = webhooks.url_problem(url, allow_private=False)
            assert found is not None
            assert problem in found
    for url in ["https://example.com/hook", "https://93.184.215.14:8443/x?a=1", "https://x.io"]:
        with case(url):
            assert webhooks.url_problem(url, allow_private=False) is None


def test_allowing_private_addresses_admits_http_and_loopback_but_not_nonsense() -> None:
    for url in ["http://127.0.0.1:8787/", "https://localhost/hook", "http://10.0.0.7/x"]:
        with case(url):
            assert webhooks.url_problem(url, allow_private=True) is None
    for url in ["ftp://127.0.0.1/", "http://user:pw@127.0.0.1/", "http:///path"]:
        with case(url):
            assert webhooks.url_problem(url, allow_private=True) is not None


def resolver(*addresses: str) -> sender.Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        del host, port
        return list(addresses)

    return resolve


def test_the_guard_refuses_a_name_that_resolves_to_any_non_public_address() -> None:
    # DNS rebinding answers one public and one private address: the private one is refused.
    for found in [("127.0.0.1",), ("93.184.215.14", "10.0.0.1"), ("::1",), ()]:
        with case(found), pytest.raises(sender.Refused):
            asyncio.run(sender.checked_address("hooks.example.com", 443, resolver(*found)))


def test_the_guard_connects_to_the_public_address_it_checked() -> None:
    found = asyncio.run(sender.checked_address("hooks.example.com", 443, resolver("93.184.215.14")))
    assert found == "93.184.215.14"


def test_a_delivery_to_loopback_is_refused_before_any_connection_with_the_guard_on() -> None:
    async def attempts() -> list[sender.Attempt]:
        guarded = sender.Sender(timeout_seconds=5, allow_private=False)
        try:
            return [
                await guarded.send(url, secret="whsec_x", event_id="e", body=b"{}")
                for url in LOOPBACK_URLS
            ]
        finally:
            await guarded.aclose()

    for url, attempt in zip(LOOPBACK_URLS, asyncio.run(attempts()), strict=True):
        with case(url):
            assert attempt.outcome is sender.Outcome.REFUSED


LOOPBACK_URLS = ["https://127.0.0.1:1/hook", "http://127.0.0.1:1/hook", "https://localhost/x"]


def test_backoff_has_full_jitter_below_an_exponential_capped_ceiling() -> None:
    policy = webhooks.Policy(backoff_base_seconds=1, backoff_ceiling_seconds=60)
    rng = random.Random(7)
    for attempts, ceiling in [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (500, 60)]:
        waits = [policy.backoff(attempts, rng) for _ in range(200)]
        with case(attempts):
            assert all(0 <= wait <= ceiling for wait in waits)
            assert max(waits) > ceiling * 0.8  # spread over the whole range
            assert min(waits) < ceiling * 0.2
