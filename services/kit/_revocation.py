"""Revocation that takes effect now: revoked sessions and subjects, mirrored in every process.

Access tokens live up to `CODER_TOKEN_MAX_SECONDS` (15 minutes), and every service verifies them
itself without asking identity. So that a logout, a removed member, a changed role or a disabled
service account does not wait for those minutes, each process keeps a mirror of what is
revoked, and its `TokenVerifier` refuses a matching token with a dictionary lookup (no network
on the hot path, also for a token it had already verified and cached). Two kinds of facts:

- a **session** is revoked: every token carrying its `sid` is refused;
- a **subject** (user or service account) is revoked in one organization **before** a time:
  its tokens there issued earlier (`iat_ms`) are refused, delegated tokens acting for it
  included, while tokens issued after the change (the new role, a re-added member) pass.

Each fact matters only until the last token it can refuse has expired, so it is kept for the
longest token lifetime plus the verifier's leeway after the change, then forgotten.

How a fact reaches every process (docs/auth.md, "Revocation"):
1. identity commits the change with its event through the outbox, then `record`s the event:
   the fact enters its own mirror at once and the shared set in the cache backend (an
   `ExpiringSet`: Redis in distributed mode, memory embedded);
2. the outbox relay publishes the event; every process's transient consumer of identity's
   events (`Revocations.start`) puts the fact in that process's mirror;
3. every process loads the shared set when it starts (it is not ready before) and again every
   `CODER_REVOCATION_SYNC_SECONDS`, which covers a process that missed a delivery while the
   broker was away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coder.events.v1 import event_pb2
from coder.identity.v1 import events_pb2
from services.kit._clock import Clock
from services.kit._errors import Unavailable
from services.kit._observability import get_logger
from services.kit.bus import Consumer, EventBus, Subscription, transient_consumer_name
from services.kit.cache import ExpiringSet

if TYPE_CHECKING:
    from services.kit._auth import Principal

_log = get_logger("coder.revocation")

SHARED_SET = "revocations"
"""The key of the shared `ExpiringSet` holding every live revocation."""

SESSION_REVOKED = "identity.session.revoked"
MEMBER_REMOVED = "identity.member.removed"
MEMBER_ROLE_CHANGED = "identity.member.role_changed"
SERVICE_ACCOUNT_DISABLED = "identity.service_account.disabled"
SERVICE_ACCOUNT_DELETED = "identity.service_account.deleted"
REVOKING_EVENTS = (
    SESSION_REVOKED,
    MEMBER_REMOVED,
    MEMBER_ROLE_CHANGED,
    SERVICE_ACCOUNT_DISABLED,
    SERVICE_ACCOUNT_DELETED,
)
"""The identity events that revoke tokens (each process subscribes to these)."""

_FIRST_SYNC_RETRY_SECONDS = 1.0
_SWEEP_FLOOR = 1024


@dataclass(frozen=True, slots=True)
class Revocation:
    """One revocation fact: the session `session_id`, or the tokens of `subject` in
    `organization_id` issued before `at` (epoch seconds). `at` is when it was decided."""

    at: float
    session_id: str = ""
    organization_id: str = ""
    subject: str = ""

    @classmethod
    def of_session(cls, session_id: str, at: float) -> Revocation:
        return cls(at=at, session_id=session_id)

    @classmethod
    def of_subject(cls, organization_id: str, subject: str, at: float) -> Revocation:
        return cls(at=at, organization_id=organization_id, subject=subject)

    def encode(self) -> str:
        """The fact as a member of the shared set."""
        at = round(self.at * 1000)
        if self.session_id:
            return json.dumps(["session", self.session_id, at], separators=(",", ":"))
        return json.dumps(
            ["subject", self.organization_id, self.subject, at], separators=(",", ":")
        )

    @classmethod
    def decode(cls, text: str) -> Revocation | None:
        """The fact a shared-set member holds, or None when it is not one."""
        try:
            parts: Any = json.loads(text)
        except ValueError:
            return None
        match parts:
            case ["session", str(session_id), int(at)] if session_id:
                return cls.of_session(session_id, at / 1000)
            case ["subject", str(organization), str(subject), int(at)] if organization and subject:
                return cls.of_subject(organization, subject, at / 1000)
        return None


def revocations_of(event: event_pb2.Event) -> list[Revocation]:
    """The revocations an identity event stands for; none for every other event."""
    at = event.time.ToNanoseconds() / 1e9
    if event.type == SESSION_REVOKED:
        session = events_pb2.SessionChanged()
        if event.data.Unpack(session) and session.session.id:
            return [Revocation.of_session(session.session.id, at)]
    elif event.type in (MEMBER_REMOVED, MEMBER_ROLE_CHANGED):
        member = events_pb2.MemberChanged()
        if event.data.Unpack(member) and member.member.organization_id and member.member.user_id:
            return [Revocation.of_subject(member.member.organization_id, member.member.user_id, at)]
    elif event.type in (SERVICE_ACCOUNT_DISABLED, SERVICE_ACCOUNT_DELETED):
        changed = events_pb2.ServiceAccountChanged()
        if event.data.Unpack(changed):
            account = changed.service_account
            if account.organization_id and account.id:
                return [Revocation.of_subject(account.organization_id, account.id, at)]
    return []


class Revocations:
    """This process's mirror of what is revoked, and how it is kept current.

    `refusal` and `revokes` are the hot path: dictionary lookups, never I/O. The mirror is fed
    by `record` (identity, right after a change), by the process's transient consumer of
    identity's events and by loading the shared set; every fact is kept `retention_seconds`
    after it was decided (the longest token lifetime plus the leeway), measured on `clock`.
    """

    def __init__(
        self,
        shared: ExpiringSet,
        *,
        clock: Clock,
        retention_seconds: float,
        sync_seconds: float = 10.0,
    ) -> None:
        if retention_seconds <= 0 or sync_seconds <= 0:
            raise ValueError("retention and sync intervals must be positive seconds")
        self._shared = shared
        self._clock = clock
        self._retention = retention_seconds
        self._sync_seconds = sync_seconds
        self._sessions: dict[str, float] = {}  # session id → forget at (clock.monotonic)
        self._subjects: dict[tuple[str, str], tuple[float, float]] = {}  # → (before, forget at)
        self._sweep_at = _SWEEP_FLOOR
        self._synced = False
        self._consumer: Consumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # --- the hot path --------------------------------------------------------------------------

    def refusal(self, principal: Principal) -> str:
        """Why the principal's token is revoked ('' when it is not)."""
        if principal.session_id and principal.session_id in self._sessions:
            return "its session has ended"
        if self.revokes(principal.organization_id, principal.subject, principal.issued_at):
            return "it was issued before its subject's access in the organization changed"
        return ""

    def revokes(self, organization_id: str, subject: str, issued_at: float) -> bool:
        """Whether a token of `subject` in `organization_id` issued at `issued_at` is revoked."""
        found = self._subjects.get((organization_id, subject))
        return found is not None and issued_at < found[0]

    # --- feeding the mirror --------------------------------------------------------------------

    def learn(self, revocation: Revocation, seconds_left: float | None = None) -> None:
        """Put a fact in this process's mirror for `seconds_left` (default: what is left of
        its retention by the clock); a fact already past its retention is ignored."""
        if seconds_left is None:
            seconds_left = revocation.at + self._retention - self._clock.now().timestamp()
        if seconds_left <= 0:
            return
        now = self._clock.monotonic()
        forget_at = now + seconds_left
        if revocation.session_id:
            self._sessions[revocation.session_id] = max(
                self._sessions.get(revocation.session_id, 0.0), forget_at
            )
        else:
            key = (revocation.organization_id, revocation.subject)
            before, until = self._subjects.get(key, (0.0, 0.0))
            self._subjects[key] = (max(before, revocation.at), max(until, forget_at))
        if len(self._sessions) + len(self._subjects) > self._sweep_at:
            self._sweep(now)

    async def record(self, events: Iterable[event_pb2.Event]) -> None:
        """Take effect now for the revoking `events` a change just committed (identity calls
        this after the write): in this process's mirror, and in the shared set for every
        process that loads it. A cache outage is logged, not raised: the change is made, and
        its events still reach every process through the bus (and the shared set through
        identity's consumer, `share`)."""
        for event in events:
            try:
                await self.share(event)
            except Unavailable as error:
                _log.warning("revocation.share_failed", event_id=event.id, error=str(error))

    async def share(self, event: event_pb2.Event) -> None:
        """Put what `event` revokes in the mirror and the shared set; `Unavailable` when the
        cache backend does not answer. Identity's durable consumer of its own events runs
        this too, so the shared set gets the fact even when the process that made the
        change stopped before recording it."""
        for revocation in revocations_of(event):
            self.learn(revocation)
            left = revocation.at + self._retention - self._clock.now().timestamp()
            if left > 0:
                await self._shared.add(SHARED_SET, revocation.encode(), ttl=left)

    async def on_event(self, event: event_pb2.Event) -> None:
        """The handler of the process's transient consumer: mirror what the event revokes."""
        for revocation in revocations_of(event):
            self.learn(revocation)

    async def sync(self) -> None:
        """Load every live fact of the shared set into the mirror; `Unavailable` when the
        cache backend does not answer."""
        members = await self._shared.members(SHARED_SET)
        for member, seconds_left in members.items():
            revocation = Revocation.decode(member)
            if revocation is not None:
                self.learn(revocation, seconds_left)
        self._sweep(self._clock.monotonic())
        self._synced = True

    def _sweep(self, now: float) -> None:
        self._sessions = {s: at for s, at in self._sessions.items() if at > now}
        self._subjects = {k: v for k, v in self._subjects.items() if v[1] > now}
        self._sweep_at = max(_SWEEP_FLOOR, 2 * (len(self._sessions) + len(self._subjects)))

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self, bus: EventBus) -> None:
        """Subscribe this process's transient consumer to identity's revoking events, then
        load the shared set (first, so that nothing falls between the two), and keep
        reloading it. A cache outage at start-up does not fail: `ping` reports the process
        not ready until a load succeeds."""
        self._consumer = await bus.subscribe(
            Subscription(
                transient_consumer_name("kit.revocations"),
                "identity",
                REVOKING_EVENTS,
                self.on_event,
                transient=True,
            )
        )
        with contextlib.suppress(Unavailable):
            await self.sync()
        self._task = asyncio.create_task(self._keep_synced(), name="revocations.sync")

    async def _keep_synced(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._sync_seconds if self._synced else _FIRST_SYNC_RETRY_SECONDS)
            try:
                await self.sync()
            except Unavailable as error:
                _log.warning("revocation.sync_failed", error=str(error))

    async def ping(self) -> None:
        """Raise `Unavailable` until the shared set has been loaded once: before that, the
        process would accept tokens revoked shortly before it started."""
        if not self._synced:
            raise Unavailable(
                "the revoked sessions have not been loaded yet", reason="REVOCATIONS_NOT_LOADED"
            )

    async def stop(self) -> None:
        """Stop reloading and stop the consumer (its queue goes with it)."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
