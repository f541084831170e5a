"""The checks a definition passes on save, beyond its proto rules (protovalidate checks those
first): step names unique in the whole definition, every `next` a later step of its own list
(so the flow is acyclic; loops repeat, jumps never go back), every step reachable from the
first of its list, branch and trigger names unique, a schedule with a calendar or an interval
and a known time zone, a sub-workflow that is not the definition itself. Each problem is a
field violation naming the field's path (`definition.steps[2].next`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from coder.workflow.v1 import definition_pb2
from services.kit import DOMAINS, FieldViolation, InvalidArgument

_DOMAIN_NAMES = frozenset(domain.name for domain in DOMAINS)


def check_definition(definition: definition_pb2.Definition) -> None:
    """Raise InvalidArgument with every violation found, or return."""
    violations = list(_steps(definition, definition.steps, "definition.steps", set()))
    violations += list(_triggers(definition.triggers))
    if violations:
        raise InvalidArgument(
            "the definition is not valid: " + "; ".join(v.description for v in violations),
            violations=violations,
            reason="DEFINITION_INVALID",
        )


def _steps(
    definition: definition_pb2.Definition,
    steps: Sequence[definition_pb2.Step],
    path: str,
    seen: set[str],
) -> Iterator[FieldViolation]:
    positions: dict[str, int] = {}
    for index, step in enumerate(steps):
        here = f"{path}[{index}]"
        if step.name in seen:
            yield FieldViolation(f"{here}.name", f"step name {step.name!r} is used twice")
        seen.add(step.name)
        positions.setdefault(step.name, index)
    reachable = _reachable(steps, positions)
    for index, step in enumerate(steps):
        here = f"{path}[{index}]"
        if step.next:
            target = positions.get(step.next)
            if target is None:
                yield FieldViolation(f"{here}.next", f"no step {step.next!r} in this list")
            elif target <= index:
                yield FieldViolation(
                    f"{here}.next",
                    f"{step.next!r} is not after {step.name!r}: jumps go forward only "
                    "(use a loop to repeat)",
                )
        if index not in reachable:
            yield FieldViolation(
                f"{here}", f"step {step.name!r} is never reached: an earlier jump skips it"
            )
        yield from _kind(definition, step, here, seen)


def _reachable(steps: Sequence[definition_pb2.Step], positions: dict[str, int]) -> set[int]:
    """The positions reached from the first step: each step goes to its `next` (a skipped
    step, by its condition, to the one after it) or to the one after it."""
    reached: set[int] = set()
    frontier = [0] if steps else []
    while frontier:
        index = frontier.pop()
        if index in reached or index >= len(steps):
            continue
        reached.add(index)
        step = steps[index]
        target = positions.get(step.next) if step.next else None
        if target is not None and target > index:
            frontier.append(target)
            if step.HasField("when"):
                frontier.append(index + 1)
        else:
            frontier.append(index + 1)
    return reached


def _kind(
    definition: definition_pb2.Definition, step: definition_pb2.Step, here: str, seen: set[str]
) -> Iterator[FieldViolation]:
    kind = step.WhichOneof("kind")
    if kind == "parallel":
        names: set[str] = set()
        for number, branch in enumerate(step.parallel.branches):
            where = f"{here}.parallel.branches[{number}]"
            if branch.name in names:
                yield FieldViolation(f"{where}.name", f"branch name {branch.name!r} is used twice")
            names.add(branch.name)
            yield from _steps(definition, branch.steps, f"{where}.steps", seen)
    elif kind == "loop":
        yield from _steps(definition, step.loop.steps, f"{here}.loop.steps", seen)
    elif kind == "sub_workflow":
        if definition.id and step.sub_workflow.definition_id == definition.id:
            yield FieldViolation(
                f"{here}.sub_workflow.definition_id", "a definition cannot run itself"
            )
    elif kind == "call" and step.call.WhichOneof("target") == "rpc":
        domain = step.call.rpc.method.split(".")[1]
        if domain not in _DOMAIN_NAMES:
            yield FieldViolation(f"{here}.call.rpc.method", f"no domain {domain!r} in the suite")


def _triggers(triggers: Sequence[definition_pb2.Trigger]) -> Iterator[FieldViolation]:
    names: set[str] = set()
    for index, trigger in enumerate(triggers):
        here = f"definition.triggers[{index}]"
        if trigger.name in names:
            yield FieldViolation(f"{here}.name", f"trigger name {trigger.name!r} is used twice")
        names.add(trigger.name)
        kind = trigger.WhichOneof("kind")
        if kind == "event":
            domain = trigger.event.type.split(".")[0]
            if domain not in _DOMAIN_NAMES or domain == "workflow":
                yield FieldViolation(
                    f"{here}.event.type",
                    f"events of {domain!r} cannot trigger a workflow (another suite domain's can)",
                )
        elif kind == "schedule":
            schedule = trigger.schedule
            if not schedule.cron and not schedule.HasField("interval"):
                yield FieldViolation(
                    f"{here}.schedule", "a schedule needs a cron expression or an interval"
                )
            if schedule.time_zone:
                try:
                    ZoneInfo(schedule.time_zone)
                except (ZoneInfoNotFoundError, ValueError):
                    yield FieldViolation(
                        f"{here}.schedule.time_zone", f"unknown time zone {schedule.time_zone!r}"
                    )
            for number, cron in enumerate(schedule.cron):
                if len(cron.split()) not in (5, 6, 7) and not cron.startswith("@"):
                    yield FieldViolation(
                        f"{here}.schedule.cron[{number}]",
                        f"{cron!r} is not a cron expression (five fields)",
                    )
