from coder.planning.v1 import project_pb2 as _project_pb2
from coder.planning.v1 import task_pb2 as _task_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProjectChanged(_message.Message):
    __slots__ = ("project", "changed_fields")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    project: _project_pb2.Project
    changed_fields: _field_mask_pb2.FieldMask
    def __init__(self, project: _Optional[_Union[_project_pb2.Project, _Mapping]] = ..., changed_fields: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class TaskChanged(_message.Message):
    __slots__ = ("task", "changed_fields", "previous_status")
    TASK_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATUS_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    changed_fields: _field_mask_pb2.FieldMask
    previous_status: _task_pb2.TaskStatus
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ..., changed_fields: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., previous_status: _Optional[_Union[_task_pb2.TaskStatus, str]] = ...) -> None: ...
