"""Where session-token verification keys come from: a PEM key, a remote JWKS, or the dev issuer.

A remote JWKS lives in the Django cache so every worker shares one copy. Each entry records when it
was fetched; it is refreshed when older than the TTL or when a token names an unknown `kid`, and a
cache-wide gate (`cache.add`) lets at most one refresh through per interval, whichever worker asks.
When the endpoint is down the last good copy keeps being served.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.core.cache import cache

from chatauth.clerk.conf import clerk_settings
from chatauth.jwt import KeySource, TokenVerificationError
from config.metrics import counts_jwks_fetch

logger = logging.getLogger(__name__)

KID_MISMATCH = "jwk-kid-mismatch"
LOCAL_RECHECK_SECONDS = 5.0
REMOTE_FAILED = "jwk-remote-failed-to-load"
FAILED_TO_RESOLVE = "jwk-failed-to-resolve"


@lru_cache(maxsize=8)
def load_pem_key(pem: str) -> RSAPublicKey:
    try:
        key = load_pem_public_key(pem.encode())
    except ValueError as exc:
        raise TokenVerificationError(FAILED_TO_RESOLVE, "CLERK_JWT_KEY is not a PEM public key.") from exc
    if not isinstance(key, RSAPublicKey):
        raise TokenVerificationError(FAILED_TO_RESOLVE, "CLERK_JWT_KEY is not an RSA public key.")
    return key


@dataclass(frozen=True)
class PemKeySource:
    """Networkless verification: one RSA key, whatever `kid` the token names (as Clerk does)."""

    pem: str

    def key_for(self, kid: str | None) -> RSAPublicKey:
        return load_pem_key(self.pem)

    def holds(self, kid: str | None) -> bool:
        return True


def rsa_keys_from_jwks(document: Any) -> dict[str, RSAPublicKey]:
    """The RSA signing keys of a JWKS document, by `kid`; other key types are ignored."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("JWKS document has no 'keys' list")
    keys: dict[str, RSAPublicKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry).key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue
        if isinstance(key, RSAPublicKey):
            keys[entry["kid"]] = key
    return keys


@dataclass(frozen=True)
class StaticJwksSource:
    """Keys known in-process (the development issuer): same lookup rules as a remote JWKS."""

    keys: dict[str, RSAPublicKey]

    def key_for(self, kid: str | None) -> RSAPublicKey:
        if kid is None or kid not in self.keys:
            raise TokenVerificationError(KID_MISMATCH, f"No signing key matches kid={kid!r}.")
        return self.keys[kid]

    def holds(self, kid: str | None) -> bool:
        return True


@lru_cache(maxsize=32)
def _parsed(raw: str) -> dict[str, RSAPublicKey]:
    return rsa_keys_from_jwks(json.loads(raw))


