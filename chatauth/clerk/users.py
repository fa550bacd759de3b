"""The Django user that stands for a Clerk user: read on use, created on first sight only."""

from __future__ import annotations

import hashlib

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction

from chatauth.models import ClerkIdentity


def _username_for(clerk_user_id: str) -> str:
    digest = hashlib.sha256(clerk_user_id.encode()).hexdigest()[:40]
    return f"clerk.{digest}"


def get_or_create_clerk_user(clerk_user_id: str) -> AbstractBaseUser:
    try:
        return ClerkIdentity.objects.select_related("user").get(clerk_user_id=clerk_user_id).user
    except ClerkIdentity.DoesNotExist:
        pass
    user_model = get_user_model()
    try:
        with transaction.atomic():
            user = user_model(username=_username_for(clerk_user_id), is_staff=False, is_superuser=False)
            user.set_unusable_password()
            user.save()
            ClerkIdentity.objects.create(clerk_user_id=clerk_user_id, user=user)
            return user
    except IntegrityError:
        # Another request created it first.
        return ClerkIdentity.objects.select_related("user").get(clerk_user_id=clerk_user_id).user
