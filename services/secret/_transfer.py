"""Formats secrets come in and go out in: `.env` files, JSON objects and encrypted bundles.

A bundle is a JSON document: a header (format, KDF and its parameters, cipher, nonce) and the
ciphertext of the secrets (JSON) under AES-256-GCM with a key derived from a password by
scrypt. The header is the associated data, so its parameters cannot be changed without the
open failing. Errors name line numbers and members, never values.
"""

from __future__ import annotations

import base64
import json
import os
import re
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

BUNDLE_FORMAT = "coder-secrets-bundle"
BUNDLE_VERSION = 1
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
MAX_SCRYPT_N = 2**17
"""The most work a bundle may ask of an import (a hostile header could ask for far more)."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


class FormatError(ValueError):
    """The content is not what its format says; the message names where, not what."""


def parse_dotenv(text: str) -> dict[str, str]:
    """The variables of a `.env` file: `NAME=value` lines, optional `export`, `#` comments,
    values bare (a ` #` starts a comment), single-quoted (literal) or double-quoted (with
    `\\n`, `\\t`, `\\"` and `\\\\` escapes, and spanning lines). A later line wins."""
    variables: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise FormatError(f"line {number} is not NAME=value")
        name, raw = match.group(1), match.group(2)
        if raw.startswith('"'):
            body = raw[1:]
            while not _closes(body):
                if index >= len(lines):
                    raise FormatError(f"line {number} opens a double quote that never closes")
                body += "\n" + lines[index]
                index += 1
            end = _closing(body)
            if body[end + 1 :].strip() and not body[end + 1 :].strip().startswith("#"):
                raise FormatError(f"line {number} has text after its closing quote")
            variables[name] = _unescape(body[:end])
        elif raw.startswith("'"):
            end = raw.find("'", 1)
            if end < 0:
                raise FormatError(f"line {number} opens a single quote that never closes")
            variables[name] = raw[1:end]
        else:
            variables[name] = re.split(r"\s+#", raw, maxsplit=1)[0].strip()
    return variables


def _closing(body: str) -> int:
    escaped = False
    for position, char in enumerate(body):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return position
    return -1


def _closes(body: str) -> bool:
    return _closing(body) >= 0


def _unescape(text: str) -> str:
    replacements = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}
    return re.sub(r"\\(.)", lambda m: replacements.get(m.group(1), "\\" + m.group(1)), text)


def parse_json_object(text: str) -> dict[str, str | dict[str, Any]]:
    """The members of a JSON object: strings are variables, objects are JSON credentials."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise FormatError(f"not JSON (line {getattr(error, 'lineno', '?')})") from None
    if not isinstance(document, dict):
        raise FormatError("the JSON is not an object")
    members: dict[str, str | dict[str, Any]] = {}
    for name, value in document.items():
        if not _NAME.match(name) or len(name) > 128:
            raise FormatError(f"member {name[:64]!r} is not a variable name")
        if isinstance(value, str) or (isinstance(value, dict) and value):
            members[name] = value
        else:
            raise FormatError(f"member {name} is neither a string nor a non-empty object")
    return members


# --- bundles -------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _header_bytes(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def seal_bundle(entries: list[dict[str, Any]], password: str) -> bytes:
    """The bundle of `entries` under `password`."""
    salt, nonce = os.urandom(16), os.urandom(12)
    header: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": _b64(salt)},
        "cipher": "AES-256-GCM",
        "nonce": _b64(nonce),
    }
    key = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(password.encode())
    plaintext = json.dumps({"secrets": entries}, separators=(",", ":")).encode()
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, _header_bytes(header))
    return json.dumps({**header, "ciphertext": _b64(ciphertext)}, sort_keys=True).encode()


def open_bundle(data: bytes, password: str) -> list[dict[str, Any]]:
    """The entries of a bundle; FormatError when it is malformed, asks for too much work, or
    the password is wrong or the bundle was altered (one answer for both)."""
    try:
        document = json.loads(data)
        header = {k: document[k] for k in ("format", "version", "kdf", "cipher", "nonce")}
        kdf = header["kdf"]
        n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        salt = base64.b64decode(kdf["salt"], validate=True)
        nonce = base64.b64decode(header["nonce"], validate=True)
        ciphertext = base64.b64decode(document["ciphertext"], validate=True)
    except (ValueError, KeyError, TypeError) as error:
        raise FormatError("not a secrets bundle") from error
    if (
        header["format"] != BUNDLE_FORMAT
        or header["version"] != BUNDLE_VERSION
        or kdf.get("name") != "scrypt"
        or header["cipher"] != "AES-256-GCM"
    ):
        raise FormatError("not a secrets bundle of a known version")
    if not (2 <= n <= MAX_SCRYPT_N and n & (n - 1) == 0 and 1 <= r <= 16 and 1 <= p <= 4):
        raise FormatError("the bundle's key derivation parameters are out of range")
    try:
        key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode())
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, _header_bytes(header))
    except (InvalidTag, ValueError) as error:
        raise FormatError("the password is wrong or the bundle was altered") from error
    entries = json.loads(plaintext)["secrets"]
    if not isinstance(entries, list):
        raise FormatError("not a secrets bundle")
    return entries
