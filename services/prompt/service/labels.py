"""Labels: moving them (a rollback is a move to an older version), removing them, and the
organization's policy of protected labels.

Who may call MoveLabel is the access rule's business (`prompt.label.write`); whether the label
is protected is data, so that one check is here: a protected label needs the caller to hold
`prompt.protected_label.write` under the policy the proto declares for it (admin-only: owners,
admins and custom roles that name it) — the permission of UpdateLabelPolicy.
"""

from __future__ import annotations

from coder.prompt.v1 import prompt_pb2
from services.kit import (
    Clock,
    DocumentExists,
    EtagMismatch,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    check_etag,
    current_principal,
    declared_policies,
    read_modify_write,
    time_text,
)
from services.kit.cache import LockManager
from services.prompt._mapping import LabelState
from services.prompt.events import PromptEvents
from services.prompt.repository import PromptRepositories
from services.prompt.service.prompts import DEFAULT_PROTECTED, PromptCatalog, includes_lock

LATEST = "latest"
PROTECTED_PERMISSION = "prompt.protected_label.write"


def require_protected_permission(label: str, protected: frozenset[str]) -> None:
    """PERMISSION_DENIED (LABEL_PROTECTED) when `label` is protected and the caller lacks
    `prompt.protected_label.write`."""
    if label not in protected:
        return
    if current_principal().can(PROTECTED_PERMISSION, declared_policies()[PROTECTED_PERMISSION]):
        return
    raise PermissionDenied(
        f"label {label} is protected: changing it needs {PROTECTED_PERMISSION}",
        reason="LABEL_PROTECTED",
        metadata={"label": label, "permission": PROTECTED_PERMISSION},
    )


def refuse_latest(label: str, action: str) -> None:
    if label == LATEST:
        raise InvalidArgument(
            f"the label latest cannot be {action} by hand: it follows the newest version",
            reason="LABEL_RESERVED",
            violations=[FieldViolation("label", "latest is maintained by the service")],
        )


class LabelService:
    """MoveLabel, RemoveLabel, GetLabelPolicy and UpdateLabelPolicy."""

    def __init__(
        self,
        repositories: PromptRepositories,
        catalog: PromptCatalog,
        clock: Clock,
        locks: LockManager,
    ) -> None:
        self._repositories = repositories
        self._prompts = repositories.prompts
        self._catalog = catalog
        self._clock = clock
        self._locks = locks

    async def move(self, prompt_id: str, label: str, number: int, etag: str) -> prompt_pb2.Prompt:
        """Point `label` at version `number`; unchanged (and no event) when it already does."""
        refuse_latest(label, "moved")
        principal = current_principal()
        organization_id = principal.organization_id
        protected = await self._catalog.protected(organization_id)

        async def attempt() -> prompt_pb2.Prompt:
            state = await self._catalog.own_prompt(organization_id, prompt_id)
            check_etag(etag, state.etag, "prompt")
            require_protected_permission(label, protected)
            if await self._prompts.version(organization_id, prompt_id, number) is None:
                raise NotFound(
                    f"prompt {state.name} has no version {number}",
                    reason="VERSION_NOT_FOUND",
                    violations=[FieldViolation("version", f"no version {number}")],
                )
            current = state.labels.get(label)
            if current is not None and current.version == number:
                return self._catalog.proto(state, protected)
            now = time_text(self._clock.now())
            before = current.version if current else 0
            labels = {**state.labels, label: LabelState(number, before, principal.subject, now)}
            changed = state.changed(labels=labels, update_time=now)
            event = PromptEvents.acting(principal, self._clock).label_moved(
                self._catalog.proto(changed, protected), label, before, number
            )
            stored = await self._prompts.replace_prompt(changed, state.etag, [event])
            return self._catalog.proto(stored, protected)

        return await read_modify_write(etag, attempt)

    async def remove(self, prompt_id: str, label: str, etag: str) -> prompt_pb2.Prompt:
        """Take `label` off; refused while a prompt includes this one by it, or while an
        experiment runs on it."""
        refuse_latest(label, "removed")
        principal = current_principal()
        organization_id = principal.organization_id
        protected = await self._catalog.protected(organization_id)

        async def attempt() -> prompt_pb2.Prompt:
            state = await self._catalog.own_prompt(organization_id, prompt_id)
            check_etag(etag, state.etag, "prompt")
            current = state.labels.get(label)
            if current is None:
                raise NotFound(
                    f"prompt {state.name} has no label {label}", reason="LABEL_NOT_FOUND"
                )
            require_protected_permission(label, protected)
            if label in state.experiments:
                running = state.experiments[label].id
                raise FailedPrecondition(
                    f"experiment {running} runs on label {label}; stop it first",
                    reason="EXPERIMENT_RUNNING",
                )
            if await self._prompts.label_included(organization_id, state.name, label):
                raise FailedPrecondition(
                    f"a prompt includes {state.name}@{label}; change it first",
                    reason="LABEL_INCLUDED",
                )
            now = time_text(self._clock.now())
            labels = {name: value for name, value in state.labels.items() if name != label}
            changed = state.changed(labels=labels, update_time=now)
            event = PromptEvents.acting(principal, self._clock).label_moved(
                self._catalog.proto(changed, protected), label, current.version, 0
            )
            stored = await self._prompts.replace_prompt(changed, state.etag, [event])
            return self._catalog.proto(stored, protected)

        # Under the includes lock, so no version that includes the label lands between the
        # check and the removal.
        async with includes_lock(self._locks, organization_id):
            return await read_modify_write(etag, attempt)

    async def policy(self) -> prompt_pb2.LabelPolicy:
        organization_id = current_principal().organization_id
        stored = await self._prompts.label_policy(organization_id)
        return stored or prompt_pb2.LabelPolicy(protected_labels=DEFAULT_PROTECTED)

    async def update_policy(self, policy: prompt_pb2.LabelPolicy) -> prompt_pb2.LabelPolicy:
        """Replace the protected labels (sorted, as stored)."""
        if LATEST in policy.protected_labels:
            raise InvalidArgument(
                "latest cannot be protected: nobody moves it by hand",
                reason="LABEL_RESERVED",
                violations=[FieldViolation("policy.protected_labels", "latest is not allowed")],
            )
        organization_id = current_principal().organization_id
        labels = sorted(policy.protected_labels)

        async def attempt() -> prompt_pb2.LabelPolicy:
            stored = await self._prompts.label_policy(organization_id)
            check_etag(policy.etag, stored.etag if stored else "", "label policy")
            now = time_text(self._clock.now())
            try:
                return await self._prompts.save_label_policy(
                    organization_id, labels, now, stored.etag if stored else None
                )
            except DocumentExists as lost:
                raise EtagMismatch("the label policy changed since it was read") from lost

        return await read_modify_write(policy.etag, attempt)
