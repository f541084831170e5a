"""Cosmos DB partial document update, applied in Python by the sqlite backend.

Semantics follow the Cosmos DB patch reference: `add` inserts into an array (`-` appends) or
sets an object member; `set` is `add` except that an array index overwrites; `replace` and
`remove` need the target to exist; `incr` adds to a number, creating it when absent. The
parent of the target must exist: no operation creates intermediate objects.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from services.kit._errors import StoreRefused

from ._api import Document, PatchOp


def _segments(path: str) -> list[str]:
    # JSON pointer (RFC 6901) unescaping, as Cosmos DB reads patch paths.
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _fail(index: int, op: PatchOp, why: str) -> StoreRefused:
    return StoreRefused(f"patch operation {index} ({op.op} {op.path}): {why}")


def _parent(document: Document, segments: list[str], index: int, op: PatchOp) -> Any:
    node: Any = document
    for segment in segments[:-1]:
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            raise _fail(index, op, "the parent of the target does not exist")
    if not isinstance(node, dict | list):
        raise _fail(index, op, "the parent of the target is not an object or array")
    return node


def _array_index(key: str, size: int, *, allow_end: bool, index: int, op: PatchOp) -> int:
    if not key.isdigit():
        raise _fail(index, op, "an array index must be a non-negative integer")
    position = int(key)
    if position > size or (position == size and not allow_end):
        raise _fail(index, op, "the array index is out of bounds")
    return position


def _apply_one(document: Document, index: int, op: PatchOp) -> None:
    segments = _segments(op.path)
    parent = _parent(document, segments, index, op)
    key = segments[-1]
    value = copy.deepcopy(op.value)
    if isinstance(parent, list):
        if op.op == "add":
            if key == "-":
                parent.append(value)
            else:
                parent.insert(
                    _array_index(key, len(parent), allow_end=True, index=index, op=op), value
                )
            return
        position = _array_index(key, len(parent), allow_end=False, index=index, op=op)
        if op.op in ("set", "replace"):
            parent[position] = value
        elif op.op == "remove":
            del parent[position]
        else:
            parent[position] = _incremented(parent[position], op, index)
        return
    if op.op in ("add", "set"):
        parent[key] = value
    elif op.op == "incr":
        parent[key] = _incremented(parent.get(key), op, index)
    elif key not in parent:
        raise _fail(index, op, "the target does not exist")
    elif op.op == "replace":
        parent[key] = value
    else:
        del parent[key]


def _incremented(current: Any, op: PatchOp, index: int) -> Any:
    if current is None:
        return op.value
    if isinstance(current, bool) or not isinstance(current, int | float):
        raise _fail(index, op, "the target is not a number")
    return current + op.value


def apply_patch(document: Document, ops: Sequence[PatchOp]) -> Document:
    """A patched deep copy of `document`; `InvalidArgument` when an operation cannot apply.

    Operations were checked by `check_patch` (count, paths, incr values) beforehand.
    """
    patched = copy.deepcopy(document)
    for index, op in enumerate(ops):
        _apply_one(patched, index, op)
    return patched
