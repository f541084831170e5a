"""Key-encryption keys as an organization sees them: which KEK wraps how many of its versions,
and the rewrap that moves them all to the primary KEK (a KEK rotation's second step). A
rewrap unwraps and wraps data keys only; no value is decrypted and no ciphertext changes."""

from __future__ import annotations

from coder.secret.v1 import secret_pb2
from services.kit import EtagMismatch, current_principal, get_logger
from services.secret._envelope import SealBroken, associated_data
from services.secret._keys import KeyUnavailable
from services.secret._mapping import VersionRecord
from services.secret.events import SecretEvents
from services.secret.service.context import SecretContext

_log = get_logger("coder.secret.keys")
REWRAP_BATCH = 100


class KeyService:
    """Key status and rewraps of the caller's organization (and, for the sweep, of all)."""

    def __init__(self, context: SecretContext) -> None:
        self._c = context

    async def status(self) -> tuple[str, str, list[secret_pb2.KeyUsage]]:
        organization_id = current_principal().organization_id
        primary = await self._c.envelope.keys.primary_key_id()
        return primary, self._c.envelope.keys.provider, await self._usage(organization_id, primary)

    async def rewrap(self) -> tuple[int, list[secret_pb2.KeyUsage]]:
        principal = current_principal()
        organization_id = principal.organization_id
        count = await self.rewrap_batch(organization_id, limit=None)
        primary = await self._c.envelope.keys.primary_key_id()
        if count:
            event = SecretEvents.acting(principal, self._c.clock).rewrapped(
                count, primary, self._c.now()
            )
            await self._c.repository.record_event(organization_id, event)
        return count, await self._usage(organization_id, primary)

    async def rewrap_batch(self, organization_id: str | None, *, limit: int | None) -> int:
        """Rewrap up to `limit` versions (all when None) of one organization, or of every
        organization with None; returns how many were rewrapped. A version written meanwhile
        is left to the next pass; one whose wrapped key no KEK opens is logged and skipped."""
        keys = self._c.envelope.keys
        primary = await keys.primary_key_id()
        done = 0
        skipped: set[str] = set()
        while limit is None or done < limit:
            batch = REWRAP_BATCH if limit is None else min(REWRAP_BATCH, limit - done)
            found = await self._c.repository.versions_not_under(
                organization_id, primary, batch + len(skipped)
            )
            pending = [f for f in found if _key(f) not in skipped]
            if not pending:
                return done
            for owner, stored, etag in pending[:batch]:
                binding = associated_data(owner, stored.secret_id, stored.version.version)
                try:
                    sealed = await self._c.envelope.rewrap(stored.sealed, binding)
                except (SealBroken, KeyUnavailable) as error:
                    skipped.add(_key((owner, stored, etag)))
                    _log.error(
                        "secret.rewrap_failed",
                        secret_id=stored.secret_id,
                        version=stored.version.version,
                        key_id=stored.sealed.wrapped_key.key_id,
                        error=str(error),
                    )
                    continue
                rewrapped = VersionRecord(stored.version, sealed, stored.secret_id)
                try:
                    await self._c.repository.replace_version(owner, rewrapped, etag)
                except EtagMismatch:
                    continue
                done += 1
        return done

    async def _usage(self, organization_id: str, primary: str) -> list[secret_pb2.KeyUsage]:
        usage = await self._c.repository.key_usage(organization_id)
        usage.setdefault(primary, 0)
        return [
            secret_pb2.KeyUsage(key_id=key, version_count=count, primary=key == primary)
            for key, count in sorted(usage.items(), key=lambda item: (item[0] != primary, item[0]))
        ]


def _key(found: tuple[str, VersionRecord, str]) -> str:
    owner, stored, _ = found
    return f"{owner}/{stored.secret_id}/{stored.version.version}"
