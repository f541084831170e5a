"""Factories of the secret tests: values of every type (fresh and unique, registered with the
log scan so no log line may ever hold them), certificates and SSH keys made with
`cryptography`, and the calls the tests repeat."""

from __future__ import annotations

import datetime as dt
import secrets as random
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from coder.secret.v1 import secret_pb2
from coder.secret.v1 import secret_service_pb2 as api
from coder.secret.v1.secret_service_pb2_grpc import SecretServiceStub
from tests.fixtures.log_scan import LogScan
from tests.fixtures.tokens import Metadata

S = secret_pb2


def unique(prefix: str = "sv") -> str:
    """A value no test or log could hold by chance."""
    return f"{prefix}-{random.token_urlsafe(24)}"


def self_signed() -> tuple[str, str]:
    """A fresh self-signed certificate and its private key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{unique('cn')}.test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def ssh_key() -> tuple[str, str]:
    """A fresh Ed25519 key pair: the OpenSSH private key and its public key."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return private, public


def value_of(secret_type: int) -> S.SecretValue:
    """A valid, fresh value of a type."""
    if secret_type == S.SECRET_TYPE_API_KEY:
        return S.SecretValue(api_key=S.ApiKey(key=unique("sk")))
    if secret_type == S.SECRET_TYPE_USERNAME_PASSWORD:
        return S.SecretValue(
            username_password=S.UsernamePassword(username="deploy", password=unique("pw"))
        )
    if secret_type == S.SECRET_TYPE_OAUTH2_TOKEN:
        return S.SecretValue(
            oauth2_token=S.OAuth2Token(
                access_token=unique("at"),
                refresh_token=unique("rt"),
                client_id="client-1",
                client_secret=unique("cs"),
                token_url="https://auth.example.test/token",
                scopes=["read", "write"],
            )
        )
    if secret_type == S.SECRET_TYPE_CERTIFICATE:
        certificate, key = self_signed()
        return S.SecretValue(
            certificate=S.Certificate(certificate_pem=certificate, private_key_pem=key)
        )
    if secret_type == S.SECRET_TYPE_SSH_KEY:
        private, _ = ssh_key()
        return S.SecretValue(ssh_key=S.SshKey(private_key=private))
    if secret_type == S.SECRET_TYPE_CONNECTION_STRING:
        return S.SecretValue(
            connection_string=S.ConnectionString(
                connection_string=f"postgresql://app:{unique('db')}@db.internal:5432/app"
            )
        )
    if secret_type == S.SECRET_TYPE_JSON_CREDENTIAL:
        value = S.SecretValue()
        value.json_credential.document.update(
            {"type": "service_account", "private_key": unique("pk"), "client_email": "a@b.test"}
        )
        return value
    if secret_type == S.SECRET_TYPE_ENV_VARIABLE_SET:
        return S.SecretValue(
            env_variable_set=S.EnvVariableSet(
                variables={"DB_PASSWORD": unique("env"), "API_TOKEN": unique("env")}
            )
        )
    return S.SecretValue(generic=S.GenericSecret(value=unique("gen")))


@dataclass
class Secrets:
    """Calls on one host as one caller, registering every value stored with the scan."""

    stub: SecretServiceStub
    metadata: Metadata
    scan: LogScan

    def watch(self, value: S.SecretValue) -> S.SecretValue:
        self.scan.watch_message(value)
        return value

    async def create(
        self,
        name: str | None = None,
        secret_type: int = S.SECRET_TYPE_API_KEY,
        *,
        value: S.SecretValue | None = None,
        scope: int = S.SECRET_SCOPE_ORGANIZATION,
        scope_id: str = "",
        **fields: object,
    ) -> tuple[S.Secret, S.SecretValue]:
        stored = self.watch(value or value_of(secret_type))
        secret = S.Secret(
            name=name or unique("name").replace("-", "_"),
            type=secret_type,  # type: ignore[arg-type]
            scope=scope,  # type: ignore[arg-type]
            scope_id=scope_id,
            **fields,  # type: ignore[arg-type]
        )
        reply = await self.stub.CreateSecret(
            api.CreateSecretRequest(secret=secret, value=stored), metadata=self.metadata
        )
        return reply.secret, stored

    async def value(
        self, secret_id: str, version: int = 0, reason: str = "test"
    ) -> api.GetSecretValueResponse:
        reply: api.GetSecretValueResponse = await self.stub.GetSecretValue(
            api.GetSecretValueRequest(secret_id=secret_id, version=version, reason=reason),
            metadata=self.metadata,
        )
        return reply

    async def add_version(
        self, secret_id: str, value: S.SecretValue, **options: object
    ) -> api.AddSecretVersionResponse:
        reply: api.AddSecretVersionResponse = await self.stub.AddSecretVersion(
            api.AddSecretVersionRequest(
                secret_id=secret_id,
                value=self.watch(value),
                **options,  # type: ignore[arg-type]
            ),
            metadata=self.metadata,
        )
        return reply

    def acting_as(self, metadata: Metadata) -> Secrets:
        return Secrets(self.stub, metadata, self.scan)
