"""Wording of notifications: built-in templates per notification type, channel and locale,
which an organization may override, rendered in a sandbox with the recipient's locale and
time zone.

Templates are Jinja, rendered by a `SandboxedEnvironment` (no attribute access to Python
internals, no imports), so an organization's admin can write them without reaching the
process. Filters: `datetime` and `date` (an RFC 3339 text or a datetime, shown in the
recipient's zone and locale, Babel's `medium` format by default) and `number` (decimal, in the
locale). Text templates autoescape nothing; HTML ones escape every value.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from jinja2 import StrictUndefined, Template, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from coder.notification.v1 import resources_pb2

IN_APP = resources_pb2.CHANNEL_IN_APP
EMAIL = resources_pb2.CHANNEL_EMAIL
DEFAULT_LOCALE = "en"
DIGEST = "notification.digest.sent"
"""The type digests are worded by: one message for many notifications."""


@dataclass(frozen=True, slots=True)
class Wording:
    """A template's three parts (HTML empty: derived from the text)."""

    title: str
    body: str
    html: str = ""


class RenderError(ValueError):
    """A template that does not parse or render with the data given."""


_TASK_ASSIGNED_EN = Wording(
    "{{ actor.name }} assigned you “{{ task.title }}”",
    "{{ actor.name }} assigned you the task “{{ task.title }}”"
    "{% if task.due_time %}, due {{ task.due_time | datetime }}{% endif %}.\n\n{{ link }}",
)
_TASK_ASSIGNED_FR = Wording(
    "{{ actor.name }} vous a confié « {{ task.title }} »",
    "{{ actor.name }} vous a confié la tâche « {{ task.title }} »"
    "{% if task.due_time %}, à rendre le {{ task.due_time | datetime }}{% endif %}.\n\n{{ link }}",
)

BUILT_IN: Mapping[str, Mapping[str, Wording]] = {
    "planning.task.assigned": {"en": _TASK_ASSIGNED_EN, "fr": _TASK_ASSIGNED_FR},
    "planning.task.status_changed": {
        "en": Wording(
            "“{{ task.title }}” is now {{ task.status | replace('TASK_STATUS_', '') | lower }}",
            "{{ actor.name }} moved “{{ task.title }}” from "
            "{{ previous_status | replace('TASK_STATUS_', '') | lower }} to "
            "{{ task.status | replace('TASK_STATUS_', '') | lower }}.\n\n{{ link }}",
        ),
    },
    "identity.member.added": {
        "en": Wording(
            "{{ member.display_name or member.email }} joined the organization",
            "{{ member.display_name or member.email }} joined as {{ member.role }}.\n\n{{ link }}",
        ),
    },
    "identity.team_member.added": {
        "en": Wording(
            "Team change: {{ team_member.display_name or team_member.user_id }} joined a team",
            "{{ actor.name }} added {{ team_member.display_name or team_member.user_id }} "
            "to the team.\n\n{{ link }}",
        ),
    },
    "notification.webhook.disabled": {
        "en": Wording(
            "Webhook endpoint disabled: {{ endpoint.url }}",
            "The endpoint {{ endpoint.url }} was disabled after {{ consecutive_failures }} "
            "failed deliveries in a row (last error: {{ last_error }}). Fix it and enable it "
            "again.\n\n{{ link }}",
        ),
    },
    DIGEST: {
        "en": Wording(
            "{{ count | number }} new notifications",
            "{% for item in items %}- {{ item.title }}\n{% endfor %}\n{{ link }}",
        ),
        "fr": Wording(
            "{{ count | number }} nouvelles notifications",
            "{% for item in items %}- {{ item.title }}\n{% endfor %}\n{{ link }}",
        ),
    },
}

_USAGE_ALERT = Wording(
    "{{ alert.limit_name or 'A limit' }}: {{ alert.level | replace('ALERT_LEVEL_', '') | lower }}",
    "Usage of {{ alert.limit_name or alert.limit_id }} reached "
    "{{ alert.used | default('') }} of {{ alert.limit | default('') }} "
    "({{ alert.level | replace('ALERT_LEVEL_', '') | lower }}).\n\n{{ link }}",
)

SAMPLES: Mapping[str, Mapping[str, Any]] = {
    "planning.task.assigned": {
        "task": {
            "id": "01J0SAMPLETASK",
            "project_id": "01J0SAMPLEPROJECT",
            "title": "Write the release notes",
            "due_time": "2026-06-01T15:00:00Z",
            "status": "TASK_STATUS_TODO",
        },
    },
    "planning.task.status_changed": {
        "task": {"title": "Write the release notes", "status": "TASK_STATUS_DONE"},
        "previous_status": "TASK_STATUS_IN_PROGRESS",
    },
    "identity.member.added": {"member": {"display_name": "Ada", "role": "member"}},
    DIGEST: {"count": 3, "items": [{"title": "First"}, {"title": "Second"}, {"title": "Third"}]},
}


