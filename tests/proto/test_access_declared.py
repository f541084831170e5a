"""Every RPC in the proto tree declares its access rule (DESIGN.md: fail closed)."""

from __future__ import annotations

import re
from pathlib import Path

from google.protobuf import descriptor_pb2

from coder.common.v1 import access_pb2

DESCRIPTOR_SET = Path(__file__).resolve().parents[2] / "gen" / "descriptor.binpb"
PERMISSION = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


def our_methods() -> list[tuple[str, str, descriptor_pb2.MethodDescriptorProto]]:
    files = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes())
    found = []
    for file in files.file:
        if not file.package.startswith("coder."):
            continue
        for service in file.service:
            for method in service.method:
                found.append((file.package, f"{file.package}.{service.name}", method))
    return found


def access_rule(method: descriptor_pb2.MethodDescriptorProto) -> access_pb2.AccessRule | None:
    # Options were parsed without the extension registered, so re-parse them with it.
    options = descriptor_pb2.MethodOptions.FromString(method.options.SerializeToString())
    if not options.HasExtension(access_pb2.access):
        return None
    return options.Extensions[access_pb2.access]


def test_the_tree_has_rpcs() -> None:
    assert len(our_methods()) >= 11


def test_every_rpc_declares_exactly_one_access_rule() -> None:
    missing, ambiguous, malformed = [], [], []
    for package, service, method in our_methods():
        name = f"{service}/{method.name}"
        rule = access_rule(method)
        if rule is None:
            missing.append(name)
        elif bool(rule.public) == bool(rule.permission):
            ambiguous.append(name)
        elif rule.permission:
            domain = package.split(".")[1]
            if not PERMISSION.match(rule.permission) or not rule.permission.startswith(
                f"{domain}."
            ):
                malformed.append(f"{name}: {rule.permission}")
    assert missing == [], f"RPCs without an access rule: {missing}"
    assert ambiguous == [], f"RPCs with both or neither of permission/public: {ambiguous}"
    assert malformed == [], f"permissions not `<own domain>.<resource>.<action>`: {malformed}"


def test_a_permission_has_one_policy_across_the_tree() -> None:
    policies: dict[str, set[str]] = {}
    for _, service, method in our_methods():
        rule = access_rule(method)
        if rule is None or not rule.permission:
            continue
        flags = [f for f in ("admin_only", "owner_only", "self_service") if getattr(rule, f)]
        assert len(flags) <= 1, f"{service}/{method.name} declares {flags}"
        policies.setdefault(rule.permission, set()).add(flags[0] if flags else "default")
    mixed = {permission: found for permission, found in policies.items() if len(found) > 1}
    assert mixed == {}, f"permissions declared with different policies: {mixed}"
