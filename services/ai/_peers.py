"""Calls to the other services of the suite (Prompt Management, Usage Tracking, Secret
Management): their refusals become the kit's errors with their code and reason, so a
caller learns, say, which prompt variable is missing rather than meeting an INTERNAL."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import grpc

from services.kit import domain_error

T = TypeVar("T")


async def answered(call: Awaitable[T]) -> T:
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        raise domain_error(error) from None
