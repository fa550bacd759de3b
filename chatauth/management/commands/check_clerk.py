"""`manage.py check_clerk`: check the Clerk configuration end to end, before users find out.

It resolves the key source the service would use, fetches the JWKS for real, and checks the issuer,
the authorized parties and the webhook secret. Problems make the exit status 1; warnings do not
(unless --strict).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatauth.clerk.conf import clerk_settings, ops_settings, parse_publishable_key
from chatauth.jwt import TokenVerificationError
from chatauth.keys import PemKeySource, RemoteJwksSource, load_pem_key, rsa_keys_from_jwks, session_key_source


def is_origin(value: str) -> bool:
    """`scheme://host[:port]` and nothing more, as Clerk compares `azp`."""
    parts = urlsplit(value)
    return (
        parts.scheme in {"http", "https"}
        and bool(parts.hostname)
        and parts.path in {"", "/"}
        and not parts.query
        and not parts.fragment
        and not parts.username
    )


class Report:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def ok(self, text: str) -> None:
        self.lines.append(("ok", text))

    def warn(self, text: str) -> None:
        self.lines.append(("warning", text))

    def problem(self, text: str) -> None:
        self.lines.append(("problem", text))

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.lines if k == kind)


class Command(BaseCommand):
    help = (
        "Check the Clerk configuration end to end: where session-token keys come from, that the JWKS is "
        "reachable and has RSA keys, the issuer, the authorized parties and the webhook signing secret. "
        "Prints what is wrong; exits 1 when anything is (with --strict, warnings count too)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--strict", action="store_true", help="Fail on warnings too.")
        parser.add_argument(
            "--timeout", type=float, default=None, help="Seconds to wait for the JWKS (default: CLERK_JWKS_TIMEOUT)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        timeout = options["timeout"]
        if timeout is not None and timeout <= 0:
            raise CommandError("--timeout must be a positive number of seconds.")
        report = Report()
        self._check_keys(report, timeout)
        self._check_issuer(report)
        self._check_authorized_parties(report)
        self._check_webhook_secret(report)
        styles = {"ok": self.style.SUCCESS, "warning": self.style.WARNING, "problem": self.style.ERROR}
        for kind, text in report.lines:
            self.stdout.write(styles[kind](f"[{kind}] {text}"))
        problems, warnings = report.count("problem"), report.count("warning")
        if problems or (options["strict"] and warnings):
            raise CommandError(f"Clerk configuration: {problems} problem(s), {warnings} warning(s).")
        self.stdout.write(f"Clerk configuration looks right ({warnings} warning(s)).")

    def _check_keys(self, report: Report, timeout: float | None) -> None:
        if clerk_settings.PUBLISHABLE_KEY and parse_publishable_key(clerk_settings.PUBLISHABLE_KEY) is None:
            report.problem("CLERK_PUBLISHABLE_KEY is not a pk_test_/pk_live_ key.")
        try:
            source = session_key_source()
        except TokenVerificationError as exc:
            report.problem(exc.message)
            return
        if isinstance(source, PemKeySource):
            try:
                load_pem_key(source.pem)
            except TokenVerificationError as exc:
                report.problem(exc.message)
            else:
                report.ok("Key source: CLERK_JWT_KEY (an RSA public key; no network needed).")
            return
        if isinstance(source, RemoteJwksSource):
            self._check_jwks(report, source, timeout)
            return
        if settings.DEBUG:
            report.ok("Key source: the development issuer (DEBUG, no Clerk key).")
        else:
            report.problem("Key source: the development issuer with DEBUG off (CLERK_DEV_ISSUER=force).")

    def _check_jwks(self, report: Report, source: RemoteJwksSource, timeout: float | None) -> None:
        origin = (
            "CLERK_JWKS_URL"
            if clerk_settings.JWKS_URL
            else ("CLERK_PUBLISHABLE_KEY" if clerk_settings.publishable else "CLERK_SECRET_KEY (Backend API)")
        )
        report.ok(f"Key source: the JWKS at {source.url} (from {origin}).")
        if urlsplit(source.url).scheme != "https" and urlsplit(source.url).hostname not in {"127.0.0.1", "localhost"}:
            report.warn(f"The JWKS URL is not https: {source.url}")
        headers = {"Accept": "application/json"}
        if source.bearer:
            headers["Authorization"] = f"Bearer {source.bearer}"
        try:
            response = httpx.get(source.url, headers=headers, timeout=timeout or source.timeout)
        except httpx.HTTPError as exc:
            report.problem(f"The JWKS is unreachable: {exc.__class__.__name__}: {exc}")
            return
        if response.status_code != 200:
            hint = " (is CLERK_SECRET_KEY right?)" if response.status_code in {401, 403} else ""
            report.problem(f"The JWKS answered HTTP {response.status_code}{hint}.")
            return
        try:
            keys = rsa_keys_from_jwks(response.json())
        except ValueError as exc:
            report.problem(f"The JWKS is not a JWKS document: {exc}.")
            return
        if not keys:
            report.problem("The JWKS has no RSA signing keys: no session token could be verified.")
            return
        report.ok(f"The JWKS has {len(keys)} RSA signing key(s): {', '.join(sorted(keys))}.")

    def _check_issuer(self, report: Report) -> None:
        issuer = clerk_settings.issuer
        if not issuer:
            report.warn("No issuer: token `iss` is not checked. Set CLERK_ISSUER (your Clerk Frontend API URL).")
            return
        parts = urlsplit(issuer)
        if parts.scheme != "https" and not clerk_settings.uses_dev_issuer:
            report.problem(f"The issuer {issuer!r} is not an https URL; Clerk issuers are https://<frontend-api>.")
        elif parts.path not in {"", "/"}:
            report.problem(f"The issuer {issuer!r} has a path; Clerk issuers are bare origins.")
        else:
            report.ok(f"Issuer: {issuer}")
        publishable = clerk_settings.publishable
        if clerk_settings.ISSUER and publishable and clerk_settings.ISSUER != f"https://{publishable.frontend_api}":
            report.warn(
                f"CLERK_ISSUER {clerk_settings.ISSUER!r} differs from the publishable key's Frontend API "
                f"https://{publishable.frontend_api}."
            )

    def _check_authorized_parties(self, report: Report) -> None:
        parties = clerk_settings.AUTHORIZED_PARTIES
        if not parties:
            report.warn(
                "No CLERK_AUTHORIZED_PARTIES: tokens' `azp` is not checked and cookie sessions only accept this "
                "service's own origin. List your front-end origins."
            )
            return
        bad = [p for p in parties if not is_origin(p)]
        for party in bad:
            report.problem(f"Authorized party {party!r} is not an origin (scheme://host[:port], no path).")
        if not bad:
            report.ok(f"Authorized parties: {', '.join(parties)}")

    def _check_webhook_secret(self, report: Report) -> None:
        secret = ops_settings.CLERK_WEBHOOK_SIGNING_SECRET
        if not secret:
            report.warn("No CLERK_WEBHOOK_SIGNING_SECRET: /webhooks/clerk refuses deliveries (user deletions).")
            return
        encoded = secret.removeprefix("whsec_")
        try:
            decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if not secret.startswith("whsec_") or not decoded:
            report.problem("CLERK_WEBHOOK_SIGNING_SECRET is not a Svix secret (whsec_<base64>).")
        else:
            report.ok("Webhook signing secret: set.")
