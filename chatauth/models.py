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
