"""The generated Envoy config: Envoy accepts it (`envoy --mode validate`), the committed
envoy/envoy.yaml is current, and what it derives from the descriptor set is right."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from cli.main import main
from services.deploy import (
    EnvoyOptions,
    HttpBinding,
    Rpc,
    build_context,
    exposed_methods,
    implemented_services,
    render,
    rpcs,
    template_regex,
)
from services.deploy._descriptors import load_descriptor_set
from tests.deploy.conftest import DESCRIPTOR, ROOT, envoy_binary

PLANNING = {"planning": ("coder.planning.v1.PlanningService",)}


def validate(config: Path) -> None:
    result = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(config), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


@pytest.mark.parametrize(
    "options",
    [
        EnvoyOptions(descriptor=DESCRIPTOR),
        EnvoyOptions(descriptor=DESCRIPTOR, embedded_port=50051, rate_limit=5),
        EnvoyOptions(
            descriptor=DESCRIPTOR,
            upstream_host="services.internal",
            edge_url="http://edge:3001",
            ui_url="http://ui",
        ),
    ],
    ids=["defaults", "embedded", "dns"],
)
def test_envoy_accepts_the_generated_config(options: EnvoyOptions, tmp_path: Path) -> None:
    config = tmp_path / "envoy.yaml"
    config.write_text(render(options, PLANNING))
    validate(config)


def test_the_committed_config_is_current() -> None:
    committed = ROOT / "envoy" / "envoy.yaml"
    expected = render(EnvoyOptions(descriptor=DESCRIPTOR), implemented_services())
    assert committed.read_text() == expected, (
        "envoy/envoy.yaml is stale: run `coder envoy-config` and commit it"
    )
    validate(committed)


def test_the_command_writes_the_config(tmp_path: Path) -> None:
    output = tmp_path / "out" / "envoy.yaml"
    code = main(
        [
            "envoy-config",
            "--output",
            str(output),
            "--listen-port",
            "18080",
            "--embedded-port",
            "50051",
            "--descriptor",
            str(DESCRIPTOR),
        ]
    )
    assert code == 0
    text = output.read_text()
    assert "port_value: 18080" in text
    assert "port_value: 50051" in text
    assert "port_value: 3007" not in text  # every service goes to the embedded port


def test_the_config_is_reproducible() -> None:
    options = EnvoyOptions(descriptor=DESCRIPTOR)
    assert render(options, PLANNING) == render(options, PLANNING)


def test_each_domain_gets_a_cluster_and_ops_balances_over_all() -> None:
    services = {**PLANNING, "calendar": ("coder.calendar.v1.CalendarService",)}
    options = EnvoyOptions(descriptor=DESCRIPTOR)
    with pytest.raises(KeyError, match=r"coder\.calendar\.v1\.CalendarService"):
        build_context(options, services)  # not in the descriptor set
    context = build_context(options, PLANNING)
    clusters = {upstream.name: upstream for upstream in context["grpc_upstreams"]}
    assert clusters["planning"].endpoints == (("127.0.0.1", 3007),)
    assert clusters["planning"].health_service == "coder.planning.v1.PlanningService"
    assert clusters["ops"].health_service == "coder.ops.v1.OpsService"
    assert context["transcoded_services"] == [
        "coder.planning.v1.PlanningService",
        "coder.ops.v1.OpsService",
    ]
    routes = {route.service: route for route in context["grpc_routes"]}
    assert routes["coder.ops.v1.OpsService"].cluster == "ops"
    assert routes["coder.ops.v1.OpsService"].paths == [
        "/coder.ops.v1.OpsService/Echo",
        "/coder.ops.v1.OpsService/Ticks",
    ]


def test_only_rpcs_with_an_http_binding_are_exposed_over_grpc() -> None:
    bound = (HttpBinding("POST", "/api/v1/identity/organizations"),)
    found = [
        Rpc("coder.identity.v1.IdentityService", "Login", True, ()),
        Rpc("coder.identity.v1.IdentityService", "CreateOrganization", False, bound),
        Rpc("coder.identity.v1.IdentityService", "GetJwks", True, ()),
    ]
    service = "coder.identity.v1.IdentityService"
    assert exposed_methods(service, found) == ("CreateOrganization",)
    assert exposed_methods(service, found[:1]) == ()


def test_only_public_rpcs_are_exempt_from_the_token() -> None:
    context = build_context(EnvoyOptions(descriptor=DESCRIPTOR), PLANNING)
    exempt = context["public_matches"]
    assert {"path": "/coder.ops.v1.OpsService/Echo"} in exempt
    assert {
        "path": "/api/v1/ops/echo",
        "headers": [{"name": ":method", "string_match": {"exact": "GET"}}],
    } in exempt
    assert not [match for match in exempt if "planning" in str(match)]
    found = rpcs(load_descriptor_set(DESCRIPTOR), ["coder.planning.v1.PlanningService"])
    assert found
    assert not [rpc for rpc in found if rpc.public]


@pytest.mark.parametrize(
    ("template", "regex"),
    [
        ("/api/v1/ops/echo", None),
        ("/api/v1/planning/projects/{project_id}", "/api/v1/planning/projects/[^/]+"),
        (
            "/api/v1/planning/projects/{task.project_id}/tasks/{task.id}",
            "/api/v1/planning/projects/[^/]+/tasks/[^/]+",
        ),
        ("/v1/{name=projects/*/tasks/*}", "/v1/projects/[^/]+/tasks/[^/]+"),
        ("/v1/{path=files/**}", "/v1/files/.+"),
        ("/v1/items/{id}:cancel", "/v1/items/[^/]+:cancel"),
        ("/v1/*/items", "/v1/[^/]+/items"),
    ],
)
def test_path_templates_become_regexes(template: str, regex: str | None) -> None:
    assert template_regex(template) == regex


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"edge_url": "https://edge:3001"}, "edge URL must be http"),
        ({"ui_url": "http://ui:3000/app"}, "must not carry a path"),
        ({"rate_limit": 0}, "rate limit"),
    ],
)
def test_bad_options_are_refused(change: dict[str, object], message: str) -> None:
    options = EnvoyOptions(descriptor=DESCRIPTOR, **change)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        build_context(options, PLANNING)


def test_creates_are_marked_for_the_rest_contract_filter() -> None:
    context = build_context(EnvoyOptions(descriptor=DESCRIPTOR), PLANNING)
    created = {
        "CreateProject": "project",
        "CreateTask": "task",
        "CreateMilestone": "milestone",
        "CreateCycle": "cycle",
        "CreateTaskRelation": "relation",
        "CreateWorklog": "worklog",
        "CreateView": "view",
    }
    assert context["created_resources"] == {
        f"/coder.planning.v1.PlanningService/{rpc}": field for rpc, field in created.items()
    }
    found = {
        rpc.name: rpc
        for rpc in rpcs(load_descriptor_set(DESCRIPTOR), ["coder.planning.v1.PlanningService"])
    }
    assert found["CreateTask"].creates
    assert not found["GetTask"].creates
    assert found["GetTask"].resource_field == ""


def test_the_contract_filter_runs_before_the_transcoder() -> None:
    # Encoding runs bottom to top: only a filter above the transcoder sees the JSON it prints.
    text = render(EnvoyOptions(descriptor=DESCRIPTOR), PLANNING)
    filters = re.findall(r"^          - name: (envoy\.filters\.http\.\w+)$", text, re.MULTILINE)
    assert filters == [
        "envoy.filters.http.local_ratelimit",
        "envoy.filters.http.jwt_authn",
        "envoy.filters.http.lua",
        "envoy.filters.http.grpc_json_transcoder",
        "envoy.filters.http.router",
    ]
    # Every route that skips the transcoder (edge and UI) skips the contract filter too.
    assert text.count("LuaPerRoute") == text.count("envoy.config.route.v3.FilterConfig") > 0
