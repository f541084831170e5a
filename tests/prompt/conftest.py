"""A real server hosting the prompt service on SQLite and the in-process bus, once per
session, with a stub and an event recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from coder.prompt.v1 import prompt_service_pb2_grpc
from services.kit import Resources
from services.kit.bus import Subscription
from services.prompt import SERVICE
from tests.conftest import HostFactory
from tests.fixtures.events import EventRecorder
from tests.fixtures.hosts import ServiceHost


@pytest.fixture(scope="session")
async def prompt_host(service_host: HostFactory) -> AsyncIterator[ServiceHost]:
    async with service_host([SERVICE]) as started:
        yield started


@pytest.fixture(scope="session")
def resources(prompt_host: ServiceHost) -> Resources:
    return prompt_host.resources


@pytest.fixture(scope="session")
async def events(resources: Resources) -> EventRecorder:
    """Every prompt event published during the session, as a consumer receives it."""
    recorder = EventRecorder()
    await resources.bus.subscribe(
        Subscription("prompt-tests", "prompt", ("prompt.#",), recorder.record)
    )
    return recorder


@pytest.fixture(scope="session")
def channel(prompt_host: ServiceHost) -> grpc.aio.Channel:
    return prompt_host.channel


@pytest.fixture(scope="session")
def stub(channel: grpc.aio.Channel) -> prompt_service_pb2_grpc.PromptServiceStub:
    return prompt_service_pb2_grpc.PromptServiceStub(channel)
