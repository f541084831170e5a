"""Update masks of the core identity resources: which fields a partial update may change."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.field_mask_pb2 import FieldMask

from services.kit import FieldViolation, InvalidArgument


def mask_paths(mask: FieldMask, resource: str, writable: Sequence[str]) -> list[str]:
    """The paths an update changes: the mask's (deduplicated), or every writable field when the
    mask is empty; InvalidArgument naming each path that is not writable."""
    if not mask.paths:
        return list(writable)
    unknown = [p for p in mask.paths if p not in writable]
    if unknown:
        raise InvalidArgument(
            "the update mask names fields that cannot be changed",
            violations=[
                FieldViolation("update_mask", f"{resource}.{p} is not writable") for p in unknown
            ],
        )
    return list(dict.fromkeys(mask.paths))
