from django.conf import settings
from django.db import models


class ClerkIdentity(models.Model):
    """Links a Clerk user id to the Django user that stands for it in this service.

    Looked up by Clerk id, never by username, so a Django account cannot be claimed by a token whose
    `sub` happens to equal its username.
    """

    clerk_user_id = models.CharField(max_length=255, unique=True)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="clerk_identity")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Clerk identity"
        verbose_name_plural = "Clerk identities"

    def __str__(self) -> str:
        return self.clerk_user_id


class ApiKey(models.Model):
    """A server-side credential for /v1 (`aui_sk_<key_id>_<secret>`); only a SHA-256 of it is stored.

    The key has 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    """

    name = models.CharField(max_length=200)
    key_id = models.CharField(max_length=32, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        verbose_name_plural = "API keys"

    def __str__(self) -> str:
        return f"{self.name} ({self.display_prefix}…)"

    @property
    def display_prefix(self) -> str:
        return f"aui_sk_{self.key_id}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuthRule(models.Model):
    """Accept an auth provider's JWT (e.g. a Clerk JWT template with `aud: "assistant-ui"`) on /v1."""

    name = models.CharField(max_length=200)
    provider = models.CharField(max_length=50, default="clerk", help_text="A label: clerk, auth0, supabase, ...")
    issuer = models.CharField(max_length=500, unique=True, help_text="The exact `iss` of the provider's JWTs.")
    jwks_url = models.URLField(max_length=500, help_text="https, or http on loopback only.")
    audience = models.CharField(max_length=500, help_text="Required `aud` value(s), comma separated.")
    user_id_claim = models.CharField(max_length=100, default="sub")
    org_id_claim = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text="Claim naming the organization (dotted path, e.g. o.id); blank: personal workspaces only.",
    )
    shares_clerk_users = models.BooleanField(
        default=False,
        help_text=(
            "Off (the default): this issuer's users and organizations get workspaces of their own, so a token "
            "from it can never name a Clerk user's data. On: its ids ARE Clerk ids (a Clerk JWT template of "
            "this deployment's own Clerk instance), and its users see their Clerk workspaces."
        ),
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "auth rule"

    def __str__(self) -> str:
        return f"{self.name} ({self.issuer})"

    @property
    def namespace(self) -> str | None:
        """The prefix of this issuer's ids in workspace keys, or None when they are Clerk's own ids."""
        return None if self.shares_clerk_users else f"p{self.pk}"

    @property
    def audiences(self) -> list[str]:
        return [a.strip() for a in self.audience.split(",") if a.strip()]

    def clean(self) -> None:
        from urllib.parse import urlsplit

        from django.core.exceptions import ValidationError

        parts = urlsplit(self.jwks_url)
        loopback = parts.hostname in {"localhost", "127.0.0.1", "::1"}
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValidationError({"jwks_url": "The JWKS URL must use https (http only on loopback)."})
        if not self.audiences:
            raise ValidationError({"audience": "An audience is required, so other tokens of the provider are refused."})


class AnonymousIdentity(models.Model):
    """A browser without sign-in (anonymous mode); its threads live in the workspace `anon_<id>`."""

    id = models.CharField(primary_key=True, max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=255, null=True, blank=True, help_text="Workspace key that claimed it.")

    class Meta:
        verbose_name_plural = "anonymous identities"

    def __str__(self) -> str:
        return self.id


class RefreshToken(models.Model):
    """One refresh token of an anonymous identity, stored as a SHA-256; each is single-use (rotated on refresh)."""

    identity = models.ForeignKey(AnonymousIdentity, on_delete=models.CASCADE, related_name="refresh_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"refresh token of {self.identity_id}"
