"""Domain errors: one base that carries its gRPC status, mapped to the wire in one place.

A service raises these; the error interceptor turns them into a `google.rpc.Status` with
details (BadRequest field violations, ErrorInfo reason, RetryInfo). Anything else that escapes a
handler is INTERNAL and logged with its traceback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import grpc

ERROR_DOMAIN = "coder.dev"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad field of a request: its path (`task.title`) and what is wrong with it."""

    field: str
    description: str
    reason: str = ""


class DomainError(Exception):
    """Base of every expected failure. Subclasses fix the gRPC code and a default reason."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    default_reason: str = "INTERNAL"
    exposed: bool = True
    """Whether `message` may reach a client. The store's errors name containers, documents and
    batch operations, words for the log: the error interceptor sends those with a plain
    message for their code (and their reason), never their text, violations or metadata."""

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        violations: Sequence[FieldViolation] = (),
        retry_after: float | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.violations = tuple(violations)
        self.retry_after = retry_after
        self.metadata = dict(metadata or {})


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class Aborted(DomainError):
    """A concurrency conflict: the caller may re-read and retry."""

    code = grpc.StatusCode.ABORTED
    default_reason = "ABORTED"


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class ResourceExhausted(DomainError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "RESOURCE_EXHAUSTED"


class Unavailable(DomainError):
    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"


class DeadlineExceeded(DomainError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    default_reason = "DEADLINE_EXCEEDED"


class Unimplemented(DomainError):
    code = grpc.StatusCode.UNIMPLEMENTED
    default_reason = "UNIMPLEMENTED"


class DocumentNotFound(NotFound):
    """The store has no document with that id in that partition."""

    default_reason = "DOCUMENT_NOT_FOUND"
    exposed = False


class DocumentExists(AlreadyExists):
    """A create hit an id that is already taken in that partition."""

    default_reason = "DOCUMENT_EXISTS"
    exposed = False


class EtagMismatch(Aborted):
    """A conditional write found a newer version than the caller read; nothing was written."""

    default_reason = "ETAG_MISMATCH"
    exposed = False


class StoreRefused(InvalidArgument):
    """The store refused a request a repository built (a query, path, patch or document it
    cannot take). INVALID_ARGUMENT as before, its text kept for the log; its reason
    `STORE_REFUSED` tells a repository's mistake from a rule the caller broke."""

    default_reason = "STORE_REFUSED"
    exposed = False
