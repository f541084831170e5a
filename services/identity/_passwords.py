"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.identity._settings import IdentitySettings
from services.kit import FieldViolation, InvalidArgument


class Passwords:
    """Hashes and checks passwords off the event loop (argon2 is deliberately slow)."""

    def __init__(self, settings: IdentitySettings) -> None:
        self._settings = settings
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        # Checked against when the email is unknown, so that answer takes as long as a real one.
        self._dummy = self._hasher.hash("not a password of anyone's")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self._verify, stored_hash, password)

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def burn(self, password: str) -> None:
        """Spend the time a verification takes, for an unknown account."""
        await self.verify(self._dummy, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    def check_policy(self, password: str, email: str, field: str) -> None:
        """Length and not-the-email; the history check needs the stored hashes (`reused`)."""
        violations = []
        if len(password) < self._settings.password_min_length:
            violations.append(
                FieldViolation(
                    field,
                    f"must be at least {self._settings.password_min_length} characters",
                    "PASSWORD_TOO_SHORT",
                )
            )
        if password.strip().casefold() == email.strip().casefold():
            violations.append(FieldViolation(field, "must not be the email", "PASSWORD_IS_EMAIL"))
        if violations:
            raise InvalidArgument(
                "the password does not meet the policy",
                reason="PASSWORD_POLICY",
                violations=violations,
            )

    async def reused(self, password: str, previous_hashes: list[str]) -> bool:
        for stored in previous_hashes:
            if await self.verify(stored, password):
                return True
        return False
