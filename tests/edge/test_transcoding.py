"""Route templates and request binding on a proto built for the test: verbs, `{name=…/*}`
segments, `**`, additional bindings, `body: "*"`, nested and repeated query parameters, enums,
bools and well-known types."""

from __future__ import annotations

from typing import Any

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2, duration_pb2, field_mask_pb2, timestamp_pb2

from coder.common.v1 import access_pb2
from edge.bodies import strict_json
from edge.errors import EdgeRefusal
from edge.routes import compile_template
from edge.transcoding import RouteTable

FIELD = descriptor_pb2.FieldDescriptorProto
PACKAGE = "coder.edgetest.v1"


def _field(
    name: str, number: int, kind: int, *, type_name: str = "", repeated: bool = False
) -> FIELD:
    field = FIELD(
        name=name,
        number=number,
        type=kind,  # type: ignore[arg-type]
        label=FIELD.LABEL_REPEATED if repeated else FIELD.LABEL_OPTIONAL,
        json_name="".join(p if i == 0 else p.title() for i, p in enumerate(name.split("_"))),
    )
    if type_name:
        field.type_name = type_name
    return field


def _method(name: str, request: str, **rule: Any) -> descriptor_pb2.MethodDescriptorProto:
    method = descriptor_pb2.MethodDescriptorProto(
        name=name, input_type=f".{PACKAGE}.{request}", output_type=f".{PACKAGE}.Thing"
    )
    bindings = rule.pop("additional_bindings", ())
    http = http_pb2.HttpRule(**rule)
    http.additional_bindings.extend(bindings)
    method.options.Extensions[annotations_pb2.http].CopyFrom(http)
    method.options.Extensions[access_pb2.access].CopyFrom(access_pb2.AccessRule(public=True))
    return method


