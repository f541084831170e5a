"""Access tokens and permissions: what the kit accepts and what it refuses."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest

from services.kit import (
    PLATFORM_KIND,
    KeySource,
    PlatformKeys,
    Policy,
    Principal,
    SigningKey,
    TokenVerifier,
    Unauthenticated,
    client_assertion,
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
        delegated = Principal("u", "o", actor="service:notification")
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


def delegated(key: SigningKey, **overrides: object) -> str:
    """A token shaped as identity's delegated tokens: bound to planning, acted by notification."""
    options: dict[str, object] = {
        "audience": "coder.planning",
        "extra": {"act": {"sub": "service:notification"}},
    }
    options.update(overrides)
    return mint(key, **options)


@pytest.fixture
def service_verifier(key: SigningKey) -> TokenVerifier:
    """A service's verifier: it also takes tokens bound to one domain's audience."""
    return TokenVerifier(
        KeySource(jwks=jwks([key])),
        issuer=ISSUER,
        audience=AUDIENCE,
        leeway=0,
        domain_audiences=True,
    )


class TestDelegatedTokens:
    async def test_subject_actor_and_audience_come_from_the_token(
        self, key: SigningKey, service_verifier: TokenVerifier
    ) -> None:
        principal = await service_verifier.verify(delegated(key))
        assert principal.subject == "user-1"
        assert principal.actor == "service:notification"
        assert principal.bound_to == {"planning"}
        assert principal.accepted_by("planning")
        assert not principal.accepted_by("identity")

    async def test_an_api_token_is_accepted_by_every_domain(
        self, key: SigningKey, service_verifier: TokenVerifier
    ) -> None:
        principal = await service_verifier.verify(mint(key))
        assert principal.bound_to == frozenset()
        assert principal.actor == ""
        assert principal.accepted_by("identity") and principal.accepted_by("planning")

    async def test_a_domain_token_without_its_actor_is_refused(
        self, key: SigningKey, service_verifier: TokenVerifier
    ) -> None:
        with pytest.raises(Unauthenticated) as refused:
            await service_verifier.verify(mint(key, audience="coder.planning"))
        assert refused.value.reason == "TOKEN_INVALID"

    async def test_removing_act_breaks_the_signature(
        self, key: SigningKey, service_verifier: TokenVerifier
    ) -> None:
        header, payload, signature = delegated(key).split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        del claims["act"]
        claims["aud"] = AUDIENCE
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        with pytest.raises(Unauthenticated) as refused:
            await service_verifier.verify(f"{header}.{forged}.{signature}")
        assert refused.value.reason == "TOKEN_INVALID"

    @pytest.mark.parametrize("act", ["service:notification", {"sub": ""}, {"iss": "x"}])
    async def test_a_malformed_act_is_refused(
        self, key: SigningKey, service_verifier: TokenVerifier, act: object
    ) -> None:
        with pytest.raises(Unauthenticated):
            await service_verifier.verify(delegated(key, extra={"act": act}))

    async def test_the_edge_verifier_refuses_domain_tokens(
        self, key: SigningKey, verifier: TokenVerifier
    ) -> None:
        with pytest.raises(Unauthenticated):
            await verifier.verify(delegated(key))

    async def test_an_unknown_domain_audience_is_refused(
        self, key: SigningKey, service_verifier: TokenVerifier
    ) -> None:
        with pytest.raises(Unauthenticated):
            await service_verifier.verify(delegated(key, audience="coder.nowhere"))

    async def test_scope_narrows_what_the_roles_grant(
        self, key: SigningKey, service_verifier: TokenVerifier
    ) -> None:
        extra = {"act": {"sub": "service:notification"}, "scope": "planning.task.read"}
        principal = await service_verifier.verify(delegated(key, extra=extra))
        assert principal.can("planning.task.read")
        assert not principal.can("planning.task.write")  # the member role alone would grant it
        assert not principal.can("planning.project.read")


class TestPlatformOnly:
    @pytest.mark.parametrize(
        "principal",
        [
            Principal("u", "o", roles=frozenset({"owner"})),
            Principal("u", "o", permissions=frozenset({"*"})),
            Principal(
                "sa", "o", permissions=frozenset({"identity.token.exchange"}), kind="service"
            ),
            Principal("u", "o", permissions=frozenset({"identity.token.exchange"})),
        ],
    )
    def test_no_role_or_explicit_permission_reaches_it(self, principal: Principal) -> None:
        assert not principal.can("identity.token.exchange", Policy.PLATFORM_ONLY)

    def test_a_platform_principal_holds_it_and_nothing_else(self) -> None:
        platform = Principal(
            "service:notification",
            "",
            permissions=frozenset({"identity.token.exchange"}),
            kind=PLATFORM_KIND,
        )
        assert platform.can("identity.token.exchange", Policy.PLATFORM_ONLY)
        assert not platform.can("identity.other.thing", Policy.PLATFORM_ONLY)
        assert not platform.can("planning.task.read")


def platform_keys(*entries: tuple[str, SigningKey]) -> PlatformKeys:
    document: dict[str, list[dict[str, object]]] = {}
    for domain, signing in entries:
        document.setdefault(domain, []).append(signing.public_jwk())
    return PlatformKeys.parse(json.dumps(document))


