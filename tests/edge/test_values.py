"""edge.values: JSON values a field cannot hold are refused before ParseDict reads them."""

from __future__ import annotations

from typing import Any

import pytest

from coder.embeddings.v1 import embeddings_service_pb2
from edge.errors import EdgeRefusal
from edge.values import check_message

SEARCH = embeddings_service_pb2.SearchRequest.DESCRIPTOR


class TestNumbers:
    @pytest.mark.parametrize(
        "document", [{"minScore": False}, {"minScore": True}, {"k": True}, {"k": False}]
    )
    def test_a_boolean_is_no_number(self, document: dict[str, Any]) -> None:
        with pytest.raises(EdgeRefusal) as refused:
            check_message(document, SEARCH)
        assert "not a boolean" in refused.value.status.message

    @pytest.mark.parametrize("document", [{"minScore": 0.5}, {"minScore": "0.5"}, {"k": 10}])
    def test_numbers_pass(self, document: dict[str, Any]) -> None:
        check_message(document, SEARCH)
