"""The Django admin as tests reach it."""

from __future__ import annotations

from django.contrib.admin.utils import quote
from django.db.models import Model
from django.urls import reverse


def change_url(obj: Model) -> str:
    """The admin's own link to an object's change page. The admin escapes `_` in keys and reads `_XX` back as a
    character, so a hand-built `.../thr_2B.../change/` names `thr+...`, not the thread (one id in a few hundred)."""
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[quote(obj.pk)])
