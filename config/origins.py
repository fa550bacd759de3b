"""One origin rule for every check that compares a browser's `Origin`: CORS and the cookie CSRF check.

`normalize_origin` turns an origin or URL into `scheme://host[:port]`, lower-cased, with the default port dropped
(`https://App.example.com:443/x` -> `https://app.example.com`); anything without a scheme and host (including the
opaque origin `null`) normalises to "" and never matches.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(value: str) -> str:
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not scheme or not host:
        return ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}" if port is None or DEFAULT_PORTS.get(scheme) == port else f"{scheme}://{host}:{port}"


def origin_in(origin: str, allowed: Iterable[str]) -> bool:
    """Whether `origin` is one of `allowed` after both are normalised (an empty or opaque origin never is)."""
    normalized = normalize_origin(origin)
    return bool(normalized) and normalized in {normalize_origin(a) for a in allowed}
