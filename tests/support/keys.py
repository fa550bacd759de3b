"""RSA key pairs and a signer that can forge any malformation a test needs."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class KeyPair:
    kid: str
    private_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @property
    def public_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    @property
    def jwk(self) -> dict[str, Any]:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**data, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def sign(self, claims: dict[str, Any], *, alg: str = "RS256", headers: dict[str, Any] | None = None) -> str:
        hdrs = {"kid": self.kid, "typ": "JWT", **(headers or {})}
        return jwt.encode(claims, self.private_key, algorithm=alg, headers=hdrs)


def session_claims(
    *,
    sub: str = "user_123",
    issuer: str = "https://clerk.example.test",
    azp: str = "http://localhost:3000",
    **extra: Any,
) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "azp": azp,
        "exp": now + 60,
        "iat": now - 1,
        "iss": issuer,
        "nbf": now - 10,
        "sid": "sess_abc",
        "sts": "active",
        "sub": sub,
        "v": 2,
    }
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not ...}
