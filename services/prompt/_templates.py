"""Prompt templates: Jinja compiled in a guarded sandbox, and rendered within a budget.

Templates are written by an organization's members and rendered on the service's event loop,
so two kinds of harm are refused, both as INVALID_ARGUMENT naming the template's field:
- escaping the sandbox (`{{ ''.__class__.__mro__ }}`, calling unsafe callables): a template
  naming an underscore attribute is refused when it is compiled, and jinja2's
  `SandboxedEnvironment` raises `SecurityError` for whatever is built at run time (reason
  TEMPLATE_UNSAFE);
- exhausting the process: every loop iteration and call spends one step of a per-render budget
  (`MAX_STEPS`), the operations that can multiply a value's size (`*`, `**`, `~`, `%`,
  `replace`, padding widths) are checked before they run, no value or output may pass
  `MAX_CHARS`, and `str.format` (whose widths cannot be checked) is unavailable (reason
  TEMPLATE_TOO_EXPENSIVE).

Undefined names raise (StrictUndefined) rather than render as empty text. A template includes
another prompt by a constant `name@label` (`{% include "team/common@production" %}`); the
caller resolves those before rendering and hands them in (`Includes`), so rendering never
touches storage.
"""

from __future__ import annotations

import contextvars
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.nodes import EvalContext
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

from services.kit import FieldViolation, InvalidArgument

MAX_STEPS = 100_000
"""Loop iterations plus calls one render may make."""
MAX_CHARS = 1_000_000
"""Longest string (or list) a render may build, and longest output."""
MAX_INT_ARGUMENT = 100_000
"""Largest integer a template may pass to a call or filter (widths, counts)."""
MAX_INCLUDE_DEPTH = 8
"""Deepest chain of includes."""

NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*(?:/[A-Za-z0-9][A-Za-z0-9_.-]*){0,7}"
LABEL = r"[a-z][a-z0-9_-]{0,62}"
INCLUDE_REFERENCE = re.compile(rf"^(?P<name>{NAME})@(?P<label>{LABEL})$")
"""How a template names another prompt: `name@label`."""

_FORMAT_WIDTH = re.compile(r"%[-#0 +]*(?:\*|\d{6,})|%[-#0 +]*\d*\.(?:\*|\d{6,})")
_UNDEFINED_NAME = re.compile(r"^'([A-Za-z_][A-Za-z0-9_]*)' is undefined$")
_UNSAFE_STR_METHODS = frozenset({"format", "format_map", "expandtabs"})
_STEPS_NAME = "__coder_steps__"
_CONCAT_NAME = "__coder_concat__"


class RenderRefused(Exception):
    """A template that cannot be compiled or rendered; `reason` and `detail` say why."""

    def __init__(self, reason: str, detail: str, undefined: str = "") -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.undefined = undefined
        """The top-level name a render found undefined, when that is why it failed."""

    def error(self, field: str) -> InvalidArgument:
        """The refusal as the kit's INVALID_ARGUMENT with a violation on `field`."""
        return InvalidArgument(
            f"{field}: {self.detail}",
            reason=self.reason,
            violations=[FieldViolation(field, self.detail)],
        )


