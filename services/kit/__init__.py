"""The service kit: everything a service of the suite needs, behind one small surface.

A service package imports only from here (`from services.kit import ...`); the modules behind
it are private. See docs/kit.md for how the pieces fit.
"""

from services.kit._access import (
    AccessRule,
    Policy,
    declared_policies,
    permissions_with,
    rule_of,
)
from services.kit._auth import (
    ADMINISTRATOR_ROLES,
    PLATFORM_KIND,
    ROLE_PERMISSIONS,
    KeySource,
    PlatformKeys,
    Principal,
    TokenVerifier,
    domain_audience,
    permission_matches,
    platform_subject,
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
from services.kit._observability import configure_logging, configure_tracing, get_logger
from services.kit._paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageRequest, clamp_page_size
from services.kit._peers import (
    ISSUED_TOKEN_TYPE,
    DelegatedToken,
    DelegationRequest,
    Peers,
    TokenExchanger,
    client_assertion,
)
from services.kit._registry import (
    DOMAINS,
    EMBEDDED_GRPC_PORT,
    ENVOY_ADMIN_PORT,
    ENVOY_PORT,
    Domain,
    domain,
)
from services.kit._repository import Entities, Repository
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
    optional_timestamp_text,
    parse_time_text,
    time_text,
    timestamp_in_range,
    timestamp_text,
)
from services.kit._updates import (
    apply_update,
    check_etag,
    check_time_range,
    require_field,
    update_paths,
)

__all__ = [
    "ADMINISTRATOR_ROLES",
    "DEFAULT_PAGE_SIZE",
    "DOMAINS",
    "EMBEDDED_GRPC_PORT",
    "ENVOY_ADMIN_PORT",
    "ENVOY_PORT",
    "ISSUED_TOKEN_TYPE",
    "MAX_PAGE_SIZE",
    "PLATFORM_KIND",
    "ROLE_PERMISSIONS",
    "Aborted",
    "AccessRule",
    "AlreadyExists",
    "Clock",
    "Companion",
    "ContextPropagation",
    "DeadlineExceeded",
    "DelegatedToken",
    "DelegationRequest",
    "DocumentExists",
    "DocumentNotFound",
    "Domain",
    "DomainError",
    "Entities",
    "EtagMismatch",
    "FailedPrecondition",
    "FieldViolation",
    "Host",
    "InvalidArgument",
    "KeySource",
    "ManualClock",
    "NotFound",
    "PageRequest",
    "Peers",
    "PermissionDenied",
    "PlatformKeys",
    "Policy",
    "Principal",
    "Repository",
    "ResourceExhausted",
    "Resources",
    "ServiceChannels",
    "ServiceDefinition",
    "Settings",
    "SigningKey",
    "SystemClock",
    "TokenExchanger",
    "TokenVerifier",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "apply_update",
    "bearer_token",
    "check_etag",
    "check_time_range",
    "clamp_page_size",
    "client_assertion",
    "configure_logging",
    "configure_tracing",
    "current_principal",
    "declared_policies",
    "domain",
    "domain_audience",
    "fill_timestamp",
    "get_logger",
    "id_time_ms",
    "jwks",
    "new_id",
    "open_resources",
    "optional_timestamp_text",
    "parse_time_text",
    "permission_matches",
    "permissions_with",
    "platform_subject",
    "remaining_time",
    "request_id",
    "require_field",
    "rule_of",
    "serve",
    "time_text",
    "timestamp_in_range",
    "timestamp_text",
    "update_paths",
    "validate_message",
]
