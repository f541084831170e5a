"""Secret values: which member of `SecretValue` each type holds, and the checks that a value
is what its type claims (certificates and SSH keys parsed with `cryptography`).

Nothing here puts a value into an error: a violation names the field and what is wrong with
it, never the text that was sent.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import types as key_types

from coder.secret.v1 import secret_pb2
from services.kit import FieldViolation, InvalidArgument

T = secret_pb2

MEMBER_OF_TYPE: dict[secret_pb2.SecretType.ValueType, str] = {
    T.SECRET_TYPE_API_KEY: "api_key",
    T.SECRET_TYPE_USERNAME_PASSWORD: "username_password",
    T.SECRET_TYPE_OAUTH2_TOKEN: "oauth2_token",
    T.SECRET_TYPE_CERTIFICATE: "certificate",
    T.SECRET_TYPE_SSH_KEY: "ssh_key",
    T.SECRET_TYPE_CONNECTION_STRING: "connection_string",
    T.SECRET_TYPE_JSON_CREDENTIAL: "json_credential",
    T.SECRET_TYPE_ENV_VARIABLE_SET: "env_variable_set",
    T.SECRET_TYPE_GENERIC: "generic",
}
"""The `SecretValue` member each secret type holds."""

_KEY_VALUE_PAIR = re.compile(r"^\s*[A-Za-z][A-Za-z0-9 _.-]*\s*=")


def check_value(
    secret_type: secret_pb2.SecretType.ValueType,
    value: secret_pb2.SecretValue,
    field: str = "value",
) -> None:
    """InvalidArgument unless `value` is the member of `secret_type` and holds what that type
    claims. Field rules (lengths, patterns) are protovalidate's; these are the semantic ones."""
    member = MEMBER_OF_TYPE.get(secret_type)
    if member is None:
        raise InvalidArgument(
            "the secret needs a type",
            violations=[FieldViolation("secret.type", "name the secret's type")],
        )
    given = value.WhichOneof("kind")
    if given != member:
        raise InvalidArgument(
            f"a {secret_pb2.SecretType.Name(secret_type)} secret holds a {member} value",
            violations=[FieldViolation(f"{field}.{member}", f"set {member}, not {given}")],
            metadata={"expected": member},
        )
    violations = list(_semantic_violations(value, f"{field}.{member}"))
    if violations:
        raise InvalidArgument(
            f"the {member} value is not valid", violations=violations, reason="VALUE_INVALID"
        )


def _semantic_violations(value: secret_pb2.SecretValue, field: str) -> list[FieldViolation]:
    kind = value.WhichOneof("kind")
    if kind == "certificate":
        return _certificate_violations(value.certificate, field)
    if kind == "ssh_key":
        return _ssh_violations(value.ssh_key, field)
    if kind == "connection_string":
        return _connection_violations(value.connection_string.connection_string, field)
    if kind == "json_credential" and not value.json_credential.document.fields:
        return [FieldViolation(f"{field}.document", "must hold at least one field")]
    return []


def _certificate_violations(
    certificate: secret_pb2.Certificate, field: str
) -> list[FieldViolation]:
    try:
        parsed = x509.load_pem_x509_certificate(certificate.certificate_pem.encode())
    except ValueError:
        return [FieldViolation(f"{field}.certificate_pem", "is not a PEM X.509 certificate")]
    violations: list[FieldViolation] = []
    if certificate.chain_pem:
        try:
            x509.load_pem_x509_certificates(certificate.chain_pem.encode())
        except ValueError:
            violations.append(
                FieldViolation(f"{field}.chain_pem", "is not a list of PEM X.509 certificates")
            )
    if certificate.private_key_pem:
        password = certificate.private_key_password.encode() or None
        try:
            key = serialization.load_pem_private_key(
                certificate.private_key_pem.encode(), password=password
            )
        except (ValueError, TypeError, UnsupportedAlgorithm):
            violations.append(
                FieldViolation(
                    f"{field}.private_key_pem",
                    "is not a PEM private key (or its password is wrong or missing)",
                )
            )
        else:
            if not _same_public_key(key.public_key(), parsed.public_key()):
                violations.append(
                    FieldViolation(
                        f"{field}.private_key_pem", "does not match the certificate's public key"
                    )
                )
    return violations


def _ssh_violations(key: secret_pb2.SshKey, field: str) -> list[FieldViolation]:
    try:
        private = _ssh_private_key(key)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return [
            FieldViolation(
                f"{field}.private_key",
                "is not an OpenSSH or PEM private key (or its passphrase is wrong or missing)",
            )
        ]
    if not key.public_key:
        return []
    try:
        public = serialization.load_ssh_public_key(key.public_key.strip().encode())
    except (ValueError, UnsupportedAlgorithm):
        return [FieldViolation(f"{field}.public_key", "is not an OpenSSH public key")]
    if not _same_public_key(private.public_key(), public):
        return [FieldViolation(f"{field}.public_key", "does not match the private key")]
    return []


def derived_public_key(key: secret_pb2.SshKey) -> str:
    """The OpenSSH public key of a (checked) SSH private key."""
    return (
        _ssh_private_key(key)
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def _ssh_private_key(key: secret_pb2.SshKey) -> key_types.PrivateKeyTypes:
    data = key.private_key.encode()
    password = key.passphrase.encode() or None
    if b"OPENSSH PRIVATE KEY" in data:
        return serialization.load_ssh_private_key(data, password=password)
    return serialization.load_pem_private_key(data, password=password)


def _same_public_key(a: object, b: object) -> bool:
    encode = serialization.Encoding.DER
    form = serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        return bool(a.public_bytes(encode, form) == b.public_bytes(encode, form))  # type: ignore[attr-defined]
    except (AttributeError, ValueError, TypeError):
        return False


def _connection_violations(text: str, field: str) -> list[FieldViolation]:
    if "://" in text:
        parts = urlsplit(text)
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme or "") and (
            parts.netloc or parts.path
        ):
            return []
        return [FieldViolation(f"{field}.connection_string", "is not a URL with a scheme")]
    if _KEY_VALUE_PAIR.match(text):
        return []
    return [
        FieldViolation(
            f"{field}.connection_string",
            "must be a URL with a scheme (`postgresql://…`) or `key=value;` pairs",
        )
    ]


def normalized(
    secret_type: secret_pb2.SecretType.ValueType, value: secret_pb2.SecretValue
) -> secret_pb2.SecretValue:
    """The value as stored: an SSH key's public key derived when it was left out."""
    stored = secret_pb2.SecretValue()
    stored.CopyFrom(value)
    if secret_type == T.SECRET_TYPE_SSH_KEY and not stored.ssh_key.public_key:
        stored.ssh_key.public_key = derived_public_key(stored.ssh_key)
    return stored