class _Budget:
    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps = MAX_STEPS

    def spend(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise RenderRefused(
                "TEMPLATE_TOO_EXPENSIVE",
                f"the template takes more than {MAX_STEPS:,} loop iterations and calls",
            )


_BUDGET: contextvars.ContextVar[_Budget] = contextvars.ContextVar("prompt_render_budget")
_INCLUDES: contextvars.ContextVar[Mapping[str, jinja2.Template]] = contextvars.ContextVar(
    "prompt_render_includes"
)


def _too_large(size: int) -> RenderRefused:
    return RenderRefused(
        "TEMPLATE_TOO_EXPENSIVE",
        f"the template builds a value of {size:,} characters (at most {MAX_CHARS:,})",
    )


def _check_size(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_CHARS:
        raise _too_large(len(value))
    return value


def _check_arguments(args: Iterable[Any], kwargs: Mapping[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT_ARGUMENT:
            raise RenderRefused(
                "TEMPLATE_TOO_EXPENSIVE",
                f"the template passes {value:,} to a call (at most {MAX_INT_ARGUMENT:,})",
            )


def _check_replace(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        matches = len(text) + 1 if old == "" else text.count(old)
        if isinstance(count, int) and count >= 0:
            matches = min(matches, count)
        size = len(text) + matches * (len(new) - len(old))
        if size > MAX_CHARS:
            raise _too_large(size)


def _check_percent(pattern: Any) -> None:
    if isinstance(pattern, str) and _FORMAT_WIDTH.search(pattern):
        raise RenderRefused(
            "TEMPLATE_TOO_EXPENSIVE",
            "the template formats with a width or precision of more than five digits",
        )


def _steps(iterable: Any) -> Iterator[Any]:
    """What every `{% for %}` of a compiled template iterates through."""
    budget = _BUDGET.get()
    for item in iterable:
        budget.spend()
        yield item


def _concat(parts: tuple[Any, ...]) -> str:
    """What every `~` of a compiled template becomes: the join, once its size is known."""
    texts = [str(part) for part in parts]
    size = sum(len(text) for text in texts)
    if size > MAX_CHARS:
        raise _too_large(size)
    return "".join(texts)


def _guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _BUDGET.get().spend()
        _check_arguments(args, kwargs)
        # Filters that take jinja2's evaluation context get it first.
        values = [a for a in args if not isinstance(a, EvalContext | jinja2.runtime.Context)]
        if name == "replace" and len(values) >= 3:
            count = values[3] if len(values) > 3 else kwargs.get("count")
            _check_replace(values[0], values[1], values[2], -1 if count is None else count)
        elif name == "format" and values:
            _check_percent(values[0])
        return _check_size(function(*args, **kwargs))

    return guarded


class _GuardedSandbox(SandboxedEnvironment):
    """jinja2's sandbox plus the budget and size checks of this module."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def wrap_str_format(self, value: Any) -> None:
        # jinja2 hands out a sandboxed `str.format` before asking is_safe_attribute; its widths
        # (`{:>999999999}`) cannot be checked before they allocate, so it is not handed out.
        return None

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in _UNSAFE_STR_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        if operator == "*":
            for sized, times in ((left, right), (right, left)):
                if (
                    isinstance(sized, str | list | tuple)
                    and isinstance(times, int)
                    and len(sized) * max(times, 0) > MAX_CHARS
                ):
                    raise _too_large(len(sized) * times)
        elif operator == "**":
            huge = (
                isinstance(left, int)
                and isinstance(right, int)
                and right > 0
                and max(abs(left), 2).bit_length() * right > 64 * MAX_INT_ARGUMENT
            )
            if huge:
                raise RenderRefused(
                    "TEMPLATE_TOO_EXPENSIVE", "the template raises a number to a huge power"
                )
        elif operator == "%":
            _check_percent(left)
        return _check_size(super().call_binop(context, operator, left, right))

    def call(
        __self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any
    ) -> Any:
        if __obj is not _steps:
            _BUDGET.get().spend()
            _check_arguments(args, kwargs)
            if getattr(__obj, "__name__", "") == "replace" and isinstance(
                getattr(__obj, "__self__", None), str
            ):
                _check_replace(__obj.__self__, *args[:3])
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def get_template(
        self,
        name: str | jinja2.Template,
        parent: str | None = None,
        globals: Any = None,
    ) -> jinja2.Template:
        if isinstance(name, jinja2.Template):
            return name
        found = _INCLUDES.get({}).get(name)
        if found is None:
            raise jinja2.TemplateNotFound(name)
        return found


def _environment() -> _GuardedSandbox:
    environment = _GuardedSandbox(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        auto_reload=False,
        cache_size=0,
    )
    environment.filters = {
        name: _guarded_filter(name, function) for name, function in environment.filters.items()
    }
    environment.globals[_STEPS_NAME] = _steps
    environment.globals[_CONCAT_NAME] = _concat
    return environment


_ENVIRONMENT = _environment()
GLOBAL_NAMES = frozenset(_ENVIRONMENT.globals)
"""Names every template may read without declaring them (`range`, `dict`, `lipsum`, …)."""


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A template checked and compiled once: what it reads and includes, and the code."""

    template: jinja2.Template
    names: frozenset[str]
    """Top-level names it reads that it does not set itself (its variables)."""
    includes: tuple[str, ...]
    """The `name@label` references it includes, in order of appearance."""


def compile_template(source: str) -> CompiledTemplate:
    """Parse, check and compile a template; RenderRefused on bad syntax, on an include that is
    not a constant `name@label`, or on a filter or test that does not exist."""
    try:
        tree = _ENVIRONMENT.parse(source)
    except TemplateSyntaxError as error:
        raise RenderRefused("TEMPLATE_SYNTAX", f"line {error.lineno}: {error.message}") from error
    includes: list[str] = []
    for reference in meta.find_referenced_templates(tree):
        if reference is None or not INCLUDE_REFERENCE.match(reference):
            raise RenderRefused(
                "TEMPLATE_SYNTAX",
                "an include, import or extends must name a prompt as a constant "
                f'"name@label", not {reference!r}',
            )
        if reference not in includes:
            includes.append(reference)
    _refuse_private_access(tree)
    try:
        # Unknown filters and tests surface here, as TemplateAssertionError.
        names = frozenset(meta.find_undeclared_variables(tree)) - GLOBAL_NAMES
        _guard(tree)
        template = _ENVIRONMENT.from_string(tree)
    except TemplateSyntaxError as error:
        raise RenderRefused("TEMPLATE_SYNTAX", f"line {error.lineno}: {error.message}") from error
    return CompiledTemplate(template, names, tuple(includes))


def _refuse_private_access(tree: nodes.Template) -> None:
    """Refuse, before anything runs, a template that names an underscore attribute: the first
    step of every known sandbox escape (`__class__`, `__globals__`, `_TemplateReference__…`).
    Names built at run time are still refused by the sandbox when the template renders."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else None
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value if isinstance(node.arg.value, str) else None
        if name is not None and name.startswith("_"):
            raise RenderRefused(
                "TEMPLATE_UNSAFE",
                f"line {node.lineno}: the template reaches for {name!r}, outside its sandbox",
            )


class _Guard(NodeTransformer):
    """Routes every loop through the step budget and every `~` through the size check."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(
            nodes.Name(_STEPS_NAME, "load"), [node.iter], [], None, None, lineno=node.lineno
        )
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        parts = nodes.Tuple(list(node.nodes), "load", lineno=node.lineno)
        return nodes.Call(
            nodes.Name(_CONCAT_NAME, "load"), [parts], [], None, None, lineno=node.lineno
        )


def _guard(tree: nodes.Template) -> None:
    _Guard().visit(tree)


def render(
    compiled: CompiledTemplate, values: Mapping[str, Any], includes: Mapping[str, jinja2.Template]
) -> str:
    """Render within the budget; RenderRefused for an escape attempt, an exhausted budget, an
    undefined attribute or any runtime error the template causes."""
    budget_token = _BUDGET.set(_Budget())
    includes_token = _INCLUDES.set(includes)
    try:
        size = 0
        parts: list[str] = []
        for part in compiled.template.generate(values):
            size += len(part)
            if size > MAX_CHARS:
                raise _too_large(size)
            parts.append(part)
        return "".join(parts)
    except RenderRefused:
        raise
    except SecurityError as error:
        raise RenderRefused(
            "TEMPLATE_UNSAFE", f"the template tried to reach outside its sandbox: {error}"
        ) from error
    except UndefinedError as error:
        message = str(error.message)
        top_level = _UNDEFINED_NAME.match(message)
        raise RenderRefused(
            "TEMPLATE_RENDER_FAILED", message, top_level.group(1) if top_level else ""
        ) from error
    except jinja2.TemplateNotFound as error:
        raise RenderRefused("TEMPLATE_RENDER_FAILED", f"no included prompt {error.name}") from error
    except RecursionError as error:
        raise RenderRefused("TEMPLATE_TOO_EXPENSIVE", "the template recurses too deeply") from error
    except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as error:
        # A runtime error of the template's own making (1/0, a bad filter argument): the
        # template's fault, so the caller's, never the server's.
        raise RenderRefused("TEMPLATE_RENDER_FAILED", f"{type(error).__name__}: {error}") from error
    finally:
        _INCLUDES.reset(includes_token)
        _BUDGET.reset(budget_token)
