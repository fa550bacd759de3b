"""What a verified session token says about the caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

TokenSource = Literal["header", "cookie"]


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
class Principal:
    """The signed-in caller, built once per request from verified session-token claims."""

    user_id: str
    session_id: str | None = None
    session_status: str | None = None
    org_id: str | None = None
    org_role: str | None = None
    org_slug: str | None = None
    org_permissions: tuple[str, ...] = ()
    actor: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    factor_verification_age: tuple[int, ...] | None = None
    token_source: TokenSource = "header"

    @property
    def workspace(self) -> Workspace:
        return Workspace(user_id=self.user_id, org_id=self.org_id)

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
    """Why a presented token was refused: a Clerk-style reason code and a human message."""

    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class AuthState:
    """The outcome of authenticating one request: a principal, a failure, or neither (no token)."""

    principal: Principal | None = None
    failure: AuthFailure | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.principal is not None


ANONYMOUS = AuthState()
