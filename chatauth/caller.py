"""Who is calling: every credential this service accepts becomes one `Caller`.

A Clerk session (`/api`), a workspace token, an API key, a provider JWT or an anonymous identity (`/v1`)
all end here, so views, limits, logs and the audit trail read the same fields whichever face was called.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

TokenSource = Literal["header", "cookie"]
AuthMethod = Literal["session", "workspace_token", "api_key", "provider", "anonymous"]


# The identifiers a workspace is made of. Every credential's user and org ids are held to this, so no id can
# smuggle in the `org:user` separator of workspace keys, and the anonymous prefix is ours alone.
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.@+\-]{1,128}$")
# An id from a second issuer (a provider auth rule) lives in that issuer's namespace: `p<rule>~<id>`. `~` is
# outside ID_PATTERN, so no credential can spell another issuer's (or Clerk's) ids.
NAMESPACED_ID_PATTERN = re.compile(r"^p[0-9]{1,9}~[A-Za-z0-9_.@+\-]{1,118}$")
MAX_ID_CHARS = 128
ANONYMOUS_PREFIX = "anon_"


class InvalidWorkspaceId(ValueError):
    """A workspace or user id that cannot name a workspace (bad characters, reserved, or not matching)."""


def check_id(value: Any, what: str, *, allow_anonymous: bool = False, allow_namespaced: bool = False) -> str:
    """`value` if it is a usable user/org id: 1-128 of letters, digits and `_.@+-`, not `anon_...` unless allowed
    (and, where this service minted it, a provider-namespaced `p<rule>~<id>`)."""
    if allow_namespaced and isinstance(value, str) and NAMESPACED_ID_PATTERN.match(value):
        return value
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise InvalidWorkspaceId(f"{what} must be 1-128 characters of letters, digits and _.@+-")
    if value.startswith(ANONYMOUS_PREFIX) and not allow_anonymous:
        raise InvalidWorkspaceId(f"{what} may not start with the reserved prefix {ANONYMOUS_PREFIX!r}")
    return value


def namespaced(namespace: str | None, value: str, what: str) -> str:
    """A provider's id placed in its issuer's namespace (unchanged for Clerk-shared rules)."""
    raw = check_id(value, what)
    if namespace is None:
        return raw
    scoped = f"{namespace}~{raw}"
    if len(scoped) > MAX_ID_CHARS:
        raise InvalidWorkspaceId(f"{what} is too long for this issuer's namespace")
    return scoped


@dataclass(frozen=True, slots=True)
class Workspace:
    """The tenant that owns chat data: a user alone, or a user inside an organization."""

    user_id: str
    org_id: str | None = None

    @property
    def key(self) -> str:
        return f"{self.org_id}:{self.user_id}" if self.org_id else self.user_id

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller of one request, built once from a verified credential.

    `via` says how it proved who it is. The Clerk session fields (`session_id` ... `factor_verification_age`)
    are set for `via="session"` only; `api_key_id` for API keys and the tokens they minted; `exchange_token`
    is the workspace token a provider-JWT caller gets back in the `Authorization` response header.
    """

    user_id: str
    org_id: str | None = None
    via: AuthMethod = "session"
    token_source: TokenSource = "header"
    session_id: str | None = None
    session_status: str | None = None
    org_role: str | None = None
    org_slug: str | None = None
    org_permissions: tuple[str, ...] = ()
    actor: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    factor_verification_age: tuple[int, ...] | None = None
    api_key_id: str | None = None
    exchange_token: str | None = field(default=None, repr=False, hash=False, compare=False)

    # DRF puts the authenticated object on `request.user` for /v1; these make it read as signed in.
    is_authenticated = True
    is_anonymous = False

    @classmethod
    def for_workspace(cls, workspace: Workspace, via: AuthMethod, **extra: Any) -> Caller:
        return cls(user_id=workspace.user_id, org_id=workspace.org_id, via=via, **extra)

    @property
    def workspace(self) -> Workspace:
        return Workspace(user_id=self.user_id, org_id=self.org_id)

    @property
    def anonymous(self) -> bool:
        return self.via == "anonymous"

    @property
    def is_clerk_session(self) -> bool:
        return self.via == "session"

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "session_id": self.session_id,
            "session_status": self.session_status,
            "org_id": self.org_id,
            "org_role": self.org_role,
            "org_slug": self.org_slug,
            "org_permissions": list(self.org_permissions),
            "actor": self.actor,
            "workspace": self.workspace.key,
        }


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """Why a presented credential was refused: a Clerk-style reason code and a human message."""

    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class AuthState:
    """The outcome of authenticating one request: a caller, a failure, or neither (no credential)."""

    caller: Caller | None = None
    failure: AuthFailure | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.caller is not None


ANONYMOUS = AuthState()
