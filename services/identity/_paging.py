"""Page tokens of the identity listings.

A page token is the store's continuation prefixed with a digest of what it continues, so a
token cannot be replayed against another organization or listing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from services.kit import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_DIGEST_BYTES = 8


def clamp_page_size(requested: int) -> int:
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def listing_scope(organization_id: str, listing: bytes) -> bytes:
    return hashlib.blake2b(
        organization_id.encode() + b"\0" + listing, digest_size=_DIGEST_BYTES
    ).digest()


def seal_token(scope: bytes, continuation: str | None) -> str:
    if not continuation:
        return ""
    return base64.urlsafe_b64encode(scope + continuation.encode()).decode().rstrip("=")


def open_token(scope: bytes, token: str) -> str | None:
    if not token:
        return None
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        if len(raw) > _DIGEST_BYTES and hmac.compare_digest(raw[:_DIGEST_BYTES], scope):
            return raw[_DIGEST_BYTES:].decode()
    except ValueError:
        pass
    raise InvalidArgument(
        "page_token does not belong to this listing",
        reason="PAGE_TOKEN_INVALID",
        violations=[FieldViolation("page_token", "use a token from the same listing")],
    )