class RemoteJwksSource:
    """A JWKS fetched over HTTP and shared between workers through the Django cache."""

    def __init__(
        self,
        url: str,
        *,
        ttl: int,
        refresh_interval: int,
        timeout: float,
        bearer: str = "",
    ) -> None:
        self.url = url
        self.ttl = ttl
        self.refresh_interval = refresh_interval
        self.timeout = timeout
        self.bearer = bearer
        digest = hashlib.sha256(f"{url}|{bearer}".encode()).hexdigest()[:24]
        self.cache_key = f"chatauth:jwks:{digest}"
        self.gate_key = f"chatauth:jwks-refresh:{digest}"
        self.backoff_key = f"chatauth:jwks-backoff:{digest}"
        # The parsed keys of the shared entry, held for a few seconds so a verification needs neither a cache
        # round trip nor a parse; the shared cache stays where workers agree on the key set (an unknown kid
        # always goes back to it, and every worker re-reads it within LOCAL_RECHECK_SECONDS).
        # (monotonic time of the last read of the shared entry, its fetched_at, its parsed keys by kid)
        self._local: tuple[float, float, dict[str, RSAPublicKey]] | None = None

    def _local_keys(self) -> tuple[float, float, dict[str, RSAPublicKey]] | None:
        now = time.monotonic()
        local = self._local
        if local is not None and now - local[0] < LOCAL_RECHECK_SECONDS:
            return local
        entry = cache.get(self.cache_key)
        local = self._local = (now, entry["fetched_at"], _parsed(entry["raw"])) if entry is not None else None
        return local

    def key_for(self, kid: str | None) -> RSAPublicKey:
        # The hot path: the keys held in this process (re-read from the shared cache every LOCAL_RECHECK_SECONDS).
        local = self._local_keys()
        if local is not None and kid is not None and time.time() - local[1] < self.ttl:
            key = local[2].get(kid)
            if key is not None:
                return key
        self._local = None  # stale, or a kid we do not hold: ask the shared cache (and maybe the issuer)
        entry = cache.get(self.cache_key)
        if entry is None or time.time() - entry["fetched_at"] >= self.ttl:
            entry = self._refresh(entry)
        keys = _parsed(entry["raw"]) if entry else {}
        if kid is not None and kid in keys:
            self._hold(entry, keys)
            return keys[kid]
        if entry is not None:
            # An unknown kid may mean the issuer rotated its keys: one refresh per interval, cluster-wide.
            entry = self._refresh(entry)
            keys = _parsed(entry["raw"]) if entry else {}
            if kid is not None and kid in keys:
                self._hold(entry, keys)
                return keys[kid]
        if entry is None:
            raise TokenVerificationError(REMOTE_FAILED, "The JWKS could not be loaded and none is cached.")
        raise TokenVerificationError(KID_MISMATCH, f"No signing key in the JWKS matches kid={kid!r}.")

    def _hold(self, entry: dict[str, Any] | None, keys: dict[str, RSAPublicKey]) -> None:
        """Keep what the shared cache (or the issuer) just gave: the next verifications need no round trip."""
        if entry is not None:
            self._local = (time.monotonic(), entry["fetched_at"], keys)

    def holds(self, kid: str | None) -> bool:
        """The key is among those held here, and neither they nor the shared entry are due to be re-read."""
        local = self._local
        return (
            local is not None
            and kid is not None
            and kid in local[2]
            and time.monotonic() - local[0] < LOCAL_RECHECK_SECONDS
            and time.time() - local[1] < self.ttl
        )

    def warm(self) -> bool:
        """Load the JWKS into the shared cache if it is not there (honouring the failure back-off); True if cached."""
        if cache.get(self.cache_key) is None:
            self._refresh(None)
        return cache.get(self.cache_key) is not None

    def _refresh(self, current: dict[str, Any] | None) -> dict[str, Any] | None:
        if current is None:
            # Cold start: every worker may load, but a failed load backs everyone off for an interval.
            if cache.get(self.backoff_key):
                return None
        elif not cache.add(self.gate_key, 1, timeout=self.refresh_interval):
            # Another worker refreshed (or tried) within the interval: use whatever it stored.
            return cache.get(self.cache_key) or current
        try:
            raw = self.fetch()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("JWKS fetch from %s failed: %s", self.url, exc.__class__.__name__)
            if current is None:
                cache.set(self.backoff_key, 1, timeout=self.refresh_interval)
            return current
        entry = {"raw": raw, "fetched_at": time.time()}
        # Kept well past the TTL so an outage of the endpoint does not sign everybody out.
        cache.set(self.cache_key, entry, timeout=max(self.ttl * 24, 86400))
        return entry

    @counts_jwks_fetch
    def fetch(self) -> str:
        headers = {"Accept": "application/json"}
        if self.bearer:
            headers["Authorization"] = f"Bearer {self.bearer}"
        response = httpx.get(self.url, headers=headers, timeout=self.timeout, follow_redirects=False)
        response.raise_for_status()
        document = response.json()
        if not rsa_keys_from_jwks(document):
            raise ValueError("JWKS has no usable RSA signing keys")
        return json.dumps(document, sort_keys=True)


_remote_sources: dict[tuple[Any, ...], RemoteJwksSource] = {}
_remote_lock = threading.Lock()


def remote_source(url: str, *, ttl: int, refresh_interval: int, timeout: float, bearer: str = "") -> RemoteJwksSource:
    """One `RemoteJwksSource` object per configuration (it holds no data: that lives in the cache)."""
    signature = (url, ttl, refresh_interval, timeout, bearer)
    with _remote_lock:
        source = _remote_sources.get(signature)
        if source is None:
            source = _remote_sources[signature] = RemoteJwksSource(
                url, ttl=ttl, refresh_interval=refresh_interval, timeout=timeout, bearer=bearer
            )
        return source


def session_key_source() -> KeySource:
    """The key source for Clerk session tokens, chosen from the CLERK settings (once per settings change)."""
    source = clerk_settings.derived("_session_key_source", _session_key_source)
    if isinstance(source, _Unresolved):
        raise TokenVerificationError(FAILED_TO_RESOLVE, source.message)
    return source


@dataclass(frozen=True)
class _Unresolved:
    """No key source configured: kept like a source, raised afresh on every use."""

    message: str


def _session_key_source() -> KeySource | _Unresolved:
    from chatauth.clerk.devissuer import dev_issuer  # it imports this module

    if clerk_settings.JWT_KEY:
        return PemKeySource(clerk_settings.JWT_KEY)
    url = clerk_settings.jwks_url
    if url:
        bearer = clerk_settings.SECRET_KEY if not (clerk_settings.JWKS_URL or clerk_settings.publishable) else ""
        return remote_source(
            url,
            ttl=clerk_settings.JWKS_CACHE_TTL_SECONDS,
            refresh_interval=clerk_settings.JWKS_REFRESH_INTERVAL_SECONDS,
            timeout=clerk_settings.JWKS_TIMEOUT_SECONDS,
            bearer=bearer,
        )
    if clerk_settings.uses_dev_issuer:
        return dev_issuer().key_source
    return _Unresolved(
        "No Clerk key configured: set CLERK_JWT_KEY, CLERK_JWKS_URL, CLERK_PUBLISHABLE_KEY or CLERK_SECRET_KEY."
    )
