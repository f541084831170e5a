"""What both backends do to a document on its way in and out."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from services.kit._errors import DomainError, FieldViolation, StoreRefused

from ._api import MAX_BATCH_OPERATIONS, MAX_PATCH_OPERATIONS, BatchOp, Document, PatchOp

PARTITION_FIELD = "organizationId"

SYSTEM_PROPERTIES = frozenset({"_etag", "_ts", "_rid", "_self", "_attachments", "_lsn"})
"""Properties the database owns. Readers get `_etag` and `_ts`; callers never write any."""

COSMOS_ONLY_PROPERTIES = SYSTEM_PROPERTIES - {"_etag", "_ts"}

_FORBIDDEN_ID_CHARACTERS = frozenset("/\\?#")


def check_partition(partition: str) -> None:
    if not isinstance(partition, str) or not partition:
        raise StoreRefused(
            "a partition key is required",
            violations=[FieldViolation(PARTITION_FIELD, "must be a non-empty string")],
        )


def check_id(id: object) -> str:
    """A document id as Cosmos DB accepts it: a non-empty string without `/ \\ ? #`."""
    if not isinstance(id, str) or not id:
        raise StoreRefused(
            "a document needs a string id",
            violations=[FieldViolation("id", "must be a non-empty string")],
        )
    if not is_valid_id(id):
        raise StoreRefused(
            f"invalid document id {id!r}",
            violations=[FieldViolation("id", "at most 255 characters, none of / \\ ? #")],
        )
    return id


MAX_ID_LENGTH = 255


def is_valid_id(id: str) -> bool:
    """Whether `id` is a document id both backends accept."""
    return bool(id) and len(id) <= MAX_ID_LENGTH and not _FORBIDDEN_ID_CHARACTERS.intersection(id)


def reservation_id(prefix: str, value: str) -> str:
    """The id of a document that reserves `value` (an email, a unique name) under `prefix`:
    `prefix:value` when that is a valid id, else `prefix~` and the value's SHA-256. Any text
    can be reserved this way (a `/` or 300 characters included), and the ids of values that
    always fitted stay what they were. The two forms cannot collide: `~` follows `prefix` only
    in the second."""
    plain = f"{prefix}:{value}"
    if is_valid_id(plain):
        return plain
    return f"{prefix}~{hashlib.sha256(value.encode()).hexdigest()}"


def check_ttl(document: Document) -> None:
    ttl = document.get("ttl")
    if ttl is None:
        return
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl == 0 or ttl < -1:
        raise StoreRefused(
            "ttl must be -1 (never expires) or a positive number of seconds",
            violations=[FieldViolation("ttl", "must be -1 or a positive integer")],
        )


def prepare_write(partition: str, document: Document) -> Document:
    """A copy of `document` ready to store: system properties dropped, partition key set."""
    check_partition(partition)
    if not isinstance(document, dict):
        raise StoreRefused("a document must be a JSON object")
    check_id(document.get("id"))
    body = {key: value for key, value in document.items() if key not in SYSTEM_PROPERTIES}
    body[PARTITION_FIELD] = partition
    check_ttl(body)
    return body


def check_patch(ops: Sequence[PatchOp]) -> None:
    """Refuse what Cosmos DB refuses, so both backends fail the same way before writing."""
    if not ops:
        raise StoreRefused("a patch needs at least one operation")
    if len(ops) > MAX_PATCH_OPERATIONS:
        raise StoreRefused(f"a patch has at most {MAX_PATCH_OPERATIONS} operations")
    for op in ops:
        if op.op not in ("add", "set", "replace", "remove", "incr"):
            raise StoreRefused(f"unknown patch operation {op.op!r}")
        if not op.path.startswith("/") or op.path == "/":
            raise StoreRefused(f"patch path {op.path!r} must point below the root")
        head = op.path[1:].split("/", 1)[0]
        if head in ("id", PARTITION_FIELD) or head.startswith("_"):
            raise StoreRefused(f"patch cannot change {op.path!r}")
        if op.op == "incr" and (
            isinstance(op.value, bool) or not isinstance(op.value, int | float)
        ):
            raise StoreRefused("incr needs a number")


def check_batch(partition: str, operations: Sequence[BatchOp]) -> None:
    check_partition(partition)
    if len(operations) > MAX_BATCH_OPERATIONS:
        raise StoreRefused(
            f"a batch has at most {MAX_BATCH_OPERATIONS} operations, got {len(operations)}",
            violations=[FieldViolation("operations", f"at most {MAX_BATCH_OPERATIONS}")],
        )
    for index, op in enumerate(operations):
        if op.kind in ("create", "upsert", "replace"):
            if op.document is None:
                raise StoreRefused(f"batch operation {index} ({op.kind}) needs a document")
        elif op.kind in ("patch", "delete"):
            check_id(op.id)
            if op.kind == "patch":
                check_patch(op.patch)
        else:
            raise StoreRefused(f"batch operation {index}: unknown kind {op.kind!r}")


def batch_failure(index: int, op: BatchOp, error: DomainError) -> DomainError:
    """The error of a failed batch operation: same class, naming which operation failed."""
    failure = type(error)(
        f"batch operation {index} ({op.kind}) failed: {error.message}",
        reason=error.reason,
        violations=error.violations,
        metadata={**error.metadata, "operationIndex": str(index)},
    )
    failure.__cause__ = error
    failure.exposed = False
    return failure


def strip_cosmos_properties(document: dict[str, Any]) -> Document:
    """A document read from Cosmos DB without `_rid`, `_self`, `_attachments`, `_lsn`."""
    for key in COSMOS_ONLY_PROPERTIES:
        document.pop(key, None)
    return document
