"""Access tokens and permissions: what the kit accepts and what it refuses."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest

from services.kit import (
    KeySource,
    Policy,
    Principal,
    SigningKey,
    TokenVerifier,
    Unauthenticated,
    jwks,
    permission_matches,
)
from tests.fixtures.tokens import AUDIENCE, ISSUER


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def verifier(key: SigningKey) -> TokenVerifier:
    return TokenVerifier(KeySource(jwks=jwks([key])), issuer=ISSUER, audience=AUDIENCE, leeway=0)


def mint(key: SigningKey, **overrides: object) -> str:
    options: dict[str, object] = {
        "subject": "user-1",
        "organization_id": "org-a",
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "roles": ["member"],
    }
    options.update(overrides)
    return key.mint(**options)  # type: ignore[arg-type]


class TestTokenVerification:
    async def test_valid_token_gives_principal(
        self, key: SigningKey, verifier: TokenVerifier
    ) -> None:
        principal = await verifier.verify(mint(key, session_id="s-1"))
        assert principal.subject == "user-1"
        assert principal.organization_id == "org-a"
        assert principal.roles == {"member"}
        assert principal.session_id == "s-1"

    async def test_expired_token_refused(self, key: SigningKey, verifier: TokenVerifier) -> None:
        token = mint(key, lifetime_seconds=-10)
        with pytest.raises(Unauthenticated) as refused:
            await verifier.verify(token)
        assert refused.value.reason == "TOKEN_EXPIRED"

    @pytest.mark.parametrize(
        "override", [{"audience": "someone-else"}, {"issuer": "https://evil.example"}]
    )
    async def test_wrong_audience_or_issuer_refused(
        self, key: SigningKey, verifier: TokenVerifier, override: dict[str, str]
    ) -> None:
        with pytest.raises(Unauthenticated):
            await verifier.verify(mint(key, **override))

    async def test_signature_by_another_key_with_same_kid_refused(
        self, key: SigningKey, verifier: TokenVerifier
    ) -> None:
        impostor = SigningKey(key.kid, SigningKey.generate().private_key)
        with pytest.raises(Unauthenticated) as refused:
            await verifier.verify(mint(impostor))
        assert refused.value.reason == "TOKEN_INVALID"

    async def test_tampered_payload_refused(self, key: SigningKey, verifier: TokenVerifier) -> None:
        header, payload, signature = mint(key).split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["org"] = "org-b"
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        with pytest.raises(Unauthenticated):
            await verifier.verify(f"{header}.{forged}.{signature}")

    async def test_alg_none_refused(self, key: SigningKey, verifier: TokenVerifier) -> None:
        now = int(time.time())
        claims = {"sub": "u", "org": "o", "iss": ISSUER, "aud": AUDIENCE, "iat": now}
        claims["exp"] = now + 60
        token = jwt.encode(claims, key="", algorithm="none", headers={"kid": key.kid})
        with pytest.raises(Unauthenticated):
            await verifier.verify(token)

    async def test_unknown_kid_refused(self, verifier: TokenVerifier) -> None:
        with pytest.raises(Unauthenticated) as refused:
            await verifier.verify(mint(SigningKey.generate()))
        assert refused.value.reason == "TOKEN_UNKNOWN_KEY"

    async def test_garbage_refused(self, verifier: TokenVerifier) -> None:
        with pytest.raises(Unauthenticated):
            await verifier.verify("not-a-jwt")

    async def test_rotated_key_picked_up_from_jwks_file(
        self, tmp_path: Path, key: SigningKey
    ) -> None:
        path = tmp_path / "jwks.json"
        path.write_text(json.dumps(jwks([key])))
        verifier = TokenVerifier(
            KeySource(path=path, min_refresh_seconds=0), issuer=ISSUER, audience=AUDIENCE
        )
        assert (await verifier.verify(mint(key))).subject == "user-1"
        rotated = SigningKey.generate()
        path.write_text(json.dumps(jwks([key, rotated])))
        assert (await verifier.verify(mint(rotated, subject="user-2"))).subject == "user-2"


class TestPermissions:
    @pytest.mark.parametrize(
        ("pattern", "permission", "expected"),
        [
            ("*", "planning.task.write", True),
            ("planning.task.write", "planning.task.write", True),
            ("planning.*.read", "planning.task.read", True),
            ("*.*.read", "planning.task.read", True),
            ("*.*.read", "planning.task.write", False),
            ("planning.task", "planning.task.read", False),
            ("planning.project.*", "planning.task.read", False),
        ],
    )
    def test_pattern_matching(self, pattern: str, permission: str, expected: bool) -> None:
        assert permission_matches(pattern, permission) is expected

    @pytest.mark.parametrize(
        ("roles", "policy", "expected"),
        [
            ({"owner"}, Policy.OWNER_ONLY, True),
            ({"admin"}, Policy.OWNER_ONLY, False),
            ({"owner"}, Policy.ADMIN_ONLY, True),
            ({"admin"}, Policy.ADMIN_ONLY, True),
            ({"member"}, Policy.ADMIN_ONLY, False),
            ({"viewer"}, Policy.ADMIN_ONLY, False),
            ({"member"}, Policy.DEFAULT, True),
            ({"viewer"}, Policy.DEFAULT, True),
            (set(), Policy.DEFAULT, False),
            (set(), Policy.SELF_SERVICE, True),
        ],
    )
    def test_roles_under_each_policy(self, roles: set[str], policy: Policy, expected: bool) -> None:
        principal = Principal("u", "o", roles=frozenset(roles))
        assert principal.can("shop.order.read", policy) is expected

    @pytest.mark.parametrize(
        ("roles", "permission", "expected"),
        [
            ({"member"}, "planning.task.write", True),
            ({"member"}, "planning.task.execute", True),
            ({"viewer"}, "planning.task.read", True),
            ({"viewer"}, "planning.task.write", False),
            ({"viewer"}, "planning.task.delete", False),
        ],
    )
    def test_role_patterns(self, roles: set[str], permission: str, expected: bool) -> None:
        principal = Principal("u", "o", roles=frozenset(roles))
        assert principal.can(permission) is expected

    def test_admin_only_is_held_through_an_explicit_grant(self) -> None:
        custom = Principal(
            "u", "o", roles=frozenset({"auditor"}), permissions=frozenset({"x.audit.read"})
        )
        assert custom.can("x.audit.read", Policy.ADMIN_ONLY)
        assert not custom.can("x.audit.read", Policy.OWNER_ONLY)

    def test_self_service_is_for_users_in_their_own_session(self) -> None:
        service = Principal("svc", "o", kind="service")
        assert not service.can("x.profile.write", Policy.SELF_SERVICE)
        granted = Principal("svc", "o", kind="service", permissions=frozenset({"x.profile.write"}))
        assert granted.can("x.profile.write", Policy.SELF_SERVICE)
        delegated = Principal("u", "o", claims={"act": {"sub": "service:notification"}})
        assert not delegated.can("x.profile.write", Policy.SELF_SERVICE)

    def test_custom_role_permissions_from_token(self) -> None:
        principal = Principal("u", "o", permissions=frozenset({"planning.task.read"}))
        assert principal.can("planning.task.read")
        assert not principal.can("planning.task.write")


class TestInProcessKeys:
    async def test_attached_fetcher_supplies_and_retires_keys(self) -> None:
        first, second = SigningKey.generate(), SigningKey.generate()
        published = [first]

        async def fetch() -> dict[str, object]:
            return jwks(published)

        source = KeySource.in_process(fetch, min_refresh_seconds=0)
        verifier = TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE)
        assert (await verifier.verify(mint(first))).subject == "user-1"
        published.append(second)
        assert (await verifier.verify(mint(second, subject="user-2"))).subject == "user-2"
        published.remove(first)
        assert await source.key(SigningKey.generate().kid) is None
        assert await source.key(first.kid) is None

    def test_mint_follows_a_given_clock(self) -> None:
        key = SigningKey.generate()
        token = key.mint(
            subject="u", organization_id="o", issuer=ISSUER, audience=AUDIENCE, now=1_000_000
        )
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["iat"] == 1_000_000
        assert claims["exp"] == 1_000_900
