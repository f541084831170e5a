"""The server interceptors, registered in one list and applied by one pipeline.

Each interceptor wraps a call behaviour `(request, context) -> response` (or an async iterator
of responses for server streaming). `Pipeline` composes the list once per method when the
handler is registered, so a call pays plain nested function calls, not a chain of gRPC
interceptor objects.
Order (outermost first): request context → errors → logs → tracing → metrics → deadline →
access → validation → handler. Access runs before validation so an anonymous caller learns
nothing about a request's shape.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
import protovalidate
from google.protobuf import any_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.kit._access import UNDECLARED, AccessRule, method_rule
from services.kit._auth import TokenVerifier
from services.kit._context import CallState, current_call, set_call
from services.kit._errors import (
    ERROR_DOMAIN,
    DeadlineExceeded,
    DomainError,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from services.kit._ids import new_id
from services.kit._observability import Metrics, get_logger
from services.kit._updates import is_populated

UnaryCall = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamCall = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]

_log = get_logger("coder.rpc")


@dataclass(frozen=True, slots=True)
class MethodInfo:
    """What the pipeline knows about one RPC, read from the descriptor pool at registration."""

    full_name: str
    service: str
    name: str
    access: AccessRule = UNDECLARED

    @property
    def domain(self) -> str:
        """The domain of the RPC's proto package (`planning` for `coder.planning.v1`)."""
        parts = self.service.split(".")
        return parts[1] if len(parts) > 2 and parts[0] == "coder" else ""

    @classmethod
    def lookup(cls, full_name: str) -> MethodInfo:
        service, _, name = full_name.lstrip("/").partition("/")
        return cls(full_name, service, name, method_rule(full_name))


class Interceptor(Protocol):
    """A cross-cutting concern. `wrap_unary` and `wrap_stream` return the wrapped behaviour."""

    def wrap_unary(self, info: MethodInfo, call: UnaryCall) -> UnaryCall: ...

    def wrap_stream(self, info: MethodInfo, call: StreamCall) -> StreamCall: ...


def _state() -> CallState:
    state = current_call()
    assert state is not None, "RequestContextInterceptor must run first"
    return state


class RequestContextInterceptor:
    """Reads metadata once, assigns the request id (or keeps the caller's) and echoes it."""

    def _begin(self, info: MethodInfo, context: grpc.aio.ServicerContext) -> CallState:
        metadata = dict(context.invocation_metadata() or ())
        request_id = metadata.get("x-request-id") or new_id()
        state = CallState(method=info.full_name, request_id=request_id, metadata=metadata)
        set_call(state)
        context.set_trailing_metadata((("x-request-id", request_id),))
        return state

    def wrap_unary(self, info: MethodInfo, call: UnaryCall) -> UnaryCall:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            self._begin(info, context)
            return await call(request, context)

        return wrapped

    def wrap_stream(self, info: MethodInfo, call: StreamCall) -> StreamCall:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            self._begin(info, context)
            async for response in call(request, context):
                yield response

        return wrapped


_PLAIN_MESSAGES: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.NOT_FOUND: "not found",
    grpc.StatusCode.ALREADY_EXISTS: "already exists",
    grpc.StatusCode.ABORTED: "changed by another writer; read it again and retry",
    grpc.StatusCode.INVALID_ARGUMENT: "the request could not be stored",
}


def client_message(error: DomainError) -> str:
    """What the caller reads: the error's message, or for one that is not `exposed` (the
    store's) a plain sentence for its code."""
    if error.exposed:
        return error.message
    return _PLAIN_MESSAGES.get(error.code, "internal error; quote the request id")


def status_of(error: DomainError, request_id: str) -> status_pb2.Status:
    """The rich `google.rpc.Status` for a domain error (for one that is not `exposed`: its
    code and reason only, see `DomainError.exposed`)."""
    exposed = error.exposed
    details: list[Any] = [
        error_details_pb2.ErrorInfo(
            reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata if exposed else {}
        ),
    ]
    if error.violations and exposed:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description, reason=v.reason
                    )
                    for v in error.violations
                ]
            )
        )
    if error.retry_after is not None:
        delay = Duration()
        delay.FromNanoseconds(int(error.retry_after * 1e9))
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    if request_id:
        details.append(error_details_pb2.RequestInfo(request_id=request_id))
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    return status_pb2.Status(
        code=error.code.value[0], message=client_message(error), details=packed
    )


