"""Sentences every face shares, in a leaf module (no Django REST framework import, so any layer may use it)."""

# The one signed-out message of the `/api` face: DRF views, the chat views and plain 401s say the same.
SIGN_IN_REQUIRED = "Sign in required: send a Clerk session token."
