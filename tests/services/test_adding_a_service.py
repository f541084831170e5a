"""docs/adding-a-service.md is true: a throwaway domain — one proto package, one service folder,
and the one registry line the doc names — added to a copy of this tree is generated, served by
`coder dev`, routed by the edge, and present in OpenAPI and Envoy's config, without any other
file edited by hand.

The copy is a git repository of its own, so the test can list every file the change touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.cli.processes import free_port
from tests.cli.test_dev import read_until

ROOT = Path(__file__).resolve().parents[2]
GIT = shutil.which("git") or "git"

REGISTRY_LINE = '    Domain("scratchpad", 3023, "quick notes"),\n'

PROTO = """
syntax = "proto3";

package coder.scratchpad.v1;

import "buf/validate/validate.proto";
import "coder/common/v1/access.proto";
import "google/api/annotations.proto";
import "google/api/field_behavior.proto";
import "google/protobuf/timestamp.proto";

// ScratchpadService keeps quick notes of an organization.
service ScratchpadService {
  // CreateNote stores a new note.
  rpc CreateNote(CreateNoteRequest) returns (CreateNoteResponse) {
    option (coder.common.v1.access) = {permission: "scratchpad.note.write"};
    option (google.api.http) = {
      post: "/api/v1/scratchpad/notes"
      body: "note"
    };
  }
  // ListNotes pages through the organization's notes, oldest first.
  rpc ListNotes(ListNotesRequest) returns (ListNotesResponse) {
    option (coder.common.v1.access) = {permission: "scratchpad.note.read"};
    option (google.api.http) = {get: "/api/v1/scratchpad/notes"};
  }
}

// Note is a short text.
message Note {
  // Unique id, assigned by the service.
  string id = 1 [(google.api.field_behavior) = OUTPUT_ONLY];
  // What the note says.
  string text = 2 [
    (google.api.field_behavior) = REQUIRED,
    (buf.validate.field).string = {
      min_len: 1
      max_len: 200
    }
  ];
  // When it was written.
  google.protobuf.Timestamp create_time = 3 [(google.api.field_behavior) = OUTPUT_ONLY];
}

// CreateNoteRequest carries the new note.
message CreateNoteRequest {
  // The note to store.
  Note note = 1 [
    (google.api.field_behavior) = REQUIRED,
    (buf.validate.field).required = true
  ];
}

// CreateNoteResponse carries the stored note.
message CreateNoteResponse {
  // The stored note.
  Note note = 1;
}

// ListNotesRequest asks for a page of notes.
message ListNotesRequest {
  // Most notes to return (default 50, at most 1000).
  int32 page_size = 1 [(buf.validate.field).int32 = {
    gte: 0
    lte: 1000
  }];
  // Token of the page to return, from a previous reply.
  string page_token = 2 [(buf.validate.field).string.max_len = 2048];
}

