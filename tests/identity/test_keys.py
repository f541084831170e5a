"""Signing keys: rotation, retirement after the last token expires, encryption at rest."""

from __future__ import annotations

import base64
import json
import math
import os
import stat
from pathlib import Path

import jwt

from coder.identity.v1 import identity_service_pb2 as api
from services.identity import IdentitySettings
from services.identity._settings import master_key
from services.identity.repository.keys import SIGNING_KEYS
from services.kit.store import SYSTEM_PARTITION, Query
from tests.fixtures.hosts import host_settings
from tests.identity.conftest import TimedServer, manual_clock
from tests.identity.factories import login, refresh, register, unique_email

DAY = 86_400


def kids(jwks_json: str) -> set[str]:
    return {key["kid"] for key in json.loads(jwks_json)["keys"]}


class TestRotation:
    async def test_old_keys_stay_published_until_their_tokens_expire(
        self, timed_server: TimedServer
    ) -> None:
        clock = manual_clock()
        rotation = 30 * DAY
        async with timed_server(clock, key_rotation_days=30) as server:
            stub = server.identity
            email = unique_email()
            # Sign in a minute before the period ends: that token outlives its key's period.
            period_end = math.ceil(clock.now().timestamp() / rotation) * rotation
            clock.advance(period_end - clock.now().timestamp() - 60)
            first = await register(stub, email=email)
            old_kid = jwt.get_unverified_header(first.access_token)["kid"]

            clock.advance(2 * 60)
            second = await login(stub, email)
            new_kid = jwt.get_unverified_header(second.access_token)["kid"]
            assert new_kid != old_kid
            reply: api.GetJwksResponse = await stub.GetJwks(api.GetJwksRequest())
            assert kids(reply.jwks_json) == {old_kid, new_kid}

            clock.advance(12 * 60)  # the old key's last token has 1 minute left
            reply = await stub.GetJwks(api.GetJwksRequest())
            assert kids(reply.jwks_json) == {old_kid, new_kid}

            clock.advance(2 * 60)  # now every token it signed has expired
            reply = await stub.GetJwks(api.GetJwksRequest())
            assert kids(reply.jwks_json) == {new_kid}

    async def test_the_active_key_is_the_same_within_a_period(
        self, timed_server: TimedServer
    ) -> None:
        clock = manual_clock()
        rotation = 30 * DAY
        # Start at the beginning of a period so the day below stays inside it.
        clock.advance(
            math.ceil(clock.now().timestamp() / rotation) * rotation - clock.now().timestamp() + 60
        )
        async with timed_server(clock, key_rotation_days=30) as server:
            first = await register(server.identity)
            clock.advance(DAY)
            second = await refresh(server.identity, first.refresh_token)
            assert (
                jwt.get_unverified_header(first.access_token)["kid"]
                == (jwt.get_unverified_header(second.access_token)["kid"])
            )


class TestStorage:
    async def test_private_keys_are_stored_sealed(self, timed_server: TimedServer) -> None:
        async with timed_server(manual_clock()) as server:
            await server.identity.GetJwks(api.GetJwksRequest())
            container = server.resources.store.container(SIGNING_KEYS)
            page = await container.query(Query(), partition=SYSTEM_PARTITION)
            assert len(page.items) == 1
            stored = json.dumps(page.items[0])
            assert "PRIVATE KEY" not in stored
            assert "BEGIN" not in base64.b64decode(page.items[0]["sealedPem"]).decode("latin-1")

    def test_embedded_mode_keeps_a_master_key_file_readable_by_the_owner_only(
        self, tmp_path: Path
    ) -> None:
        settings = IdentitySettings(master_key="")
        first = master_key(settings, host_settings(tmp_path))
        path = tmp_path / "keys" / "identity-master.key"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert master_key(settings, host_settings(tmp_path)) == first
        assert len(first) == 32

    def test_a_configured_master_key_is_used_as_is(self, tmp_path: Path) -> None:
        key = os.urandom(32)
        settings = IdentitySettings(master_key=base64.b64encode(key).decode())
        assert master_key(settings, host_settings(tmp_path)) == key
        assert not (tmp_path / "keys").exists()
