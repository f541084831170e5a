"""The wire form of domain errors: a service's own errors keep their words; the store's
(which name containers, documents and batch operations) reach a caller only as a code, a
reason and a plain message."""

from __future__ import annotations

from google.rpc import error_details_pb2

from services.kit import DocumentNotFound, EtagMismatch, FieldViolation, InvalidArgument
from services.kit._errors import StoreRefused
from services.kit._interceptors import status_of
from services.kit.store import BatchOp
from services.kit.store._documents import batch_failure


def reason_and_metadata(status: object) -> tuple[str, dict[str, str]]:
    for detail in status.details:  # type: ignore[attr-defined]
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason, dict(info.metadata)
    raise AssertionError("no ErrorInfo")


class TestStatusOf:
    def test_a_service_error_keeps_its_message_and_violations(self) -> None:
        error = InvalidArgument(
            "the title is empty", violations=[FieldViolation("task.title", "required")]
        )
        status = status_of(error, "r1")
        assert status.message == "the title is empty"
        assert any(d.Is(error_details_pb2.BadRequest.DESCRIPTOR) for d in status.details)

    def test_a_failed_batch_operation_says_only_what_happened(self) -> None:
        lost_race = EtagMismatch("document 'T1' in tasks was changed by another writer")
        failure = batch_failure(0, BatchOp("replace", document={"id": "T1"}), lost_race)
        assert "batch operation 0 (replace)" in failure.message, "the log keeps the detail"
        status = status_of(failure, "r1")
        assert status.message == "changed by another writer; read it again and retry"
        assert reason_and_metadata(status) == ("ETAG_MISMATCH", {})

    def test_store_refusals_and_misses_drop_their_text_and_violations(self) -> None:
        refused = StoreRefused(
            "patch path '/x/y' must point below the root",
            violations=[FieldViolation("operations", "at most 100")],
        )
        status = status_of(refused, "r1")
        assert status.message == "the request could not be stored"
        assert not any(d.Is(error_details_pb2.BadRequest.DESCRIPTOR) for d in status.details)
        missing = status_of(DocumentNotFound("no document 'x' in tasks"), "r1")
        assert missing.message == "not found"
        assert reason_and_metadata(missing)[0] == "DOCUMENT_NOT_FOUND"
