"""parley_auth.domain.signing: the key file, the kid and the JWKS."""

from __future__ import annotations

import base64
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley_auth.domain.signing import SigningKey

# RFC 8037 Appendix A.1 private key ("d"), whose thumbprint A.3 gives.
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_the_kid_is_the_rfc_7638_thumbprint() -> None:
    seed = base64.urlsafe_b64decode(RFC8037_D + "=")
    key = SigningKey(Ed25519PrivateKey.from_private_bytes(seed))
    assert key.kid == RFC8037_THUMBPRINT
    assert key.jwk["x"] == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"


def test_a_missing_key_is_generated_once_with_owner_only_permissions(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.pem"
    first = SigningKey.load_or_create(path, create=True)
    second = SigningKey.load_or_create(path, create=True)
    assert first.kid == second.kid
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_configured_key_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        SigningKey.load_or_create(tmp_path / "absent.pem", create=False)


def test_a_key_that_is_not_ed25519_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ValueError, match="Ed25519"):
        SigningKey.load_or_create(path, create=False)


def test_issued_tokens_verify_with_the_published_jwk_and_expire_on_time() -> None:
    key = SigningKey(Ed25519PrivateKey.generate())
    now = datetime.now(UTC)
    tenant_id = uuid.uuid4()
    token = key.issue(
        user_id=uuid.uuid4(),
        tenant="acme",
        tenant_id=tenant_id,
        username="alice",
        now=now,
        ttl=timedelta(minutes=15),
    )
    assert jwt.get_unverified_header(token)["kid"] == key.kid
    claims = jwt.decode(token, jwt.PyJWK(key.jwk), algorithms=["EdDSA"])
    assert claims["exp"] - claims["iat"] == 900
    assert claims["tenant_id"] == str(tenant_id)
    assert set(key.jwks()["keys"][0]) == {"kty", "crv", "x", "kid", "use", "alg"}
