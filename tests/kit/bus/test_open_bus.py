"""`open_bus`: the backend a URL names, with the retry policy of the settings."""

from __future__ import annotations

import pytest

from services.kit._settings import Settings
from services.kit.bus import AmqpBus, MemoryBus, open_bus


def settings(max_retries: int, retry_delay_ms: int) -> Settings:
    return Settings.model_validate(
        {"bus_max_retries": max_retries, "bus_retry_delay_ms": retry_delay_ms}
    )


def test_memory_url_gives_the_in_process_bus() -> None:
    bus = open_bus("memory://", settings=settings(7, 250))

    assert isinstance(bus, MemoryBus)
    assert bus.max_retries == 7
    assert bus.retry_delay == 0.25


@pytest.mark.parametrize("url", ["amqp://guest:guest@127.0.0.1:5672/", "amqps://u:p@mq/vhost"])
def test_amqp_urls_give_the_rabbitmq_bus(url: str) -> None:
    bus = open_bus(url, settings=settings(3, 50))

    assert isinstance(bus, AmqpBus)
    assert bus.max_retries == 3
    assert bus.retry_delay == 0.05


def test_defaults_without_settings() -> None:
    bus = open_bus("memory://")

    assert isinstance(bus, MemoryBus)
    assert bus.max_retries == Settings.model_fields["bus_max_retries"].default
    assert bus.retry_delay == Settings.model_fields["bus_retry_delay_ms"].default / 1000


@pytest.mark.parametrize("url", ["redis://localhost", "kafka://broker:9092", "nonsense"])
def test_unknown_scheme_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported bus URL"):
        open_bus(url)
