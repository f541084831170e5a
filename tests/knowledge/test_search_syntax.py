"""The query syntax, BM25 and reciprocal rank fusion, on their own (`_search`)."""

from __future__ import annotations

import grpc
import pytest

from services.kit import InvalidArgument
from services.knowledge._search import Candidate, ParsedQuery, bm25, fuse, parse_query, snippet


class TestParse:
    def test_every_part_of_the_syntax(self) -> None:
        query = parse_query(
            'Deploy "Roll back" [Env=Prod] [owner] {in_name:Guide} {updated_by:me} '
            "{created_by:u-7} {type:runbook}",
            "u-1",
        )
        assert query == ParsedQuery(
            terms=("deploy",),
            phrases=(("roll", "back"),),
            tags=("env=prod", "owner"),
            in_name=("guide",),
            updated_by="u-1",
            created_by="u-7",
            kind="runbook",
            text="Deploy Roll back",
        )
        assert query.required == ("deploy", "roll", "back")

    def test_an_empty_query_selects_everything(self) -> None:
        assert not parse_query("", "u").ranked

    @pytest.mark.parametrize("query", ["{colour:red}", "{type:memo}", "{in_name}", "[=x]"])
    def test_what_is_refused(self, query: str) -> None:
        with pytest.raises(InvalidArgument) as refused:
            parse_query(query, "u")
        assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in refused.value.violations] == ["query"]


class TestRanking:
    def test_bm25_prefers_more_occurrences_in_shorter_pages(self) -> None:
        query = parse_query("cache", "u")
        ranked = bm25(
            [
                Candidate("long", "cache " + "filler " * 200, 201),
                Candidate("dense", "cache cache cache words", 4),
                Candidate("once", "cache words", 2),
            ],
            query,
            {},
            0,
        )
        assert [id for id, _ in ranked] == ["dense", "once", "long"]

    def test_a_phrase_needs_adjacent_words_in_order(self) -> None:
        query = parse_query('"blue green"', "u")
        ranked = bm25(
            [
                Candidate("adjacent", "switch blue-green now", 4),
                Candidate("apart", "blue then green", 3),
                Candidate("reversed", "green blue", 2),
            ],
            query,
            {"blue": 3, "green": 3},
            10,
        )
        assert [id for id, _ in ranked] == ["adjacent"]

    def test_rarer_words_weigh_more(self) -> None:
        query = parse_query("common rare", "u")
        ranked = bm25(
            [
                Candidate("common-heavy", "common common common rare", 4),
                Candidate("rare-heavy", "common rare rare rare", 4),
            ],
            query,
            {"common": 900, "rare": 3},
            1000,
        )
        assert ranked[0][0] == "rare-heavy"

    def test_fusion_adds_reciprocal_ranks(self) -> None:
        fused = fuse(["a", "b", "c"], ["c", "d"])
        assert [id for id, _ in fused] == ["c", "a", "b", "d"]
        assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)

    def test_a_snippet_starts_near_the_first_match(self) -> None:
        text = "intro " * 100 + "the failover runbook " + "tail " * 100
        piece = snippet(text, parse_query("failover", "u"))
        assert piece.startswith("…") and piece.endswith("…")
        assert "failover" in piece
