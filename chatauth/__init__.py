"""Clerk session verification: middleware, principal, DRF authentication, development issuer."""
