"""A loopback stand-in for Clerk's Frontend API, so the browser app's Clerk mode runs offline, without an account.

`@clerk/clerk-react` derives the Frontend API host from the publishable key (`pk_test_` + base64 of `host$`) and
loads `https://<host>/npm/@clerk/clerk-js@5/dist/clerk.browser.js` from it. This server is that host, on HTTPS
(clerk-react always asks for https; the certificate is self-signed and the test's browser context accepts it):

- the script is tests/threads/web/clerk_standin/clerk.browser.js, a stand-in for clerk-js;
- `POST /v1/client/sign_ins {identifier}` signs a known user in: `{session_id, user}` with the user's
  organization memberships (unknown identifiers are a 422, like Clerk's "Couldn't find your account");
- `POST /v1/client/sessions/{sid}/tokens {organization_id}` mints a Clerk-format (v2) session token for that
  session and active organization, signed with the test's RSA key (published by tests/support/jwks_server.py,
  which the service is configured to trust), with `azp` = the page's origin as Clerk does.

Only what the stand-in script calls exists; everything answers CORS for the page's origin.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.support.keys import KeyPair

SCRIPT = Path(__file__).with_name("clerk_standin") / "clerk.browser.js"
SCRIPT_PATH = "/npm/@clerk/clerk-js@5/dist/clerk.browser.js"
TOKEN_TTL_SECONDS = 60  # Clerk's session tokens live a minute; the script refreshes them.


@dataclass
class StandInUser:
    """A person the stand-in can sign in: `memberships` are (org id, name, role) of their organizations."""

    id: str
    identifier: str
    name: str
    memberships: list[tuple[str, str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "identifier": self.identifier,
            "name": self.name,
            "memberships": [
                {"id": o, "name": n, "slug": o.removeprefix("org_"), "role": r} for o, n, r in self.memberships
            ],
        }


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (the browser context is told to accept it)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fapi.crt", directory / "fapi.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class ClerkFrontendApi:
    """The stand-in Frontend API: `publishable_key` points clerk-react here; `issuer` is what tokens carry."""

    def __init__(self, signing_key: KeyPair, users: list[StandInUser], cert_dir: Path) -> None:
        self.signing_key = signing_key
        self.users = {u.identifier: u for u in users}
        self.sessions: dict[str, StandInUser] = {}
        self.token_requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
                self.send_header("Access-Control-Allow-Headers", "Content-Type")
                self.send_header("Access-Control-Allow-Methods", "GET, POST")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, data: dict[str, Any]) -> None:
                self._send(status, json.dumps(data).encode(), "application/json")

            def do_OPTIONS(self) -> None:
                self._send(204, b"", "text/plain")

            def do_GET(self) -> None:
                if self.path.split("?")[0] == SCRIPT_PATH:
                    self._send(200, SCRIPT.read_bytes(), "application/javascript; charset=utf-8")
                else:
                    self._json(404, {"errors": [{"code": "resource_not_found"}], "message": "Not found."})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                status, data = api.handle(self.path.split("?")[0], body, self.headers.get("Origin") or "")
                self._json(status, data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*_self_signed(cert_dir))
        # The handshake happens on the first read, in the connection's own thread: Chromium opens speculative
        # connections that send nothing, and a handshake in accept() would block the whole server on them.
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.origin = f"https://{self.host}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def publishable_key(self) -> str:
        return "pk_test_" + base64.b64encode(f"{self.host}$".encode()).decode()

    @property
    def issuer(self) -> str:
        return self.origin  # Clerk's `iss` is the Frontend API's URL

    def handle(self, path: str, body: dict[str, Any], origin: str) -> tuple[int, dict[str, Any]]:
        if path == "/v1/client/sign_ins":
            user = self.users.get(str(body.get("identifier", "")))
            if user is None:
                return 422, {
                    "errors": [{"code": "form_identifier_not_found"}],
                    "message": "Couldn't find your account.",
                }
            session_id = "sess_" + secrets.token_hex(8)
            with self._lock:
                self.sessions[session_id] = user
            return 200, {"session_id": session_id, "user": user.as_json()}
        parts = path.strip("/").split("/")
        if len(parts) == 5 and parts[:3] == ["v1", "client", "sessions"] and parts[4] == "tokens":
            with self._lock:
                user = self.sessions.get(parts[3])
            if user is None:
                return 404, {"errors": [{"code": "resource_not_found"}], "message": "No such session."}
            org_id = body.get("organization_id")
            membership = next((m for m in user.memberships if m[0] == org_id), None)
            if org_id and membership is None:
                return 403, {"errors": [{"code": "not_a_member"}], "message": "Not a member of that organization."}
            claims = self._claims(user, parts[3], membership, origin)
            with self._lock:
                self.token_requests.append({"sid": parts[3], "sub": user.id, "org_id": org_id})
            return 200, {"jwt": self.signing_key.sign(claims), "claims": claims}
        return 404, {"errors": [{"code": "resource_not_found"}], "message": "Not found."}

    def _claims(self, user: StandInUser, sid: str, membership: tuple[str, str, str] | None, azp: str) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "azp": azp,
            "exp": now + TOKEN_TTL_SECONDS,
            "iat": now,
            "nbf": now - 5,
            "iss": self.issuer,
            "sid": sid,
            "sts": "active",
            "sub": user.id,
            "v": 2,
        }
        if membership:
            org_id, _name, role = membership
            claims["o"] = {"id": org_id, "rol": role, "slg": org_id.removeprefix("org_")}
        return claims

    def start(self) -> ClerkFrontendApi:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
