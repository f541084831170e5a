"""`coder service-key`: the printed pair authenticates a service to identity."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from services.kit import KeySource, PlatformKeys, SigningKey, TokenVerifier, client_assertion

CODER = [sys.executable, "-m", "cli"]


class TestServiceKey:
    async def test_the_printed_keys_authenticate_the_service_to_identity(self) -> None:
        command = [*CODER, "service-key", "knowledge"]
        done = await asyncio.to_thread(
            subprocess.run, command, capture_output=True, text=True, check=True
        )
        values = dict(
            line.split("=", 1) for line in done.stdout.splitlines() if not line.startswith("#")
        )
        private = SigningKey.from_jwk(json.loads(values["CODER_SERVICE_KEY"].strip("'")))
        public = values["CODER_IDENTITY_SERVICE_KEYS"].strip("'")
        assert '"d"' not in public
        verifier = TokenVerifier(KeySource(jwks={"keys": []}), issuer="coder", audience="coder-api")
        verifier.trust_platform(PlatformKeys.parse(public))
        principal = await verifier.verify(client_assertion(private, "knowledge"))
        assert principal.subject == "service:knowledge"
