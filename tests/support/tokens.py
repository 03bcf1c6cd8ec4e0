"""Hand-made JWTs for attacking a live auth server.

PyJWT refuses to build the tokens an attacker would (`alg: none` with a `kid`, HS256 keyed
with a public key), so these are assembled byte by byte per RFC 7515 compact serialisation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def write_signing_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 PEM at `path` for a server's `signing_key_file`; the key, to sign with."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    return key


def claims(
    *, sub: str, tid: str, username: str, lifetime: int = 300, now: int | None = None
) -> dict[str, Any]:
    """Every claim docs/api.md requires, valid for `lifetime` seconds from `now`."""
    issued = int(time.time()) if now is None else now
    return {
        "sub": sub,
        "tid": tid,
        "username": username,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": uuid.uuid4().hex,
    }


def signing_input(header: dict[str, Any], payload: dict[str, Any]) -> str:
    def segment(part: dict[str, Any]) -> str:
        return b64url(json.dumps(part, separators=(",", ":")).encode())

    return f"{segment(header)}.{segment(payload)}"


def ed25519(key: Ed25519PrivateKey, payload: dict[str, Any], *, kid: str | None) -> str:
    header: dict[str, Any] = {"alg": "EdDSA", "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    message = signing_input(header, payload)
    return f"{message}.{b64url(key.sign(message.encode()))}"


def hs256(secret: bytes, payload: dict[str, Any], *, kid: str) -> str:
    message = signing_input({"alg": "HS256", "typ": "JWT", "kid": kid}, payload)
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return f"{message}.{b64url(digest)}"


def unsigned(payload: dict[str, Any], *, kid: str, alg: str = "none") -> str:
    return signing_input({"alg": alg, "typ": "JWT", "kid": kid}, payload) + "."


def flip_char(segment: str, index: int) -> str:
    """`segment` with one base64url character changed. Pick an index away from the end:
    the last character of a segment may carry only padding bits that decoding ignores."""
    replacement = "B" if segment[index] == "A" else "A"
    return segment[:index] + replacement + segment[index + 1 :]