class ErrorInterceptor:
    """Maps domain errors to rich statuses; anything unexpected becomes INTERNAL, logged."""

    async def _abort(
        self, error: BaseException, context: grpc.aio.ServicerContext, info: MethodInfo
    ) -> None:
        if isinstance(error, TimeoutError):
            error = DeadlineExceeded("the call ran out of time")
        if not isinstance(error, DomainError):
            _log.error("rpc.unhandled", method=info.full_name, exc_info=error)
            status = status_pb2.Status(
                code=code_pb2.INTERNAL, message="internal error; quote the request id"
            )
            code = grpc.StatusCode.INTERNAL
            message = status.message
        else:
            if not error.exposed:
                _log.info("rpc.store_error", method=info.full_name, error=error.message)
            status = status_of(error, _state().request_id)
            code, message = error.code, status.message
        await context.abort(
            code,
            message,
            trailing_metadata=(
                ("grpc-status-details-bin", status.SerializeToString()),
                ("x-request-id", _state().request_id),
            ),
        )

    def wrap_unary(self, info: MethodInfo, call: UnaryCall) -> UnaryCall:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                return await call(request, context)
            except (asyncio.CancelledError, grpc.aio.AbortError):
                raise
            except Exception as error:
                await self._abort(error, context, info)
                raise AssertionError("unreachable: abort raises") from error

        return wrapped

    def wrap_stream(self, info: MethodInfo, call: StreamCall) -> StreamCall:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                async for response in call(request, context):
                    yield response
            except (asyncio.CancelledError, grpc.aio.AbortError):
                raise
            except Exception as error:
                await self._abort(error, context, info)

        return wrapped


def _code_of(error: BaseException | None) -> str:
    if error is None:
        return "OK"
    if isinstance(error, DomainError):
        return str(error.code.name)
    if isinstance(error, TimeoutError):
        return "DEADLINE_EXCEEDED"
    if isinstance(error, asyncio.CancelledError):
        return "CANCELLED"
    return "INTERNAL"


class LoggingInterceptor:
    """One structured access-log line per call, after it ends."""

    def _log(self, info: MethodInfo, started: float, error: BaseException | None) -> None:
        state = _state()
        code = _code_of(error)
        fields = {
            "method": info.full_name,
            "code": code,
            "ms": round((time.perf_counter() - started) * 1000, 3),
        }
        if state.principal is not None:
            fields["sub"] = state.principal.subject
        if code == "INTERNAL":
            _log.error("rpc", **fields)
        elif code in ("OK", "NOT_FOUND", "ALREADY_EXISTS"):
            _log.info("rpc", **fields)
        else:
            _log.warning("rpc", **fields)

    def wrap_unary(self, info: MethodInfo, call: UnaryCall) -> UnaryCall:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            try:
                response = await call(request, context)
            except BaseException as error:
                self._log(info, started, error)
                raise
            self._log(info, started, None)
            return response

        return wrapped

    def wrap_stream(self, info: MethodInfo, call: StreamCall) -> StreamCall:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            started = time.perf_counter()
            try:
                async for response in call(request, context):
                    yield response
            except BaseException as error:
                self._log(info, started, error)
                raise
            self._log(info, started, None)

        return wrapped


class TracingInterceptor:
    """A server span per call, continuing the caller's W3C trace context, from the process's
    tracer provider (the global one when none is given)."""

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self._tracer = trace.get_tracer("coder.kit", tracer_provider=tracer_provider)

    def _start(self, info: MethodInfo) -> Any:
        parent = propagate.extract(_state().metadata)
        return self._tracer.start_as_current_span(
            info.full_name.lstrip("/"),
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "rpc.system": "grpc",
                "rpc.service": info.service,
                "rpc.method": info.name,
            },
            record_exception=False,
            set_status_on_exception=False,
        )

    @staticmethod
    def _finish(span: trace.Span, error: BaseException | None) -> None:
        code = _code_of(error)
        span.set_attribute("rpc.grpc.status_code", code)
        if code == "INTERNAL" and error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR))

    def wrap_unary(self, info: MethodInfo, call: UnaryCall) -> UnaryCall:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with self._start(info) as span:
                try:
                    response = await call(request, context)
                except BaseException as error:
                    self._finish(span, error)
                    raise
                self._finish(span, None)
                return response

        return wrapped

    def wrap_stream(self, info: MethodInfo, call: StreamCall) -> StreamCall:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            with self._start(info) as span:
                try:
                    async for response in call(request, context):
                        yield response
                except BaseException as error:
                    self._finish(span, error)
                    raise
                self._finish(span, None)

        return wrapped


