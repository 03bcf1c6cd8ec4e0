"""parley_core.tokens: local verification from a JWKS, its cache and its refusals."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley_core import tokens


def _jwk(key: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}


def _token(key: Ed25519PrivateKey, kid: str, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "tid": "acme",
        "username": "alice",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


class CountingSource:
    def __init__(self, *keys: dict[str, Any]) -> None:
        self.keys = list(keys)
        self.calls = 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {"keys": list(self.keys)}


def test_a_token_signed_by_a_published_key_verifies() -> None:
    key = Ed25519PrivateKey.generate()
    verifier = tokens.Verifier(CountingSource(_jwk(key, "k1")))
    claims = asyncio.run(verifier.verify(_token(key, "k1")))
    assert claims.tenant == "acme"
    assert claims.username == "alice"


def test_keys_are_fetched_once_and_cached() -> None:
    key = Ed25519PrivateKey.generate()
    source = CountingSource(_jwk(key, "k1"))
    verifier = tokens.Verifier(source)

    async def verify_many() -> None:
        for _ in range(5):
            await verifier.verify(_token(key, "k1"))

    asyncio.run(verify_many())
    assert source.calls == 1


def test_an_unknown_kid_refetches_so_a_rotated_key_is_picked_up() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    source = CountingSource(_jwk(old, "old"))
    verifier = tokens.Verifier(source, refetch_interval=0)

    async def rotate() -> tokens.AccessClaims:
        await verifier.verify(_token(old, "old"))
        source.keys.append(_jwk(new, "new"))
        return await verifier.verify(_token(new, "new"))

    assert asyncio.run(rotate()).username == "alice"
    assert source.calls == 2


def test_invented_kids_cannot_make_the_verifier_hammer_the_jwks_endpoint() -> None:
    key = Ed25519PrivateKey.generate()
    source = CountingSource(_jwk(key, "k1"))
    verifier = tokens.Verifier(source, refetch_interval=60)

    async def attack() -> None:
        await verifier.verify(_token(key, "k1"))
        for n in range(20):
            with pytest.raises(tokens.InvalidToken):
                await verifier.verify(_token(key, f"invented-{n}"))

    asyncio.run(attack())
    assert source.calls == 1


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda key: _token(key, "k1", exp=int(time.time()) - 60), id="expired"),
        pytest.param(lambda key: _token(Ed25519PrivateKey.generate(), "k1"), id="other-key"),
        pytest.param(
            lambda key: jwt.encode(
                {"sub": "x"}, "s" * 32, algorithm="HS256", headers={"kid": "k1"}
            ),
            id="hs256",
        ),
        pytest.param(
            lambda key: jwt.encode({"sub": "x"}, "", algorithm="none", headers={"kid": "k1"}),
            id="alg-none",
        ),
        pytest.param(lambda key: _token(key, "k1", sub="not-a-uuid"), id="bad-sub"),
        pytest.param(lambda key: "not.a.token", id="garbage"),
    ],
)
def test_forged_or_stale_tokens_are_refused(forge: Any) -> None:
    key = Ed25519PrivateKey.generate()
    verifier = tokens.Verifier(CountingSource(_jwk(key, "k1")))
    with pytest.raises(tokens.InvalidToken):
        asyncio.run(verifier.verify(forge(key)))


def test_a_token_missing_a_required_claim_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    verifier = tokens.Verifier(CountingSource(_jwk(key, "k1")))
    now = int(time.time())
    token = jwt.encode(
        {"sub": str(uuid.uuid4()), "tid": "acme", "iat": now, "exp": now + 60, "jti": "j"},
        key,
        algorithm="EdDSA",
        headers={"kid": "k1"},
    )
    with pytest.raises(tokens.InvalidToken):
        asyncio.run(verifier.verify(token))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("Bearer   abc  ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token_reads_only_the_bearer_scheme(
    header: str | None, expected: str | None
) -> None:
    assert tokens.bearer_token(header) == expected


def test_a_verified_token_is_remembered_until_it_expires() -> None:
    key = Ed25519PrivateKey.generate()
    verifier = tokens.Verifier(CountingSource(_jwk(key, "k1")), leeway=0)
    expires = int(time.time()) + 2
    token = _token(key, "k1", exp=expires)
    first = asyncio.run(verifier.verify(token))
    assert asyncio.run(verifier.verify(token)) is first

    time.sleep(expires - time.time() + 0.1)
    with pytest.raises(tokens.InvalidToken):
        asyncio.run(verifier.verify(token))
    assert token not in verifier._verified


def test_the_verified_token_cache_stays_bounded() -> None:
    key = Ed25519PrivateKey.generate()
    verifier = tokens.Verifier(CountingSource(_jwk(key, "k1")), max_cached=3)

    async def many() -> None:
        for _ in range(10):
            await verifier.verify(_token(key, "k1"))

    asyncio.run(many())
    assert len(verifier._verified) == 3


def test_a_token_differing_by_one_character_is_checked_afresh() -> None:
    key = Ed25519PrivateKey.generate()
    verifier = tokens.Verifier(CountingSource(_jwk(key, "k1")))
    token = _token(key, "k1")
    asyncio.run(verifier.verify(token))
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    with pytest.raises(tokens.InvalidToken):
        asyncio.run(verifier.verify(forged))


def test_a_cache_size_of_zero_checks_every_token() -> None:
    key = Ed25519PrivateKey.generate()
    verifier = tokens.Verifier(CountingSource(_jwk(key, "k1")), max_cached=0)
    token = _token(key, "k1")
    assert asyncio.run(verifier.verify(token)) == asyncio.run(verifier.verify(token))
    assert verifier._verified == {}


def test_a_failed_refetch_keeps_the_keys_already_known_and_reports_the_outage() -> None:
    known, rotated = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    document = {"keys": [_jwk(known, "known")]}
    outage = False

    async def source() -> dict[str, Any]:
        if outage:
            raise tokens.JwksUnavailable("auth is down")
        return document

    verifier = tokens.Verifier(source, refetch_interval=0, max_cached=0)

    async def run() -> tokens.AccessClaims:
        nonlocal outage
        await verifier.verify(_token(known, "known"))
        outage = True
        # A key auth could not be asked about is an outage (503), not a bad token (401).
        with pytest.raises(tokens.JwksUnavailable):
            await verifier.verify(_token(rotated, "rotated"))
        return await verifier.verify(_token(known, "known"))

    assert asyncio.run(run()).username == "alice"


def test_an_unknown_kid_is_a_bad_token_again_once_auth_answers() -> None:
    key, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    outage = True

    async def source() -> dict[str, Any]:
        if outage:
            raise tokens.JwksUnavailable("auth is down")
        return {"keys": [_jwk(key, "k1")]}

    verifier = tokens.Verifier(source, refetch_interval=0)

    async def run() -> None:
        nonlocal outage
        with pytest.raises(tokens.JwksUnavailable):
            await verifier.verify(_token(key, "k1"))
        outage = False
        assert (await verifier.verify(_token(key, "k1"))).username == "alice"
        with pytest.raises(tokens.InvalidToken):
            await verifier.verify(_token(stranger, "k2"))

    asyncio.run(run())


def test_unreadable_keys_in_the_jwks_are_skipped() -> None:
    key = Ed25519PrivateKey.generate()
    broken = {"kty": "OKP", "crv": "Ed25519", "x": "not base64!", "kid": "broken"}
    source = CountingSource(broken, "not an object", _jwk(key, "k1"))  # type: ignore[arg-type]
    verifier = tokens.Verifier(source)
    assert asyncio.run(verifier.verify(_token(key, "k1"))).username == "alice"