def built_in(notification_type: str, locale: str) -> Wording:
    """The built-in wording of a type in the nearest locale (`fr-CA` → `fr` → `en`)."""
    by_locale = BUILT_IN.get(notification_type)
    if by_locale is None:
        if notification_type.startswith("usage."):
            return _USAGE_ALERT
        return Wording(
            "{{ event.type }}",
            "Event {{ event.type }} ({{ event.id }}).\n\n{{ link }}",
        )
    for candidate in locale_chain(locale):
        if candidate in by_locale:
            return by_locale[candidate]
    return by_locale[DEFAULT_LOCALE]


def locale_chain(locale: str) -> list[str]:
    """`fr-CA` → [`fr-CA`, `fr`, `en`]."""
    chain: list[str] = []
    parts = locale.replace("_", "-").split("-") if locale else []
    for end in range(len(parts), 0, -1):
        chain.append("-".join(parts[:end]))
    if DEFAULT_LOCALE not in chain:
        chain.append(DEFAULT_LOCALE)
    return chain


def babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale.replace("-", "_") or DEFAULT_LOCALE)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE)


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


class Renderer:
    """Renders wordings in one locale and time zone. Get one with `renderer(locale, tz)`: they
    are kept per locale and zone, with the templates they compiled."""

    def __init__(self, locale: str, tz: ZoneInfo) -> None:
        self._locale = babel_locale(locale)
        self._tz = tz
        self._text = self._environment(autoescape=False)
        self._html = self._environment(autoescape=True)
        self._compiled: dict[tuple[bool, str], Template] = {}

    def _template(self, source: str, *, markup: bool) -> Template:
        key = (markup, source)
        found = self._compiled.get(key)
        if found is None:
            if len(self._compiled) >= COMPILED_PER_RENDERER:
                self._compiled.clear()
            environment = self._html if markup else self._text
            found = self._compiled[key] = environment.from_string(source)
        return found

    def _environment(self, *, autoescape: bool) -> SandboxedEnvironment:
        env = SandboxedEnvironment(autoescape=autoescape, undefined=_Lenient)
        env.filters["datetime"] = self._datetime
        env.filters["date"] = self._date
        env.filters["number"] = self._number
        return env

    def _datetime(self, value: Any, form: str = "medium") -> str:
        moment = _moment(value)
        if moment is None:
            return str(value)
        return format_datetime(moment, form, tzinfo=self._tz, locale=self._locale)

    def _date(self, value: Any, form: str = "medium") -> str:
        moment = _moment(value)
        if moment is None:
            return str(value)
        return format_date(moment.astimezone(self._tz).date(), form, locale=self._locale)

    def _number(self, value: Any) -> str:
        try:
            return format_decimal(value, locale=self._locale)
        except (TypeError, ValueError, ArithmeticError):
            return str(value)

    def render(self, wording: Wording, data: Mapping[str, Any]) -> resources_pb2.Rendered:
        """The wording rendered with `data`; RenderError when it does not parse or render."""
        try:
            title = self._template(wording.title, markup=False).render(data).strip()
            body = self._template(wording.body, markup=False).render(data).strip()
            if wording.html:
                markup = self._template(wording.html, markup=True).render(data)
            else:
                markup = _html_of(body)
        except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as failed:
            raise RenderError(str(failed)) from failed
        return resources_pb2.Rendered(title=" ".join(title.split()), body=body, html=markup)


class _Lenient(Undefined):
    """A missing value renders empty (an event without a due date), as in Jinja's default;
    calling or indexing into one still fails like `StrictUndefined` does."""

    __slots__ = ()
    __call__ = StrictUndefined.__call__
    __getitem__ = StrictUndefined.__getitem__


COMPILED_PER_RENDERER = 512


@functools.lru_cache(maxsize=256)
def renderer(locale: str, tz: ZoneInfo) -> Renderer:
    """The renderer of a locale and zone (kept: compiling templates is the costly part)."""
    return Renderer(locale, tz)


def _html_of(text: str) -> str:
    paragraphs = [html.escape(part).replace("\n", "<br>") for part in text.split("\n\n") if part]
    return "".join(f"<p>{part}</p>" for part in paragraphs)


def check(wording: Wording) -> None:
    """RenderError when the wording does not parse."""
    env = SandboxedEnvironment()
    for part in (wording.title, wording.body, wording.html):
        try:
            env.parse(part)
        except TemplateError as failed:
            raise RenderError(str(failed)) from failed