def test_file() -> descriptor_pb2.FileDescriptorSet:
    file = descriptor_pb2.FileDescriptorProto(
        name="coder/edgetest/v1/things.proto",
        package=PACKAGE,
        syntax="proto3",
        dependency=[
            "google/protobuf/duration.proto",
            "google/protobuf/field_mask.proto",
            "google/protobuf/timestamp.proto",
        ],
    )
    file.enum_type.add(name="Color").value.extend(
        [
            descriptor_pb2.EnumValueDescriptorProto(name="COLOR_UNSPECIFIED", number=0),
            descriptor_pb2.EnumValueDescriptorProto(name="COLOR_RED", number=1),
            descriptor_pb2.EnumValueDescriptorProto(name="COLOR_BLUE", number=2),
        ]
    )
    inner = file.message_type.add(name="Filter")
    inner.field.extend(
        [
            _field("color", 1, FIELD.TYPE_ENUM, type_name=f".{PACKAGE}.Color"),
            _field("min_size", 2, FIELD.TYPE_INT64),
        ]
    )
    thing = file.message_type.add(name="Thing")
    thing.field.extend([_field("name", 1, FIELD.TYPE_STRING), _field("size", 2, FIELD.TYPE_INT32)])
    request = file.message_type.add(name="FindRequest")
    request.field.extend(
        [
            _field("name", 1, FIELD.TYPE_STRING),
            _field("filter", 2, FIELD.TYPE_MESSAGE, type_name=f".{PACKAGE}.Filter"),
            _field("sizes", 3, FIELD.TYPE_INT32, repeated=True),
            _field("colors", 4, FIELD.TYPE_ENUM, type_name=f".{PACKAGE}.Color", repeated=True),
            _field("exact", 5, FIELD.TYPE_BOOL),
            _field("within", 6, FIELD.TYPE_MESSAGE, type_name=".google.protobuf.Duration"),
            _field("mask", 7, FIELD.TYPE_MESSAGE, type_name=".google.protobuf.FieldMask"),
            _field("since", 8, FIELD.TYPE_MESSAGE, type_name=".google.protobuf.Timestamp"),
            _field("thing", 9, FIELD.TYPE_MESSAGE, type_name=f".{PACKAGE}.Thing"),
        ]
    )
    service = file.service.add(name="ThingService")
    service.method.extend(
        [
            _method(
                "FindThings",
                "FindRequest",
                get="/v1/{name=shelves/*/things/*}:find",
                additional_bindings=[http_pb2.HttpRule(post="/v1/find", body="*")],
            ),
            _method("PutThing", "FindRequest", put="/v1/things/{thing.name}", body="thing"),
            _method("GetFile", "FindRequest", get="/v1/files/{name=**}"),
            _method("GetThing", "FindRequest", get="/v1/things/{name}"),
            _method("DisableThing", "FindRequest", post="/v1/things/{name}:disable", body="*"),
        ]
    )
    files = descriptor_pb2.FileDescriptorSet()
    for module in (duration_pb2, field_mask_pb2, timestamp_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        files.file.append(proto)
    files.file.append(file)
    return files


test_file.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def table() -> RouteTable:
    return RouteTable(test_file())


def bind(table: RouteTable, method: str, path: str, query: str = "", body: bytes = b"") -> Any:
    match = table.router.match(method, path)
    document = strict_json(body, 32) if body.strip() else None
    return match.route.binding.build(match.variables, query, document)


class TestTemplates:
    def test_variables_verbs_and_patterns(self) -> None:
        template = compile_template("/v1/{name=shelves/*/things/*}:find")
        assert template.variables == ("name",)
        assert template.regex.match("/v1/shelves/a/things/b:find")
        assert not template.regex.match("/v1/shelves/a/things/b")
        assert not template.regex.match("/v1/shelves/a:find")

    def test_double_wildcard_spans_segments(self) -> None:
        template = compile_template("/v1/files/{name=**}")
        assert template.segments == -1
        assert template.regex.match("/v1/files/a/b/c")

    def test_dotted_variables(self) -> None:
        template = compile_template("/p/{task.project_id}/t/{task.id}")
        assert template.variables == ("task.project_id", "task.id")
        assert template.segments == 4
        assert template.literal_segments == 2


class TestRouting:
    def test_a_verb_route_wins_over_a_plain_variable_route(self) -> None:
        from edge.descriptors import load_descriptor_set
        from edge.settings import EdgeSettings

        routes = RouteTable(load_descriptor_set(EdgeSettings().descriptor_set)).router
        watch = routes.match("GET", "/api/v1/planning/projects/p1:watch")
        assert watch.route.method.path == "/coder.planning.v1.PlanningService/WatchProject"
        assert watch.variables == ("p1",)
        get = routes.match("GET", "/api/v1/planning/projects/p1")
        assert get.route.method.path == "/coder.planning.v1.PlanningService/GetProject"


class TestCustomMethods:
    """A `:verb` in the last segment names a custom method, as in Envoy's transcoder: only
    templates with that verb match, so a method routed elsewhere on the path is no reason to
    allow it here."""

    def test_the_verb_picks_the_custom_method(self, table: RouteTable) -> None:
        match = table.router.match("POST", "/v1/things/lamp:disable")
        assert (match.route.method.name, match.variables) == ("DisableThing", ("lamp",))
        assert table.router.match("GET", "/v1/things/lamp").route.method.name == "GetThing"

    @pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
    def test_a_405_on_a_custom_method_allows_only_what_it_is_routed_for(
        self, table: RouteTable, method: str
    ) -> None:
        with pytest.raises(EdgeRefusal) as refused:
            table.router.match(method, "/v1/things/lamp:disable")
        assert refused.value.http_status == 405
        assert refused.value.headers == {"allow": "POST"}

    def test_a_405_on_the_resource_allows_what_the_resource_is_routed_for(
        self, table: RouteTable
    ) -> None:
        with pytest.raises(EdgeRefusal) as refused:
            table.router.match("DELETE", "/v1/things/lamp")
        assert refused.value.headers == {"allow": "GET, PUT"}

    def test_an_unknown_verb_is_no_route(self, table: RouteTable) -> None:
        with pytest.raises(EdgeRefusal) as refused:
            table.router.match("GET", "/v1/things/lamp:explode")
        assert refused.value.to_http("r").status == 404


class TestNull:
    """`null` is not a value of a field whose JSON form has none (edge.values)."""

    @pytest.mark.parametrize(
        "body",
        [b'{"name": null}', b'{"sizes": [1, null]}', b'{"filter": null}', b'{"within": null}'],
    )
    def test_null_is_refused(self, table: RouteTable, body: bytes) -> None:
        with pytest.raises(EdgeRefusal) as refused:
            bind(table, "POST", "/v1/find", body=body)
        assert refused.value.to_http("r").body["details"][0]["reason"] == "INVALID_JSON_VALUE"


class TestBinding:
    def test_a_multi_segment_variable_with_a_verb(self, table: RouteTable) -> None:
        request = bind(table, "GET", "/v1/shelves/s1/things/t%201:find")
        assert request.name == "shelves/s1/things/t 1"

    def test_an_additional_binding_with_the_whole_body(self, table: RouteTable) -> None:
        request = bind(table, "POST", "/v1/find", body=b'{"name": "x", "sizes": [1, 2]}')
        assert (request.name, list(request.sizes)) == ("x", [1, 2])

    def test_a_whole_body_binding_takes_no_query(self, table: RouteTable) -> None:
        with pytest.raises(EdgeRefusal):
            bind(table, "POST", "/v1/find", "name=y", b"{}")

    def test_a_double_wildcard_variable(self, table: RouteTable) -> None:
        assert bind(table, "GET", "/v1/files/a/b.txt").name == "a/b.txt"

    def test_query_parameters_of_every_kind(self, table: RouteTable) -> None:
        request = bind(
            table,
            "GET",
            "/v1/shelves/s/things/t:find",
            "filter.color=COLOR_RED&filter.minSize=12345678901&sizes=1&sizes=2"
            "&colors=COLOR_BLUE&colors=1&exact=true&within=1.5s&mask=name,filter.color"
            "&since=2030-01-02T03:04:05Z&thing.size=3",
        )
        assert request.filter.color == 1
        assert request.filter.min_size == 12345678901
        assert list(request.sizes) == [1, 2]
        assert list(request.colors) == [2, 1]
        assert request.exact is True
        assert request.within.ToNanoseconds() == 1_500_000_000
        assert list(request.mask.paths) == ["name", "filter.color"]
        assert request.since.seconds == 1893553445
        assert request.thing.size == 3

    def test_proto_names_work_in_the_query_too(self, table: RouteTable) -> None:
        request = bind(table, "GET", "/v1/shelves/s/things/t:find", "filter.min_size=5")
        assert request.filter.min_size == 5

    @pytest.mark.parametrize(
        "query",
        ["nope=1", "exact=maybe", "sizes=x", "filter.color=COLOR_GREEN", "within=soon", "name=x"],
    )
    def test_bad_query_parameters_are_refused(self, table: RouteTable, query: str) -> None:
        with pytest.raises(EdgeRefusal) as refused:
            bind(table, "GET", "/v1/shelves/s/things/t:find", query)
        assert refused.value.status.code == 3  # INVALID_ARGUMENT

    def test_a_body_field_with_a_path_variable_inside_it(self, table: RouteTable) -> None:
        request = bind(table, "PUT", "/v1/things/lamp", "exact=1", b'{"name": "other", "size": 4}')
        assert (request.thing.name, request.thing.size, request.exact) == ("lamp", 4, True)

    def test_the_body_field_is_not_a_query_parameter(self, table: RouteTable) -> None:
        with pytest.raises(EdgeRefusal):
            bind(table, "PUT", "/v1/things/lamp", "thing.size=3", b"{}")
