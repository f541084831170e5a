"""Deployment artifacts generated from the registry and the proto tree: the Envoy front proxy's
config (`coder envoy-config`)."""

from services.deploy._descriptors import HttpBinding, Rpc, rpcs, template_regex
from services.deploy._envoy import (
    DEFAULT_DESCRIPTOR,
    DEFAULT_OUTPUT,
    EnvoyOptions,
    GrpcRoute,
    build_context,
    exposed_methods,
    implemented_services,
    render,
    write,
)

__all__ = [
    "DEFAULT_DESCRIPTOR",
    "DEFAULT_OUTPUT",
    "EnvoyOptions",
    "GrpcRoute",
    "HttpBinding",
    "Rpc",
    "build_context",
    "exposed_methods",
    "implemented_services",
    "render",
    "rpcs",
    "template_regex",
    "write",
]
