"""The development issuer: a local RSA key that signs tokens in Clerk's exact claim format.

It exists so the quick start needs no Clerk account. Its tokens go through the same
`verify_session_token` as real Clerk tokens; only the key source differs. It is enabled by
`CLERK["DEV_ISSUER"]`, which settings only turn on with DEBUG and no Clerk key, or when forced.
The key lives in a file so every worker process signs and verifies with the same one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chatauth.clerk.conf import DEV_ISSUER, clerk_settings
from chatauth.keys import StaticJwksSource


def _load_or_create_private_key(path: Path) -> rsa.RSAPrivateKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        try:
            os.link(tmp, path)  # atomic and exclusive: the first worker to get here wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return loaded


class DevIssuer:
    def __init__(self, key_file: str) -> None:
        self.private_key = _load_or_create_private_key(Path(key_file))
        public_jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        self.kid = _thumbprint(public_jwk)
        self.public_jwk = {**public_jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}
        self.key_source = StaticJwksSource({self.kid: self.private_key.public_key()})

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def mint(
        self,
        user_id: str,
        *,
        org_id: str | None = None,
        org_role: str = "member",
        org_slug: str | None = None,
        org_permissions: dict[str, list[str]] | None = None,
        azp: str = "http://localhost:8000",
        ttl: int = 3600,
        claims_version: int = 2,
        status: str = "active",
    ) -> str:
        """A session token shaped like Clerk's (v2 by default, v1 on request)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "azp": azp,
            "exp": now + ttl,
            "fva": [0, -1],
            "iat": now,
            "iss": DEV_ISSUER,
            "jti": secrets.token_hex(10),
            "nbf": now - 10,
            "sid": f"sess_dev_{secrets.token_hex(8)}",
            "sts": status,
            "sub": user_id,
        }
        if claims_version == 2:
            claims["v"] = 2
            if org_id:
                features = list((org_permissions or {}).keys())
                permission_names = sorted({p for perms in (org_permissions or {}).values() for p in perms})
                claims["o"] = {"id": org_id, "rol": org_role.removeprefix("org:"), "slg": org_slug or org_id}
                if features:
                    claims["fea"] = ",".join(f"o:{f}" for f in features)
                    claims["o"]["per"] = ",".join(permission_names)
                    claims["o"]["fpm"] = ",".join(
                        str(sum(1 << permission_names.index(p) for p in (org_permissions or {})[f])) for f in features
                    )
        elif org_id:
            claims["org_id"] = org_id
            claims["org_role"] = org_role if org_role.startswith("org:") else f"org:{org_role}"
            claims["org_slug"] = org_slug or org_id
            claims["org_permissions"] = [f"org:{f}:{p}" for f, perms in (org_permissions or {}).items() for p in perms]
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint: the kid changes exactly when the key does."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return "dev_" + base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()[:24]


@lru_cache(maxsize=4)
def _issuer_for(key_file: str) -> DevIssuer:
    return DevIssuer(key_file)


def dev_issuer() -> DevIssuer:
    if not clerk_settings.uses_dev_issuer:
        raise RuntimeError("The development issuer is disabled (CLERK DEV_ISSUER is off or a Clerk key is set).")
    return _issuer_for(clerk_settings.DEV_KEY_FILE)
