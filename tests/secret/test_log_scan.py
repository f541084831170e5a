"""The log scan this package's session ends with finds a watched value in any form, from
stdlib logging, structlog or a subprocess's output — and the session's own scan is live."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from tests.fixtures.log_scan import LogScan
from tests.secret.factories import Secrets, unique


class TestLogScan:
    def test_a_watched_value_is_found_in_every_source_and_encoding(self) -> None:
        value = unique("leak") + "\n" + unique("second-line-of-a-pem-like-value")
        for emit in (
            lambda: logging.getLogger("any.library").debug("token %s", value),
            lambda: structlog.get_logger("coder.x").info("event", data=json.dumps(value)),
            lambda: structlog.get_logger("coder.x").info("event", data=repr(value)),
        ):
            scan = LogScan()
            scan.watch(value)
            with scan.installed():
                emit()
            assert scan.leaks(), emit
            with pytest.raises(AssertionError, match="hold watched values"):
                scan.assert_clean()
        scan = LogScan()
        scan.watch(value)
        scan.add_output("server", f"line\n{value.splitlines()[1]}\n")
        assert scan.leaks()

    def test_clean_lines_pass_and_short_values_are_not_watched(self) -> None:
        scan = LogScan()
        scan.watch(unique("never-logged"), "short")
        with scan.installed():
            logging.getLogger("any").warning("a short story")
        scan.assert_clean()

    async def test_the_session_scan_records_the_services_lines(
        self, member: Secrets, log_scan: LogScan
    ) -> None:
        before = len(log_scan.lines)
        await member.create()
        assert len(log_scan.lines) > before
        assert log_scan.watched > 0
