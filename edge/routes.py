"""The route table: `google.api.http` path templates compiled once, matched per request.

A template such as `/api/v1/planning/projects/{project_id}/tasks/{task_id}` or
`/v1/{name=projects/*/locations/*}:verb` becomes one compiled regex. Routes are grouped by HTTP
method and segment count, so a request tries only the few templates that can match it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from google.rpc import code_pb2

from edge.descriptors import Method
from edge.errors import EdgeRefusal, edge_status

HTTP_METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed path template."""

    source: str
    regex: re.Pattern[str]
    variables: tuple[str, ...]
    """Field paths (`task.project_id`) of the template's variables, in order."""
    segments: int
    """Number of `/` segments, or -1 when a `**` makes it variable."""
    literal_segments: int
    """Literal segments; more literals win when two templates match."""
    verb: str = ""
    """The custom method (`disable` of `/v1/{name=accounts/*}:disable`), or empty."""


def _split_segments(path: str) -> list[str]:
    """Split on `/` outside braces."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in path:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        if char == "/" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _pattern_regex(pattern: str) -> tuple[str, bool]:
    pieces, multi = [], False
    for segment in pattern.split("/"):
        if segment == "**":
            pieces.append(".+")
            multi = True
        elif segment == "*":
            pieces.append("[^/]+")
        else:
            pieces.append(re.escape(segment))
    return "/".join(pieces), multi


def compile_template(source: str) -> Template:
    if not source.startswith("/"):
        raise ValueError(f"path template must start with /: {source!r}")
    path, verb = source, ""
    last_slash = source.rfind("/")
    colon = source.rfind(":")
    if colon > last_slash and "}" not in source[colon:]:
        path, verb = source[:colon], source[colon + 1 :]
    segments = _split_segments(path[1:])
    regex_parts: list[str] = []
    variables: list[str] = []
    count, literals, variable_length = 0, 0, False
    for segment in segments:
        if segment.startswith("{") and segment.endswith("}"):
            name, _, pattern = segment[1:-1].partition("=")
            pattern = pattern or "*"
            piece, multi = _pattern_regex(pattern)
            variable_length |= multi
            count += pattern.count("/") + 1
            regex_parts.append(f"(?P<v{len(variables)}>{piece})")
            variables.append(name)
        elif segment == "**":
            regex_parts.append(".+")
            variable_length = True
        elif segment == "*":
            regex_parts.append("[^/]+")
            count += 1
        else:
            regex_parts.append(re.escape(segment))
            count += 1
            literals += 1
    regex = "/" + "/".join(regex_parts) + (re.escape(":" + verb) if verb else "")
    return Template(
        source=source,
        regex=re.compile(regex + r"\Z"),
        variables=tuple(variables),
        segments=-1 if variable_length else count,
        literal_segments=literals,
        verb=verb,
    )


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP binding of one RPC."""

    http_method: str
    template: Template
    body: str
    """`*`, a field name, or empty."""
    response_body: str
    method: Method
    binding: Any = field(compare=False)
    """The request binder of this route (edge.transcoding.Binding)."""


@dataclass(frozen=True, slots=True)
class Match:
    route: Route
    variables: tuple[str, ...]
    """Percent-decoded values of the template's variables."""


def http_bindings(rule: Any) -> tuple[str, str] | None:
    """(method, template) of an HttpRule, or None for a rule with no pattern."""
    kind = rule.WhichOneof("pattern")
    if kind is None:
        return None
    if kind == "custom":
        return rule.custom.kind.lower(), rule.custom.path
    return kind, getattr(rule, kind)


class Router:
    """Routes by method and segment count; 404 for an unknown path, 405 for a wrong method."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        self._fixed: dict[tuple[str, int], list[Route]] = {}
        self._variable: dict[str, list[Route]] = {}
        for route in routes:
            key = route.http_method.upper()
            if route.template.segments >= 0:
                self._fixed.setdefault((key, route.template.segments), []).append(route)
            else:
                self._variable.setdefault(key, []).append(route)
        for group in (*self._fixed.values(), *self._variable.values()):
            group.sort(key=lambda r: (-r.template.literal_segments, not r.template.verb))

    def _find(self, method: str, path: str, segments: int, verb: str) -> Match | None:
        for route in (*self._fixed.get((method, segments), ()), *self._variable.get(method, ())):
            if route.template.verb != verb:
                continue
            found = route.template.regex.match(path)
            if found is not None:
                return Match(route, tuple(unquote(v) for v in found.groups()))
        return None

    def match(self, method: str, path: str) -> Match:
        """The route of `method path` (the raw, still percent-encoded path).

        A `:` in the last segment starts a custom method, as in Envoy's transcoder: a template
        matches only a path with its own verb, so `GET …/accounts/a1:disable` is not a read of
        an account called `a1:disable`, and its 405 allows only what `:disable` is routed for.
        """
        segments = path.count("/")
        last = path[path.rfind("/") + 1 :]
        verb = last[last.rfind(":") + 1 :] if ":" in last else ""
        found = self._find(method, path, segments, verb)
        if found is not None:
            return found
        allowed = sorted(
            other
            for other in {r.http_method.upper() for r in self.routes}
            if other != method and self._find(other, path, segments, verb) is not None
        )
        if allowed:
            raise EdgeRefusal(
                edge_status(
                    code_pb2.UNIMPLEMENTED,
                    f"method {method} is not allowed here; allowed: {', '.join(allowed)}",
                    "METHOD_NOT_ALLOWED",
                    metadata={"allow": ", ".join(allowed)},
                ),
                http_status=405,
                headers={"allow": ", ".join(allowed)},
            )
        raise EdgeRefusal(
            edge_status(code_pb2.NOT_FOUND, f"no route for {method} {path}", "ROUTE_NOT_FOUND")
        )
