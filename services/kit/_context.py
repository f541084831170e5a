"""Per-call context: request id, principal and deadline, held in contextvars.

grpc.aio runs every RPC in its own task, so these values never leak between calls. Service code
reads them through the functions here instead of digging in gRPC metadata.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from dataclasses import dataclass, field

from services.kit._auth import Principal
from services.kit._errors import Unauthenticated


@dataclass(slots=True)
class CallState:
    """What the interceptors learned about the current call."""

    method: str
    request_id: str
    metadata: dict[str, str] = field(default_factory=dict)
    principal: Principal | None = None
    deadline: float | None = None


_call: ContextVar[CallState | None] = ContextVar("coder_call", default=None)


def current_call() -> CallState | None:
    return _call.get()


def set_call(state: CallState) -> None:
    _call.set(state)


def current_principal() -> Principal:
    """The verified principal of the current call; Unauthenticated outside an authorized call."""
    state = _call.get()
    if state is None or state.principal is None:
        raise Unauthenticated("no authenticated principal for this call")
    return state.principal


def request_id() -> str:
    state = _call.get()
    return state.request_id if state else ""


def remaining_time() -> float | None:
    """Seconds left of the current call's budget, to pass on to the next hop."""
    state = _call.get()
    if state is None or state.deadline is None:
        return None
    return max(0.0, state.deadline - asyncio.get_running_loop().time())


def bearer_token() -> str:
    """The caller's raw bearer token, to forward on service-to-service calls."""
    state = _call.get()
    if state is None:
        return ""
    header = state.metadata.get("authorization", "")
    return header[7:] if header[:7].lower() == "bearer " else ""