// ListNotesResponse carries a page of notes.
message ListNotesResponse {
  // The notes of this page.
  repeated Note notes = 1;
  // Token of the next page; empty at the end.
  string next_page_token = 2;
}
"""

FILES = {
    "proto/coder/scratchpad/v1/README.md": "# coder.scratchpad.v1\n\nQuick notes.\n",
    "services/scratchpad/README.md": "# Scratchpad\n\nQuick notes of an organization.\n",
    "services/scratchpad/__init__.py": '''
        """The scratchpad service: an organization's quick notes."""

        from __future__ import annotations

        import grpc

        from coder.scratchpad.v1 import scratchpad_service_pb2_grpc
        from services.kit import Resources, ServiceDefinition
        from services.scratchpad.repository import CONTAINERS, ScratchpadRepository
        from services.scratchpad.service import ScratchpadService
        from services.scratchpad.servicer import ScratchpadServicer


        def register(server: grpc.aio.Server, resources: Resources) -> None:
            repository = ScratchpadRepository(resources.store, resources.relay)
            servicer = ScratchpadServicer(ScratchpadService(repository, resources.clock))
            scratchpad_service_pb2_grpc.add_ScratchpadServiceServicer_to_server(servicer, server)


        SERVICE = ServiceDefinition(
            domain="scratchpad",
            service_names=("coder.scratchpad.v1.ScratchpadService",),
            containers=CONTAINERS,
            register=register,
        )
    ''',
    "services/scratchpad/servicer.py": '''
        """The gRPC adapter of the scratchpad service."""

        from __future__ import annotations

        import grpc

        from coder.scratchpad.v1 import scratchpad_service_pb2 as api
        from coder.scratchpad.v1 import scratchpad_service_pb2_grpc
        from services.scratchpad.service import ScratchpadService


        class ScratchpadServicer(scratchpad_service_pb2_grpc.ScratchpadServiceServicer):
            def __init__(self, service: ScratchpadService) -> None:
                self._service = service

            async def CreateNote(
                self, request: api.CreateNoteRequest, context: grpc.aio.ServicerContext
            ) -> api.CreateNoteResponse:
                return api.CreateNoteResponse(note=await self._service.create(request.note))

            async def ListNotes(
                self, request: api.ListNotesRequest, context: grpc.aio.ServicerContext
            ) -> api.ListNotesResponse:
                notes, token = await self._service.list_notes(request)
                return api.ListNotesResponse(notes=notes, next_page_token=token)
    ''',
    "services/scratchpad/service.py": '''
        """The scratchpad rules: a note belongs to the caller's organization."""

        from __future__ import annotations

        from coder.scratchpad.v1 import scratchpad_service_pb2 as api
        from services.kit import Clock, PageRequest, current_principal, new_id
        from services.scratchpad.events import note_created
        from services.scratchpad.repository import ScratchpadRepository


        class ScratchpadService:
            def __init__(self, repository: ScratchpadRepository, clock: Clock) -> None:
                self._repository = repository
                self._clock = clock

            async def create(self, draft: api.Note) -> api.Note:
                principal = current_principal()
                note = api.Note(id=new_id(), text=draft.text)
                note.create_time.FromDatetime(self._clock.now())
                event = note_created(principal, self._clock, note)
                await self._repository.create(principal.organization_id, note, event)
                return note

            async def list_notes(self, request: api.ListNotesRequest) -> tuple[list[api.Note], str]:
                organization_id = current_principal().organization_id
                page = PageRequest.of(request, organization_id)
                notes, continuation = await self._repository.page(
                    organization_id, page.size, page.continuation
                )
                return notes, page.seal(continuation)
    ''',
    "services/scratchpad/repository.py": '''
        """Every storage query of the scratchpad: container `notes`, by organization."""

        from __future__ import annotations

        from coder.events.v1 import event_pb2
        from coder.scratchpad.v1 import scratchpad_service_pb2 as api
        from services.kit import Repository, fill_timestamp, timestamp_text
        from services.kit.bus import OutboxRelay
        from services.kit.store import BatchOp, ContainerSpec, Document, DocumentStore, Query

        NOTES = "notes"
        CONTAINERS = (ContainerSpec(NOTES, indexes=("/createTime",), outbox=True),)


        def _note(document: Document) -> api.Note:
            note = api.Note(id=document["id"], text=document["text"])
            fill_timestamp(note.create_time, document["createTime"])
            return note


        class ScratchpadRepository(Repository):
            def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
                super().__init__(store, relay)
                self._notes = self.entities(NOTES)

            async def create(
                self, organization_id: str, note: api.Note, event: event_pb2.Event
            ) -> None:
                document = {
                    "id": note.id,
                    "text": note.text,
                    "createTime": timestamp_text(note.create_time),
                }
                await self._notes.commit(organization_id, [BatchOp.create(document)], [event])

            async def page(
                self, organization_id: str, size: int, continuation: str | None
            ) -> tuple[list[api.Note], str | None]:
                query = Query().order_by("createTime").limit(size).after(continuation)
                found = await self._notes.page(query, organization_id)
                return [_note(d) for d in found.items], found.continuation
    ''',
    "services/scratchpad/events.py": '''
        """The events the scratchpad publishes: `scratchpad.note.created`."""

        from __future__ import annotations

        from coder.events.v1 import event_pb2
        from coder.scratchpad.v1 import scratchpad_service_pb2 as api
        from services.kit import Clock, Principal
        from services.kit.bus import EventFactory


        def note_created(principal: Principal, clock: Clock, note: api.Note) -> event_pb2.Event:
            return EventFactory.acting(principal, clock)("scratchpad.note.created", note.id, note)
    ''',
}

COPIED = (
    ".gitignore",
    "proto",
    "services",
    "edge",
    "cli",
    "scripts",
    "gen",
    "envoy",
    "buf.yaml",
    "pyproject.toml",
)


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
    return done.stdout


def copy_tree(target: Path) -> None:
    tracked = subprocess.run(
        [GIT, "ls-files", *COPIED], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in tracked:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, destination)


@pytest.mark.timeout(240)
def test_a_new_domain_is_one_folder_one_proto_package_and_one_line(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    copy_tree(tree)
    git = [GIT, "-c", "user.email=t@example.com", "-c", "user.name=t"]
    env = {
        **os.environ,
        # The copy shadows the installed checkout: its services, edge, cli and gen come first.
        "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'gen' / 'python'}",
        "CODER_DATA_DIR": str(tmp_path / ".coder"),
        "CODER_LOG_LEVEL": "warning",
        "CODER_DEV_TEMPORAL_PORT": str(free_port()),
    }
    env.pop("CODER_STORE_URL", None)
    run([*git, "init", "-q"], tree, env)
    run([*git, "add", "-A"], tree, env)
    run([*git, "commit", "-q", "-m", "as it was"], tree, env)

    # The change a developer makes by hand.
    registry = tree / "services" / "kit" / "_registry.py"
    text = registry.read_text()
    anchor = '    Domain("identity", 3022,'
    assert anchor in text
    registry.write_text(text.replace(anchor, REGISTRY_LINE + anchor, 1))
    (tree / "proto/coder/scratchpad/v1").mkdir(parents=True)
    (tree / "proto/coder/scratchpad/v1/scratchpad_service.proto").write_text(PROTO.lstrip())
    (tree / "services/scratchpad").mkdir()
    for name, source in FILES.items():
        (tree / name).write_text(textwrap.dedent(source).lstrip())
    by_hand = set(run([GIT, "status", "--porcelain", "--untracked-files=all"], tree, env).split())

    # `make gen`: stubs, descriptor set, OpenAPI, Envoy config.
    python = sys.executable
    run([python, "scripts/gen.py"], tree, env)
    run([python, "-m", "cli", "envoy-config"], tree, env)

    changed = {
        line[3:]
        for line in run(
            ["git", "status", "--porcelain", "--untracked-files=all"], tree, env
        ).splitlines()
    }
    edited = {
        path
        for path in changed
        if not path.startswith(("gen/", "envoy/envoy.yaml"))
        and not path.startswith(("proto/coder/scratchpad/", "services/scratchpad/"))
    }
    assert edited == {"services/kit/_registry.py"}, (
        f"files edited besides the two folders: {edited}"
    )
    assert "services/kit/_registry.py" in by_hand
    diff = run([GIT, "diff", "--numstat", "services/kit/_registry.py"], tree, env).split()
    assert diff[:2] == ["1", "0"], "the registry takes exactly one added line"

    openapi = json.loads((tree / "gen/openapi/openapi.json").read_text())
    assert "/api/v1/scratchpad/notes" in openapi["paths"]
    assert "coder.scratchpad.v1.ScratchpadService" in (tree / "envoy/envoy.yaml").read_text()

    # `coder dev` serves it, and the edge routes REST to it.
    port, edge_port = free_port(), free_port()
    server = subprocess.Popen(
        [python, "-m", "cli", "dev", "--port", str(port), "--edge-port", str(edge_port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        password = read_until(server, re.compile(r"password: (\S+)"), within=60)
        health = run(
            [python, "-m", "cli", "health", "--target", f"127.0.0.1:{port}", "--wait", "20"],
            tmp_path,
            env,
        )
        assert "coder.scratchpad.v1.ScratchpadService: SERVING" in health
        edge = f"http://127.0.0.1:{edge_port}"
        with httpx.Client(base_url=edge, timeout=15) as client:
            signed_in = client.post(
                "/auth/login", json={"email": "owner@coder.localhost", "password": password}
            )
            assert signed_in.status_code == 200, signed_in.text
            headers = {"authorization": f"Bearer {signed_in.json()['accessToken']}"}
            created = client.post(
                "/api/v1/scratchpad/notes", json={"text": "buy milk"}, headers=headers
            )
            assert created.status_code == 201, created.text
            listed = client.get("/api/v1/scratchpad/notes", headers=headers)
            assert [n["text"] for n in listed.json()["notes"]] == ["buy milk"]
            refused = client.post("/api/v1/scratchpad/notes", json={"text": ""}, headers=headers)
            assert refused.status_code == 400
            served = client.get("/openapi.json").json()
            assert "/api/v1/scratchpad/notes" in served["paths"]
    finally:
        server.terminate()
        server.communicate(timeout=30)
