"""Access rules of RPCs, as the proto tree declares them (`(coder.common.v1.access)`).

Each RPC names one permission (or is public) and at most one policy flag: `admin_only`,
`owner_only`, `self_service` or `platform_only` (see access.proto). The rules are read from the
descriptors of the generated modules, so the proto file is the only place access is written down:
the interceptor enforces a method's rule, and identity asks which permissions are owner-only (a
custom role must not list them) without naming any itself.
"""

from __future__ import annotations

import enum
import functools
import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import MethodDescriptor

from coder.common.v1 import access_pb2


class Policy(enum.Enum):
    """Who holds an RPC's permission besides the patterns that match it."""

    DEFAULT = "default"
    """Any role or explicit permission whose pattern matches it."""
    ADMIN_ONLY = "admin_only"
    """Owners, admins, and custom roles or service accounts that name it."""
    OWNER_ONLY = "owner_only"
    """The owner role only."""
    SELF_SERVICE = "self_service"
    """Every signed-in user, for their own account; service principals need the permission."""
    PLATFORM_ONLY = "platform_only"
    """Platform services only (principals of kind `platform`, from a service's signed client
    assertion) that were issued the permission: no role, custom role or service account."""


@dataclass(frozen=True, slots=True)
class AccessRule:
    """The access rule of one RPC. `declared` is False for an RPC without one (or with an
    ambiguous one), which the interceptor refuses."""

    permission: str = ""
    public: bool = False
    policy: Policy = Policy.DEFAULT
    declared: bool = False


UNDECLARED = AccessRule()


def rule_of(method: MethodDescriptor) -> AccessRule:
    """The access rule a method descriptor declares (`UNDECLARED` when none or ambiguous)."""
    options = method.GetOptions()
    if not options.HasExtension(access_pb2.access):
        return UNDECLARED
    rule = options.Extensions[access_pb2.access]
    flags = [
        policy
        for policy, flag in (
            (Policy.ADMIN_ONLY, rule.admin_only),
            (Policy.OWNER_ONLY, rule.owner_only),
            (Policy.SELF_SERVICE, rule.self_service),
            (Policy.PLATFORM_ONLY, rule.platform_only),
        )
        if flag
    ]
    if bool(rule.public) == bool(rule.permission) or len(flags) > 1 or (rule.public and flags):
        return UNDECLARED
    return AccessRule(rule.permission, rule.public, flags[0] if flags else Policy.DEFAULT, True)


def method_rule(full_name: str) -> AccessRule:
    """The rule of `/package.Service/Method` (or `package.Service.Method`) in the default
    descriptor pool; `UNDECLARED` for a method the pool does not know."""
    service, _, name = full_name.lstrip("/").partition("/")
    dotted = f"{service}.{name}" if name else service
    try:
        method = descriptor_pool.Default().FindMethodByName(dotted)
    except KeyError:
        return UNDECLARED
    return rule_of(method)


@functools.cache
def declared_policies() -> Mapping[str, Policy]:
    """Permission → policy over every service of the proto tree (every generated
    `coder.*.*_service_pb2` module is imported once to read its rules)."""
    import coder

    policies: dict[str, Policy] = {}
    for module in pkgutil.walk_packages(coder.__path__, "coder."):
        if module.name.endswith("_service_pb2"):
            generated = importlib.import_module(module.name)
            for service in generated.DESCRIPTOR.services_by_name.values():
                for method in service.methods:
                    rule = rule_of(method)
                    if rule.declared and rule.permission:
                        policies[rule.permission] = rule.policy
    return policies


def permissions_with(policy: Policy) -> frozenset[str]:
    """Every permission of the proto tree declared with `policy`."""
    return frozenset(p for p, declared in declared_policies().items() if declared is policy)
