"""Partial updates and the preconditions of writes.

Update masks follow AIP-134: an omitted (empty) mask means the writable fields the request
populates — so `{"title": "x"}` changes the title and nothing else; to clear a field, name it
in the mask (the edge names every field present in a JSON body, so `{"description": ""}`
clears it). A path that is output only, the etag, or unknown is refused with a field
violation on `update_mask` (reason `UPDATE_MASK_INVALID`); a masked message or repeated field
is replaced whole. Writable paths are top-level fields of the resource. An enum cannot be
cleared: its zero value is `*_UNSPECIFIED`, "not set" (AIP-126), so an update naming an enum
field without a value is refused (`FIELD_UNSET`).

    paths = update_paths(request.update_mask, changes, "task", WRITABLE, output_only=OUTPUT_ONLY)
    check_etag(changes.etag, current.etag, "task")
    updated, changed = apply_update(current, changes, paths)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from typing import Any, TypeVar

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from services.kit._errors import EtagMismatch, FieldViolation, InvalidArgument
from services.kit._timetext import timestamp_in_range

M = TypeVar("M", bound=Message)
T = TypeVar("T")


def update_paths(
    mask: FieldMask,
    changes: Message,
    resource: str,
    writable: Sequence[str],
    *,
    output_only: Collection[str] = (),
) -> list[str]:
    """The paths an update touches: the mask's (deduplicated, in order), or the writable fields
    `changes` populates for an empty mask. InvalidArgument names each path that cannot be
    updated, and each enum it would set to `*_UNSPECIFIED`."""
    if not mask.paths:
        return [path for path in writable if is_populated(changes, path)]
    paths = _mask_paths(mask, resource, writable, output_only)
    fields = changes.DESCRIPTOR.fields_by_name
    unset = [
        path
        for path in paths
        if fields[path].enum_type is not None
        and not fields[path].is_repeated
        and getattr(changes, path) == 0
    ]
    if unset:
        raise InvalidArgument(
            "the update names fields without a value",
            reason="FIELD_UNSET",
            violations=[
                FieldViolation(
                    f"{resource}.{path}", f"{path} must be set: an enum cannot be cleared"
                )
                for path in unset
            ],
        )
    return paths


def _mask_paths(
    mask: FieldMask, resource: str, writable: Sequence[str], output_only: Collection[str]
) -> list[str]:
    violations = []
    for path in mask.paths:
        if path in writable:
            continue
        if path in output_only:
            description = f"{path} is output only"
        elif path == "etag":
            description = f"etag is not updatable; send it on the {resource} as a precondition"
        else:
            description = f"{path} is not an updatable field of a {resource}"
        violations.append(FieldViolation("update_mask", description))
    if violations:
        raise InvalidArgument(
            "update_mask names fields that cannot be updated",
            reason="UPDATE_MASK_INVALID",
            violations=violations,
        )
    return list(dict.fromkeys(mask.paths))


def is_populated(message: Message, name: str) -> bool:
    """Whether the top-level field `name` of `message` holds a value other than its default."""
    field = message.DESCRIPTOR.fields_by_name[name]
    if field.is_repeated:
        return len(getattr(message, name)) > 0
    if field.has_presence:
        return message.HasField(name)
    return bool(getattr(message, name))


def apply_update(current: M, changes: M, paths: Sequence[str]) -> tuple[M, list[str]]:
    """A copy of `current` with the fields `paths` names taken from `changes` (message and
    repeated fields replaced whole), and those of `paths` whose value actually changed."""
    updated = type(current)()
    updated.CopyFrom(current)
    FieldMask(paths=paths).MergeMessage(
        changes, updated, replace_message_field=True, replace_repeated_field=True
    )
    fields = current.DESCRIPTOR.fields_by_name
    changed = [path for path in paths if _differs(current, updated, fields[path])]
    return updated, changed


def _differs(before: Message, after: Message, field: Any) -> bool:
    # `field` is a FieldDescriptor (the upb build's own class at run time).
    name = field.name
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return dict(getattr(before, name)) != dict(getattr(after, name))
    if field.is_repeated:
        return list(getattr(before, name)) != list(getattr(after, name))
    if field.has_presence and before.HasField(name) != after.HasField(name):
        return True
    return bool(getattr(before, name) != getattr(after, name))


UNCONDITIONAL_ATTEMPTS = 16
"""How often an update without an etag re-reads and re-applies after losing a race."""


async def read_modify_write(given_etag: str, attempt: Callable[[], Awaitable[T]]) -> T:
    """Run one read-modify-write `attempt` (read the stored resource, apply the change, write it
    conditionally on the etag read). When the caller set no etag of its own and another writer
    won the race (EtagMismatch), read and apply again, up to `UNCONDITIONAL_ATTEMPTS` times:
    the caller asked for no precondition, so a lost race is not its failure. With an etag, a
    mismatch is the answer (ABORTED)."""
    for tried in range(1, UNCONDITIONAL_ATTEMPTS):
        try:
            return await attempt()
        except EtagMismatch:
            if given_etag:
                raise
            # Each round has a winner; a little jitter keeps the losers from meeting again.
            await asyncio.sleep(random.uniform(0, 0.001 * tried))  # noqa: S311 (not security)
    return await attempt()


def check_etag(given: str, stored: str, resource: str) -> None:
    """EtagMismatch (ABORTED) when the caller sent an etag and the stored one differs. Checked
    before any other rule, so a stale writer learns it is stale, not what else is wrong."""
    if given and given != stored:
        raise EtagMismatch(f"the {resource} changed since it was read; read it again")


def require_field(value: object, field: str, description: str = "is required") -> None:
    """InvalidArgument with a violation on `field` when `value` is empty."""
    if not value:
        raise InvalidArgument(
            f"{field} is required", violations=[FieldViolation(field, description)]
        )


def check_time_range(message: Message, fields: Iterable[str], prefix: str = "") -> None:
    """InvalidArgument naming each set Timestamp field of `message` outside the range every
    store and RFC 3339 can hold (0001-01-01 to 9999-12-31 UTC)."""
    violations = [
        FieldViolation(prefix + field, "must be between 0001-01-01 and 9999-12-31 UTC")
        for field in fields
        if message.HasField(field) and not timestamp_in_range(getattr(message, field))
    ]
    if violations:
        raise InvalidArgument("a time is out of range", violations=violations)
