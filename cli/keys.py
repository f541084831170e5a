"""`coder service-key <domain>`: a new key pair for one service's delegated tokens."""

from __future__ import annotations

import argparse
import json
import secrets


def service_key_command(options: argparse.Namespace) -> int:
    """Print the private JWK for the service's process and the public one for identity's
    `CODER_IDENTITY_SERVICE_KEYS` (docs/auth.md, delegated tokens)."""
    from services.kit import SigningKey

    key = SigningKey.generate(f"{options.domain}-{secrets.token_hex(4)}")
    private = json.dumps(key.private_jwk(), separators=(",", ":"))
    public = json.dumps({options.domain: [key.public_jwk()]}, separators=(",", ":"))
    print(f"# the {options.domain} service's process (secret):")
    print(f"CODER_SERVICE_KEY='{private}'")
    print("# identity's process (public; merge with the keys of the other services):")
    print(f"CODER_IDENTITY_SERVICE_KEYS='{public}'")
    return 0
