"""Page requests of List RPCs (AIP-158): the page size clamped, the page token opened and
sealed.

A page token is the store's continuation prefixed with a short digest of the listing it
continues — the organization (or whatever scope the service names), the request type and every
field of the request but `page_size` and `page_token` (its parent ids, filters and order) — so
a token cannot be replayed against another organization, listing or set of filters. It is
not a secret: the store's continuation is opaque but not confidential, and the digest only
binds it.

    page = PageRequest.of(request, principal.organization_id)
    tasks, continuation = await repository.list_tasks(..., page.size, page.continuation)
    return tasks, page.seal(continuation)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from google.protobuf.message import Message

from services.kit._errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 50
"""Page size of a request that names none."""

MAX_PAGE_SIZE = 1000
"""Largest page a listing returns; larger requests are clamped to it (AIP-158)."""

_DIGEST_BYTES = 8
_PAGING_FIELDS = ("page_size", "page_token")


def clamp_page_size(requested: int) -> int:
    """The page size to use for a requested one (0 means the default)."""
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """The page a List request asks for: how many items and where to continue."""

    size: int
    continuation: str | None
    scope: bytes

    @classmethod
    def of(cls, request: Message, *scope: str) -> PageRequest:
        """The page `request` (a message with `page_size` and `page_token`) asks for, its
        token bound to `scope` and to the request's other fields. InvalidArgument when the
        token belongs to another listing or is not a token at all."""
        listing = type(request)()
        listing.CopyFrom(request)
        for name in _PAGING_FIELDS:
            listing.ClearField(name)
        digest = hashlib.blake2b(digest_size=_DIGEST_BYTES)
        for part in scope:
            digest.update(part.encode())
            digest.update(b"\0")
        digest.update(request.DESCRIPTOR.full_name.encode())
        digest.update(b"\0")
        digest.update(listing.SerializeToString(deterministic=True))
        bound = digest.digest()
        size = clamp_page_size(getattr(request, "page_size"))  # noqa: B009 (typed as Message)
        token: str = getattr(request, "page_token")  # noqa: B009
        return cls(size, _open(bound, token), bound)

    def seal(self, continuation: str | None) -> str:
        """The `next_page_token` for the store's continuation ("" at the end)."""
        if not continuation:
            return ""
        raw = self.scope + continuation.encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _open(scope: bytes, token: str) -> str | None:
    if not token:
        return None
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        if len(raw) > _DIGEST_BYTES and hmac.compare_digest(raw[:_DIGEST_BYTES], scope):
            return raw[_DIGEST_BYTES:].decode()
    except ValueError:  # not base64, or not text: not a token of ours either
        pass
    raise InvalidArgument(
        "page_token does not belong to this listing",
        reason="PAGE_TOKEN_INVALID",
        violations=[
            FieldViolation(
                "page_token", "use a next_page_token of the same listing with the same filters"
            )
        ],
    )
