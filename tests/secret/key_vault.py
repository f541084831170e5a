"""A local HTTPS server speaking the Azure Key Vault keys REST protocol for one RSA key with
versions: challenge authentication (401 with `WWW-Authenticate`, then a bearer token), GET of
a key (its public JWK), and the wrapKey / unwrapKey operations with RSA-OAEP-256. The private
keys never leave it, as in a vault. Key Vault cannot run here; the real SDK talks to this."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import secrets
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from azure.core.credentials import AccessToken, AccessTokenInfo
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

KEY_NAME = "coder-kek"
TOKEN = "test-vault-token"
CHALLENGE = (
    'Bearer authorization="https://login.microsoftonline.com/tenant-1", '
    'resource="https://vault.azure.net"'
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "vault.pem", directory / "vault.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path


@dataclass
class LocalKeyVault:
    """The vault's state: key versions (newest last) and what it was asked."""

    url: str = ""
    ca_file: Path = Path()
    versions: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    unauthorized: int = 0

    def rotate(self) -> str:
        """A new key version, which becomes the key's newest."""
        version = secrets.token_hex(16)
        self.versions[version] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.order.append(version)
        return version

    def kid(self, version: str) -> str:
        return f"{self.url}/keys/{KEY_NAME}/{version}"

    @property
    def key_url(self) -> str:
        return f"{self.url}/keys/{KEY_NAME}"

    def _bundle(self, version: str) -> dict[str, Any]:
        numbers = self.versions[version].public_key().public_numbers()
        return {
            "key": {
                "kid": self.kid(version),
                "kty": "RSA",
                "key_ops": ["wrapKey", "unwrapKey", "encrypt", "decrypt"],
                "n": _b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                "e": _b64url(numbers.e.to_bytes(3, "big")),
            },
            "attributes": {"enabled": True, "created": int(time.time())},
        }

    def _authorized(self, request: web.Request) -> bool:
        if request.headers.get("Authorization") == f"Bearer {TOKEN}":
            return True
        self.unauthorized += 1
        return False

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response(
                {"error": {"code": "Unauthorized"}},
                status=401,
                headers={"WWW-Authenticate": CHALLENGE},
            )
        parts = request.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "keys" or parts[1] != KEY_NAME:
            return web.json_response({"error": {"code": "KeyNotFound"}}, status=404)
        version = parts[2] if len(parts) > 2 and parts[2] else self.order[-1]
        if version not in self.versions:
            return web.json_response({"error": {"code": "KeyNotFound"}}, status=404)
        operation = parts[3] if len(parts) > 3 else ""
        self.calls.append(f"{request.method} {operation or 'key'} {version}")
        if request.method == "GET" and not operation:
            return web.json_response(self._bundle(version))
        body = await request.json()
        if body.get("alg") != "RSA-OAEP-256":
            return web.json_response({"error": {"code": "BadParameter"}}, status=400)
        key = self.versions[version]
        data = _unb64url(body["value"])
        if operation == "wrapkey":
            result = key.public_key().encrypt(data, _oaep())
        elif operation == "unwrapkey":
            try:
                result = key.decrypt(data, _oaep())
            except ValueError:
                return web.json_response(
                    {"error": {"code": "BadParameter", "message": "decryption failed"}},
                    status=400,
                )
        else:
            return web.json_response({"error": {"code": "NotSupported"}}, status=400)
        return web.json_response({"kid": self.kid(version), "value": _b64url(result)})


@asynccontextmanager
async def local_key_vault(directory: Path) -> AsyncIterator[LocalKeyVault]:
    vault = LocalKeyVault()
    vault.rotate()
    context, vault.ca_file = _tls(directory)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", vault.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    vault.url = f"https://localhost:{port}"
    try:
        yield vault
    finally:
        await runner.cleanup()


class StaticCredential:
    """An Azure token credential handing out the vault's test token (the part of Entra ID a
    test cannot reach), recording the scopes asked for."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    async def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(TOKEN, int(time.time()) + 3600)

    async def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        self.scopes.extend(scopes)
        return AccessTokenInfo(TOKEN, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticCredential:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None
