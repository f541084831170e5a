"""Page requests: sizes clamped, tokens bound to their listing and filters."""

from __future__ import annotations

import grpc
import pytest

from coder.planning.v1 import planning_service_pb2 as api
from services.kit import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, InvalidArgument, PageRequest


class TestPageRequest:
    @pytest.mark.parametrize(
        ("asked", "size"), [(0, DEFAULT_PAGE_SIZE), (7, 7), (MAX_PAGE_SIZE + 1, MAX_PAGE_SIZE)]
    )
    def test_sizes_are_clamped(self, asked: int, size: int) -> None:
        assert PageRequest.of(api.ListProjectsRequest(page_size=asked), "org").size == size

    def test_a_sealed_token_opens_for_the_same_listing(self) -> None:
        request = api.ListTasksRequest(project_id="p", label="x", page_size=5)
        token = PageRequest.of(request, "org").seal("continuation-1")
        again = api.ListTasksRequest(project_id="p", label="x", page_size=9, page_token=token)
        assert PageRequest.of(again, "org").continuation == "continuation-1"

    def test_the_end_of_a_listing_has_no_token(self) -> None:
        assert PageRequest.of(api.ListProjectsRequest(), "org").seal(None) == ""

    @pytest.mark.parametrize(
        "replayed",
        [
            api.ListTasksRequest(project_id="p", label="y"),  # other filters
            api.ListTasksRequest(project_id="q", label="x"),  # another parent
        ],
    )
    def test_a_token_does_not_open_for_other_filters(self, replayed: api.ListTasksRequest) -> None:
        token = PageRequest.of(api.ListTasksRequest(project_id="p", label="x"), "org").seal("c")
        replayed.page_token = token
        with pytest.raises(InvalidArgument) as refused:
            PageRequest.of(replayed, "org")
        assert refused.value.reason == "PAGE_TOKEN_INVALID"
        assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT

    def test_a_token_does_not_open_in_another_organization_or_listing(self) -> None:
        token = PageRequest.of(api.ListProjectsRequest(), "org-a").seal("c")
        with pytest.raises(InvalidArgument):
            PageRequest.of(api.ListProjectsRequest(page_token=token), "org-b")
        with pytest.raises(InvalidArgument):
            PageRequest.of(api.ListTasksRequest(page_token=token), "org-a")

    @pytest.mark.parametrize("garbage", ["%%%", "c2hvcnQ", "A" * 40])
    def test_garbage_is_refused(self, garbage: str) -> None:
        with pytest.raises(InvalidArgument):
            PageRequest.of(api.ListProjectsRequest(page_token=garbage), "org")