class TestPlatformAssertions:
    @pytest.fixture
    def service_key(self) -> SigningKey:
        return SigningKey.generate("notification-1")

    @pytest.fixture
    def identity_verifier(self, key: SigningKey, service_key: SigningKey) -> TokenVerifier:
        verifier = TokenVerifier(
            KeySource(jwks=jwks([key])), issuer=ISSUER, audience=AUDIENCE, domain_audiences=True
        )
        verifier.trust_platform(platform_keys(("notification", service_key)))
        return verifier

    async def test_an_assertion_becomes_a_platform_principal(
        self, service_key: SigningKey, identity_verifier: TokenVerifier
    ) -> None:
        principal = await identity_verifier.verify(client_assertion(service_key, "notification"))
        assert principal.kind == PLATFORM_KIND
        assert principal.subject == "service:notification"
        assert principal.bound_to == {"identity"}
        assert principal.can("identity.token.exchange")
        assert principal.claims["jti"]

    async def test_a_key_authenticates_only_its_own_domains(
        self, service_key: SigningKey, identity_verifier: TokenVerifier
    ) -> None:
        with pytest.raises(Unauthenticated) as refused:
            await identity_verifier.verify(client_assertion(service_key, "knowledge"))
        assert refused.value.reason == "ASSERTION_SUBJECT_MISMATCH"

    async def test_an_unregistered_key_is_refused(self, identity_verifier: TokenVerifier) -> None:
        stranger = SigningKey.generate("notification-1")  # same kid, other key
        with pytest.raises(Unauthenticated) as refused:
            await identity_verifier.verify(client_assertion(stranger, "notification"))
        assert refused.value.reason == "TOKEN_INVALID"
        unknown = SigningKey.generate("notification-2")
        with pytest.raises(Unauthenticated) as refused:
            await identity_verifier.verify(client_assertion(unknown, "notification"))
        assert refused.value.reason == "TOKEN_UNKNOWN_KEY"

    async def test_an_expired_assertion_is_refused(
        self, service_key: SigningKey, identity_verifier: TokenVerifier
    ) -> None:
        old = client_assertion(service_key, "notification", now=time.time() - 600)
        with pytest.raises(Unauthenticated) as refused:
            await identity_verifier.verify(old)
        assert refused.value.reason == "TOKEN_EXPIRED"

    @pytest.mark.parametrize(
        "changes",
        [
            {"aud": "coder.planning"},
            {"iss": "service:knowledge"},
            {"exp": int(time.time()) + 3600},
            {"jti": None},
        ],
    )
    async def test_assertion_claims_are_checked(
        self, service_key: SigningKey, identity_verifier: TokenVerifier, changes: dict[str, object]
    ) -> None:
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": "service:notification",
            "sub": "service:notification",
            "aud": "coder.identity",
            "iat": now,
            "exp": now + 60,
            "jti": "j-1",
        }
        claims.update(changes)
        claims = {k: v for k, v in claims.items() if v is not None}
        token = jwt.encode(
            claims, service_key.private_key, algorithm="ES256", headers={"kid": service_key.kid}
        )
        with pytest.raises(Unauthenticated):
            await identity_verifier.verify(token)

    async def test_a_service_key_cannot_mint_access_tokens(
        self, service_key: SigningKey, identity_verifier: TokenVerifier
    ) -> None:
        with pytest.raises(Unauthenticated) as refused:
            await identity_verifier.verify(mint(service_key, roles=["owner"]))
        assert refused.value.reason == "TOKEN_UNKNOWN_KEY"

    async def test_without_platform_keys_assertions_are_refused(
        self, key: SigningKey, service_key: SigningKey
    ) -> None:
        verifier = TokenVerifier(KeySource(jwks=jwks([key])), issuer=ISSUER, audience=AUDIENCE)
        with pytest.raises(Unauthenticated):
            await verifier.verify(client_assertion(service_key, "notification"))


class TestPlatformKeyConfig:
    def test_keys_load_by_domain(self) -> None:
        key = SigningKey.generate("k-1")
        assert platform_keys(("notification", key), ("knowledge", key))

    @pytest.mark.parametrize(
        ("raw", "complaint"),
        [
            ('{"nowhere": []}', "unknown domain"),
            ('{"knowledge": {}}', "list of JWKs"),
            ('{"knowledge": [{"kty": "EC"}]}', "needs a kid"),
            ("[1]", "JSON object"),
            ("{", "not JSON"),
        ],
    )
    def test_malformed_config_says_what_is_wrong(self, raw: str, complaint: str) -> None:
        with pytest.raises((ValueError, KeyError), match=complaint):
            PlatformKeys.parse(raw)

    def test_private_key_material_is_refused(self) -> None:
        private = SigningKey.generate("k-1").private_jwk()
        with pytest.raises(ValueError, match="private key material"):
            PlatformKeys.parse(json.dumps({"knowledge": [private]}))

    def test_one_kid_for_two_keys_is_refused(self) -> None:
        first, second = SigningKey.generate("k-1"), SigningKey.generate("k-1")
        raw = json.dumps({"knowledge": [first.public_jwk()], "notification": [second.public_jwk()]})
        with pytest.raises(ValueError, match="two different keys"):
            PlatformKeys.parse(raw)

    def test_private_jwk_round_trips(self) -> None:
        key = SigningKey.generate("k-1")
        again = SigningKey.from_jwk(key.private_jwk())
        assert again.kid == "k-1" and again.public_jwk() == key.public_jwk()
        with pytest.raises(ValueError, match="private JWK"):
            SigningKey.from_jwk(key.public_jwk())
