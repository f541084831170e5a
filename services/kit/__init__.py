"""The service kit: everything a service of the suite needs, behind one small surface.

A service package imports only from here (`from services.kit import ...`); the modules behind
it are private. See docs/kit.md for how the pieces fit.
"""

from services.kit._auth import (
    ROLE_PERMISSIONS,
    KeySource,
    Principal,
    TokenVerifier,
    permission_matches,
)
from services.kit._clients import ContextPropagation, ServiceChannels
from services.kit._clock import Clock, ManualClock, SystemClock
from services.kit._context import (
    bearer_token,
    current_principal,
    remaining_time,
    request_id,
)
from services.kit._errors import (
    Aborted,
    AlreadyExists,
    DeadlineExceeded,
    DocumentExists,
    DocumentNotFound,
    DomainError,
    EtagMismatch,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from services.kit._ids import id_time_ms, new_id
from services.kit._interceptors import validate_message
from services.kit._keys import SigningKey, jwks
from services.kit._observability import (
    MetricsServer,
    Telemetry,
    configure_logging,
    configure_telemetry,
    get_logger,
    process_registry,
)
from services.kit._registry import (
    DOMAINS,
    EMBEDDED_GRPC_PORT,
    ENVOY_ADMIN_PORT,
    ENVOY_PORT,
    Domain,
    domain,
)
from services.kit._server import (
    Companion,
    Host,
    Resources,
    ServiceDefinition,
    open_resources,
    serve,
)
from services.kit._settings import Settings
from services.kit._timetext import (
    fill_timestamp,
    parse_time_text,
    time_text,
    timestamp_in_range,
    timestamp_text,
)

__all__ = [
    "DOMAINS",
    "EMBEDDED_GRPC_PORT",
    "ENVOY_ADMIN_PORT",
    "ENVOY_PORT",
    "ROLE_PERMISSIONS",
    "Aborted",
    "AlreadyExists",
    "Clock",
    "Companion",
    "ContextPropagation",
    "DeadlineExceeded",
    "DocumentExists",
    "DocumentNotFound",
    "Domain",
    "DomainError",
    "EtagMismatch",
    "FailedPrecondition",
    "FieldViolation",
    "Host",
    "InvalidArgument",
    "KeySource",
    "ManualClock",
    "MetricsServer",
    "NotFound",
    "PermissionDenied",
    "Principal",
    "ResourceExhausted",
    "Resources",
    "ServiceChannels",
    "ServiceDefinition",
    "Settings",
    "SigningKey",
    "SystemClock",
    "Telemetry",
    "TokenVerifier",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "bearer_token",
    "configure_logging",
    "configure_telemetry",
    "current_principal",
    "domain",
    "fill_timestamp",
    "get_logger",
    "id_time_ms",
    "jwks",
    "new_id",
    "open_resources",
    "parse_time_text",
    "permission_matches",
    "process_registry",
    "remaining_time",
    "request_id",
    "serve",
    "time_text",
    "timestamp_in_range",
    "timestamp_text",
    "validate_message",
]