class MetricsInterceptor:
    """Prometheus RED metrics per method."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def _record(self, info: MethodInfo, started: float, error: BaseException | None) -> None:
        self._metrics.requests.labels(info.full_name, _code_of(error)).inc()
        self._metrics.duration.labels(info.full_name).observe(time.perf_counter() - started)

    def wrap_unary(self, info: MethodInfo, call: UnaryCall) -> UnaryCall:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            try:
                response = await call(request, context)
            except BaseException as error:
                self._record(info, started, error)
                raise
            self._record(info, started, None)
            return response

        return wrapped

    def wrap_stream(self, info: MethodInfo, call: StreamCall) -> StreamCall:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            started = time.perf_counter()
            try:
                async for response in call(request, context):
                    yield response
            except BaseException as error:
                self._record(info, started, error)
                raise
            self._record(info, started, None)

        return wrapped


class DeadlineInterceptor:
    """Gives every unary call a budget (the caller's deadline, or the default) and enforces it;
    `remaining_time()` lets the handler pass what is left to the next hop."""

    def __init__(self, default_seconds: float) -> None:
        self._default = default_seconds

    def wrap_unary(self, info: MethodInfo, call: UnaryCall) -> UnaryCall:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            remaining = context.time_remaining()
            budget = self._default if remaining is None else max(remaining, 0.0)
            loop = asyncio.get_running_loop()
            _state().deadline = loop.time() + budget
            try:
                async with asyncio.timeout(budget):
                    return await call(request, context)
            except TimeoutError as error:
                raise DeadlineExceeded("the call ran out of time") from error

        return wrapped

    def wrap_stream(self, info: MethodInfo, call: StreamCall) -> StreamCall:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            remaining = context.time_remaining()
            if remaining is not None:
                _state().deadline = asyncio.get_running_loop().time() + remaining
            async for response in call(request, context):
                yield response

        return wrapped


class AccessInterceptor:
    """Enforces the RPC's declared access rule before anything else touches the request."""

    def __init__(self, verifier: TokenVerifier | None) -> None:
        self._verifier = verifier

    async def _authorize(self, info: MethodInfo) -> None:
        rule = info.access
        if not rule.declared:
            raise PermissionDenied(
                f"{info.full_name} declares no access rule", reason="ACCESS_UNDECLARED"
            )
        state = _state()
        header = state.metadata.get("authorization", "")
        if rule.public and not header:
            return
        if not header:
            raise Unauthenticated("a bearer token is required", reason="TOKEN_MISSING")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("authorization must be `Bearer <token>`", reason="TOKEN_MISSING")
        if self._verifier is None:
            raise Unauthenticated("this server has no token issuer configured", reason="NO_ISSUER")
        principal = await self._verifier.verify(token.strip())
        if not principal.accepted_by(info.domain):
            # A delegated token is for its audience's service only, so one leaked from a
            # call to planning cannot be replayed against identity.
            raise Unauthenticated(
                f"this token is for {', '.join(sorted(principal.bound_to))} only",
                reason="TOKEN_AUDIENCE",
            )
        state.principal = principal
        if not rule.public and not principal.can(rule.permission, rule.policy):
            raise PermissionDenied(
                f"permission {rule.permission} is required",
                reason="PERMISSION_MISSING",
                metadata={"permission": rule.permission},
            )

    def wrap_unary(self, info: MethodInfo, call: UnaryCall) -> UnaryCall:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await self._authorize(info)
            return await call(request, context)

        return wrapped

    def wrap_stream(self, info: MethodInfo, call: StreamCall) -> StreamCall:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await self._authorize(info)
            async for response in call(request, context):
                yield response

        return wrapped


def _violation_path(violation: Any) -> list[str]:
    """`task.labels[2]` from a protovalidate field path (its subscript is a oneof of index or
    map key)."""
    parts: list[str] = []
    for element in violation.proto.field.elements:
        name = element.field_name
        subscript = element.subscript
        if subscript is not None:
            key = subscript.value
            if isinstance(key, bool):
                name += f"[{str(key).lower()}]"
            elif isinstance(key, str):
                name += f"[{key!r}]"
            else:
                name += f"[{key}]"
        parts.append(name)
    return parts


def _outside_mask(message: Any, path: list[str]) -> bool:
    """Whether a violation at `path` concerns a resource field an update mask leaves alone.

    AIP-134: an update changes only the fields its mask names, so rules on the other fields of
    the resource (say an empty `task.title` in a status-only PATCH) must not refuse it. An
    empty mask means the fields the request populates (`update_paths`), so then the rules of
    the fields it leaves unset do not apply either. The resource's `etag` is no field to
    change but the update's precondition: its rules always apply.
    """
    field = message.DESCRIPTOR.fields_by_name.get("update_mask")
    if field is None or len(path) < 2 or path[0] == "update_mask":
        return False
    if path[1] == "etag":
        return False  # a precondition, read whatever the mask says
    mask_paths = list(message.update_mask.paths)
    if not mask_paths:
        resource = getattr(message, path[0].split("[", 1)[0], None)
        name = path[1].split("[", 1)[0]
        if not isinstance(resource, Message) or name not in resource.DESCRIPTOR.fields_by_name:
            return False
        return not is_populated(resource, name)
    inner = ".".join(part.split("[", 1)[0] for part in path[1:])
    return not any(inner == p or inner.startswith(p + ".") for p in mask_paths)


def validate_message(message: Any) -> None:
    """Raise InvalidArgument with one field violation per broken protovalidate rule."""
    violations = protovalidate.collect_violations(message)
    if not violations:
        return
    found = []
    for violation in violations:
        path = _violation_path(violation)
        if _outside_mask(message, path):
            continue
        found.append(
            FieldViolation(
                field=".".join(path),
                description=violation.proto.message,
                reason=violation.proto.rule_id,
            )
        )
    if found:
        raise InvalidArgument("request is invalid", reason="INVALID_REQUEST", violations=found)


class ValidationInterceptor:
    """Checks the request against the protovalidate rules declared in its proto."""

    def wrap_unary(self, info: MethodInfo, call: UnaryCall) -> UnaryCall:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            validate_message(request)
            return await call(request, context)

        return wrapped

    def wrap_stream(self, info: MethodInfo, call: StreamCall) -> StreamCall:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            validate_message(request)
            async for response in call(request, context):
                yield response

        return wrapped


def default_interceptors(
    *,
    verifier: TokenVerifier | None,
    metrics: Metrics,
    default_deadline: float,
    tracer_provider: trace.TracerProvider | None = None,
) -> list[Interceptor]:
    """The one list of interceptors every server runs, outermost first."""
    return [
        RequestContextInterceptor(),
        ErrorInterceptor(),
        LoggingInterceptor(),
        TracingInterceptor(tracer_provider),
        MetricsInterceptor(metrics),
        DeadlineInterceptor(default_deadline),
        AccessInterceptor(verifier),
        ValidationInterceptor(),
    ]


class Pipeline:
    """Applies the interceptor list to RPC handlers, once per method, at registration.

    Services register through `registrar(server)`, which wraps every method handler before the
    server sees it; a call then pays only the nested wrappers, not gRPC's per-call interceptor
    machinery (which costs an extra task and several loop iterations per call). gRPC's own
    health and reflection services are added to the server directly and stay unwrapped.
    """

    def __init__(self, interceptors: Sequence[Interceptor]) -> None:
        self._interceptors = list(interceptors)

    def registrar(self, server: grpc.aio.Server) -> Any:
        """A stand-in for `server` whose handler registrations go through the pipeline."""
        return _Registrar(server, self)

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """The handler of `method` (`/pkg.Service/Method`) with every interceptor applied."""
        info = MethodInfo.lookup(method)
        if handler.request_streaming:
            # No RPC of the suite streams requests yet; refuse rather than run it unchecked.
            async def refuse(_: Any, context: grpc.aio.ServicerContext) -> Any:
                await context.abort(
                    grpc.StatusCode.UNIMPLEMENTED, "client-streaming RPCs are not served"
                )

            return grpc.unary_unary_rpc_method_handler(refuse)
        if handler.response_streaming:
            stream: StreamCall = handler.unary_stream
            for interceptor in reversed(self._interceptors):
                stream = interceptor.wrap_stream(info, stream)
            return grpc.unary_stream_rpc_method_handler(
                stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        unary: UnaryCall = handler.unary_unary
        for interceptor in reversed(self._interceptors):
            unary = interceptor.wrap_unary(info, unary)
        return grpc.unary_unary_rpc_method_handler(
            unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class _WrappedGenericHandler(grpc.GenericRpcHandler):  # type: ignore[misc]
    """A generic handler whose method handlers come out of the pipeline (cached per method)."""

    def __init__(self, inner: grpc.GenericRpcHandler, pipeline: Pipeline) -> None:
        self._inner = inner
        self._pipeline = pipeline
        self._cache: dict[str, grpc.RpcMethodHandler | None] = {}

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = details.method
        if method in self._cache:
            return self._cache[method]
        handler = self._inner.service(details)
        wrapped = None if handler is None else self._pipeline.wrap(method, handler)
        self._cache[method] = wrapped
        return wrapped


class _Registrar:
    """Passes registrations to the real server with every handler wrapped by the pipeline."""

    def __init__(self, server: grpc.aio.Server, pipeline: Pipeline) -> None:
        self._server = server
        self._pipeline = pipeline

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(
            tuple(_WrappedGenericHandler(handler, self._pipeline) for handler in handlers)
        )

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        self._server.add_registered_method_handlers(
            service,
            {
                name: self._pipeline.wrap(f"/{service}/{name}", handler)
                for name, handler in handlers.items()
            },
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)
