"""The Ed25519 key that signs access tokens, and the JWKS that publishes it (RFC 8037)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley_core import secretfiles, tokens

logger = logging.getLogger(__name__)


class SigningKey:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        x = _b64url(raw)
        # RFC 7638 thumbprint: members in lexicographic order, no white space.
        canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
        self.kid = _b64url(hashlib.sha256(canonical.encode()).digest())
        self.jwk = {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": x,
            "kid": self.kid,
            "use": "sig",
            "alg": "EdDSA",
        }

    @classmethod
    def load_or_create(cls, path: Path, *, create: bool) -> SigningKey:
        """Read the PEM at `path`; generate it (owner-only) first when `create` allows."""
        if not create and not path.exists():
            raise FileNotFoundError(f"signing key file {path} does not exist")
        pem = secretfiles.read_or_create(path, _new_pem)
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return cls(key)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk]}

    def issue(
        self,
        *,
        user_id: uuid.UUID,
        tenant: str,
        tenant_id: uuid.UUID,
        username: str,
        now: datetime,
        ttl: timedelta,
        session_id: uuid.UUID | None = None,
    ) -> str:
        claims = {
            "sub": str(user_id),
            "tid": tenant,
            # Binds the token to this incarnation of the tenant, not only its slug.
            tokens.TENANT_ID_CLAIM: str(tenant_id),
            "username": username,
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        if session_id is not None:
            claims[tokens.SESSION_CLAIM] = str(session_id)
        return jwt.encode(
            claims, self._private_key, algorithm=tokens.ALGORITHM, headers={"kid": self.kid}
        )


def _new_pem() -> bytes:
    logger.info("generating a signing key")
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
