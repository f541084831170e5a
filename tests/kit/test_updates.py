"""Update masks (AIP-134) and write preconditions."""

from __future__ import annotations

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from coder.ai.v1 import ai_service_pb2
from coder.ai.v1 import resources_pb2 as ai_resources_pb2
from coder.identity.v1 import resources_pb2
from coder.planning.v1 import planning_service_pb2, task_pb2
from services.kit import (
    EtagMismatch,
    InvalidArgument,
    apply_update,
    check_etag,
    check_time_range,
    read_modify_write,
    require_field,
    update_paths,
    validate_message,
)
from services.kit._updates import UNCONDITIONAL_ATTEMPTS

WRITABLE = ("title", "labels", "due_time", "status")


class TestUpdatePaths:
    def test_an_empty_mask_means_the_populated_writable_fields(self) -> None:
        changes = task_pb2.Task(id="t", title="x", labels=["a"])
        assert update_paths(FieldMask(), changes, "task", WRITABLE) == ["title", "labels"]
        changes.due_time.FromSeconds(0)  # set, though zero: a message field has presence
        assert update_paths(FieldMask(), changes, "task", WRITABLE) == [
            "title",
            "labels",
            "due_time",
        ]

    def test_paths_are_kept_in_order_once(self) -> None:
        mask = FieldMask(paths=["labels", "title", "labels"])
        assert update_paths(mask, task_pb2.Task(), "task", WRITABLE) == ["labels", "title"]

    def test_an_enum_named_without_a_value_is_refused(self) -> None:
        mask = FieldMask(paths=["title", "status"])
        with pytest.raises(InvalidArgument) as refused:
            update_paths(mask, task_pb2.Task(title="x"), "task", WRITABLE)
        assert refused.value.reason == "FIELD_UNSET"
        assert [v.field for v in refused.value.violations] == ["task.status"]
        changes = task_pb2.Task(title="x", status=task_pb2.TASK_STATUS_DONE)
        assert update_paths(mask, changes, "task", WRITABLE) == ["title", "status"]

    def test_each_refused_path_is_named(self) -> None:
        mask = FieldMask(paths=["id", "etag", "nonsense", "title"])
        with pytest.raises(InvalidArgument) as refused:
            update_paths(mask, task_pb2.Task(), "task", WRITABLE, output_only={"id"})
        descriptions = [v.description for v in refused.value.violations]
        assert descriptions == [
            "id is output only",
            "etag is not updatable; send it on the task as a precondition",
            "nonsense is not an updatable field of a task",
        ]
        assert {v.field for v in refused.value.violations} == {"update_mask"}
        assert refused.value.reason == "UPDATE_MASK_INVALID"


class TestApplyUpdate:
    def test_masked_fields_are_replaced_whole_and_changes_reported(self) -> None:
        current = task_pb2.Task(id="t", title="a", labels=["x", "y"])
        current.due_time.FromSeconds(100)
        changes = task_pb2.Task(title="a", labels=["z"])
        updated, changed = apply_update(current, changes, ["title", "labels", "due_time"])
        assert list(updated.labels) == ["z"]
        assert not updated.HasField("due_time")
        assert changed == ["labels", "due_time"]
        assert list(current.labels) == ["x", "y"]  # the stored copy is left alone

    def test_unmasked_fields_are_kept(self) -> None:
        current = task_pb2.Task(id="t", title="a", status=task_pb2.TASK_STATUS_DONE)
        updated, changed = apply_update(current, task_pb2.Task(title="b"), ["title"])
        assert (updated.title, updated.status, changed) == (
            "b",
            task_pb2.TASK_STATUS_DONE,
            ["title"],
        )

    def test_map_fields_compare_by_value(self) -> None:
        current = resources_pb2.Organization(id="o", settings={"k": "1"})
        _, changed = apply_update(
            current, resources_pb2.Organization(settings={"k": "1"}), ["settings"]
        )
        assert changed == []
        other, changed = apply_update(
            current, resources_pb2.Organization(settings={"k": "2"}), ["settings"]
        )
        assert (dict(other.settings), changed) == ({"k": "2"}, ["settings"])


class TestPreconditions:
    def test_a_stale_etag_aborts(self) -> None:
        check_etag("", "v2", "task")
        check_etag("v2", "v2", "task")
        with pytest.raises(EtagMismatch):
            check_etag("v1", "v2", "task")

    def test_a_required_field(self) -> None:
        require_field("x", "task.id")
        with pytest.raises(InvalidArgument) as refused:
            require_field("", "task.id")
        assert [v.field for v in refused.value.violations] == ["task.id"]

    def test_times_out_of_range(self) -> None:
        request = planning_service_pb2.ListTasksRequest()
        request.due_before.CopyFrom(Timestamp(seconds=-62135596801))  # before 0001-01-01
        request.due_after.FromSeconds(0)
        with pytest.raises(InvalidArgument) as refused:
            check_time_range(request, ("due_before", "due_after"))
        assert [v.field for v in refused.value.violations] == ["due_before"]


class TestReadModifyWrite:
    async def test_a_lost_race_without_an_etag_is_tried_again(self) -> None:
        calls = 0

        async def attempt() -> str:
            nonlocal calls
            calls += 1
            if calls < 3:
                raise EtagMismatch("someone else wrote first")
            return "written"

        assert await read_modify_write("", attempt) == "written"
        assert calls == 3

    async def test_with_an_etag_a_mismatch_is_the_answer(self) -> None:
        calls = 0

        async def attempt() -> str:
            nonlocal calls
            calls += 1
            raise EtagMismatch("stale")

        with pytest.raises(EtagMismatch):
            await read_modify_write("v1", attempt)
        assert calls == 1

    async def test_the_retries_are_bounded(self) -> None:
        calls = 0

        async def attempt() -> str:
            nonlocal calls
            calls += 1
            raise EtagMismatch("always losing")

        with pytest.raises(EtagMismatch):
            await read_modify_write("", attempt)
        assert calls == UNCONDITIONAL_ATTEMPTS


class TestValidationOfAnUpdate:
    def test_rules_of_fields_the_mask_leaves_alone_do_not_apply(self) -> None:
        request = planning_service_pb2.UpdateTaskRequest(
            task=task_pb2.Task(id="t", status=task_pb2.TASK_STATUS_DONE),
            update_mask=FieldMask(paths=["status"]),
        )
        validate_message(request)  # no title, which a create requires

    @pytest.mark.parametrize("paths", [[], ["name"]])
    def test_the_etag_is_checked_whatever_the_mask(self, paths: list[str]) -> None:
        request = ai_service_pb2.UpdateProviderRequest(
            provider=ai_resources_pb2.Provider(id="p", name="openai", etag="0" * 129),
            update_mask=FieldMask(paths=paths),
        )
        with pytest.raises(InvalidArgument) as refused:
            validate_message(request)
        assert [v.field for v in refused.value.violations] == ["provider.etag"]
