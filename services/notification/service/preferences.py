"""Preferences: the organization's defaults, each user's overrides, and what applies to one
person (`Effective`), most specific first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

from google.protobuf.field_mask_pb2 import FieldMask

from coder.notification.v1 import resources_pb2
from services.kit import (
    Clock,
    FieldViolation,
    InvalidArgument,
    apply_update,
    check_etag,
    current_principal,
    read_modify_write,
    update_paths,
)
from services.notification._schedule import zone
from services.notification.repository import NotificationRepository

if TYPE_CHECKING:
    from services.notification.service.lookups import Lookups

WRITABLE = (
    "timezone",
    "locale",
    "quiet_hours",
    "do_not_disturb_until",
    "channels",
    "digest_hour",
    "hourly_cap",
)
OUTPUT_ONLY = ("update_time",)
ORGANIZATION_KEY = "org"
T = TypeVar("T")


def user_key(user_id: str) -> str:
    return f"user:{user_id}"


@dataclass(frozen=True, slots=True)
class Choice:
    enabled: bool
    digest: resources_pb2.Digest.ValueType


@dataclass(frozen=True, slots=True)
class Effective:
    """What applies to one person: their own choices over the organization's defaults."""

    timezone: ZoneInfo
    locale: str
    quiet_hours: resources_pb2.QuietHours | None
    do_not_disturb_until: datetime | None
    digest_hour: int
    hourly_cap: int
    layers: tuple[resources_pb2.Preferences, ...]

    def choice(self, notification_type: str, channel: resources_pb2.Channel.ValueType) -> Choice:
        """On or off, and digested or not, for one type on one channel: the first layer (user,
        then organization) that says so, the exact type before `*`; default on, no digest."""
        enabled: bool | None = None
        digest: resources_pb2.Digest.ValueType | None = None
        for layer in self.layers:
            for wanted in (notification_type, "*"):
                for entry in layer.channels:
                    if entry.event_type != wanted or entry.channel != channel:
                        continue
                    if enabled is None and entry.enabled != resources_pb2.TOGGLE_UNSPECIFIED:
                        enabled = entry.enabled == resources_pb2.TOGGLE_ON
                    if digest is None and entry.digest != resources_pb2.DIGEST_UNSPECIFIED:
                        digest = entry.digest
        return Choice(
            True if enabled is None else enabled,
            resources_pb2.DIGEST_NONE if digest is None else digest,
        )


def _first(values: list[T], empty: T) -> T:
    return next((value for value in values if value != empty), empty)


def effective(layers: tuple[resources_pb2.Preferences, ...]) -> Effective:
    """Merge layers, most specific first."""
    try:
        tz = zone(_first([layer.timezone for layer in layers], ""))
    except ValueError:
        tz = zone("")
    quiet = next((layer.quiet_hours for layer in layers if layer.HasField("quiet_hours")), None)
    dnd = next(
        (
            layer.do_not_disturb_until.ToDatetime(tzinfo=UTC)
            for layer in layers
            if layer.HasField("do_not_disturb_until")
        ),
        None,
    )
    return Effective(
        timezone=tz,
        locale=_first([layer.locale for layer in layers], ""),
        quiet_hours=quiet,
        do_not_disturb_until=dnd,
        digest_hour=_first([layer.digest_hour for layer in layers], 0),
        hourly_cap=_first([layer.hourly_cap for layer in layers], 0),
        layers=layers,
    )


def _check(preferences: resources_pb2.Preferences, field: str) -> None:
    violations: list[FieldViolation] = []
    if preferences.timezone:
        try:
            zone(preferences.timezone)
        except ValueError:
            violations.append(FieldViolation(f"{field}.timezone", "is not an IANA time zone"))
    quiet = preferences.quiet_hours
    if bool(quiet.start) != bool(quiet.end):
        violations.append(
            FieldViolation(f"{field}.quiet_hours", "give both start and end, or neither")
        )
    seen: set[tuple[str, int]] = set()
    for index, entry in enumerate(preferences.channels):
        key = (entry.event_type, entry.channel)
        if key in seen:
            violations.append(
                FieldViolation(f"{field}.channels[{index}]", "repeats an event type and channel")
            )
        seen.add(key)
    if violations:
        raise InvalidArgument("the preferences are invalid", violations=violations)


class PreferenceService:
    """Reads and writes preferences (what applies to a person is read through `Lookups`)."""

    def __init__(self, repository: NotificationRepository, lookups: Lookups, clock: Clock) -> None:
        self._repository = repository
        self._lookups = lookups
        self._clock = clock

    async def get_own(self) -> resources_pb2.Preferences:
        principal = current_principal()
        key = user_key(principal.subject)
        stored = await self._repository.get_preferences(principal.organization_id, key)
        return stored or resources_pb2.Preferences()

    async def get_defaults(self) -> resources_pb2.Preferences:
        organization_id = current_principal().organization_id
        stored = await self._repository.get_preferences(organization_id, ORGANIZATION_KEY)
        return stored or resources_pb2.Preferences()

    async def update_own(
        self, changes: resources_pb2.Preferences, mask: FieldMask
    ) -> resources_pb2.Preferences:
        principal = current_principal()
        return await self._update(
            principal.organization_id, user_key(principal.subject), changes, mask, "preferences"
        )

    async def update_defaults(
        self, changes: resources_pb2.Preferences, mask: FieldMask
    ) -> resources_pb2.Preferences:
        organization_id = current_principal().organization_id
        return await self._update(organization_id, ORGANIZATION_KEY, changes, mask, "defaults")

    async def _update(
        self,
        organization_id: str,
        key: str,
        changes: resources_pb2.Preferences,
        mask: FieldMask,
        field: str,
    ) -> resources_pb2.Preferences:
        paths = update_paths(mask, changes, field, WRITABLE, output_only=OUTPUT_ONLY)

        async def attempt() -> resources_pb2.Preferences:
            stored = await self._repository.get_preferences(organization_id, key)
            current = stored or resources_pb2.Preferences()
            check_etag(changes.etag, current.etag, field)
            updated, _ = apply_update(current, changes, paths)
            _check(updated, field)
            updated.update_time.FromDatetime(self._clock.now())
            return await self._repository.put_preferences(
                organization_id, key, updated, current.etag
            )

        written = await read_modify_write(changes.etag, attempt)
        await self._lookups.changed(organization_id)
        return written
