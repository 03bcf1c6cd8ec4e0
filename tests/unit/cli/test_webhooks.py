"""The webhook signature verifier of `parley_cli.webhooks`, which docs/integrations.md
shows to copy: it accepts what chat signs and nothing else."""

from __future__ import annotations

import hashlib
import hmac

from parley_cli import webhooks
from support.problems import case

SECRET = "whsec_test"
BODY = b'{"id":"e1","type":"message"}'


def signed(timestamp: int, body: bytes = BODY, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def test_a_fresh_signature_of_the_body_with_the_secret_verifies() -> None:
    assert webhooks.verify(SECRET, signed(1_000_000), BODY, now=1_000_010)


def test_a_wrong_secret_a_changed_body_a_stale_time_or_garbage_does_not_verify() -> None:
    bad = {
        "wrong secret": signed(1_000_000, secret="whsec_other"),
        "other body": signed(1_000_000, body=b"{}"),
        "stale": signed(1_000_000 - 301),
        "from the future": signed(1_000_000 + 301),
        "empty": "",
        "no v1": "t=1000000",
        "no t": signed(1_000_000).split(",")[1],
        "not a number": "t=soon,v1=00",
        "v0 only": signed(1_000_000).replace("v1=", "v0="),
    }
    for name, header in bad.items():
        with case(name):
            assert not webhooks.verify(SECRET, header, BODY, now=1_000_000)
