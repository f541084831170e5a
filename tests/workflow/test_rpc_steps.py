"""A call step calls a suite RPC for the run's starter: with a delegated token for the person
who started the run (here from an in-process exchanger, as identity attaches when hosted
alongside), and the answer is the step's output. An RPC the suite does not have fails the run
without retries."""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf import json_format

from coder.workflow.v1 import run_pb2
from coder.workflow.v1.workflow_service_pb2_grpc import WorkflowServiceStub
from services.kit import DelegatedToken, DelegationRequest, Resources, TokenExchanger
from tests.fixtures.tokens import AUDIENCE, ISSUER, Metadata, TokenFactory
from tests.workflow.runs import create, reached, start


def _exchanger(token: TokenFactory) -> TokenExchanger:
    async def exchange(request: DelegationRequest) -> DelegatedToken:
        minted = token.key.mint(
            subject=request.subject.id,
            organization_id=request.organization_id,
            issuer=ISSUER,
            audience=AUDIENCE,
            roles=("member",),
        )
        return DelegatedToken(minted, 300)

    return exchange


async def test_an_rpc_step_calls_the_suite_for_the_starter(
    stub: WorkflowServiceStub,
    as_member: Callable[..., Metadata],
    resources: Resources,
    token: TokenFactory,
) -> None:
    resources.peers.attach_exchanger(_exchanger(token))
    steps = [{"name": "t", "timer": {"duration": "1s"}}]
    target = await create(stub, as_member(), steps, name="target")
    steps = [
        {
            "name": "read",
            "call": {
                "rpc": {
                    "method": "coder.workflow.v1.WorkflowService/GetDefinition",
                    "request": {"definitionId": "${input.target}"},
                }
            },
        }
    ]
    reader = await create(stub, as_member(), steps)
    run_id = await start(stub, as_member(), reader, {"target": target})
    run = await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_COMPLETED)
    output = json_format.MessageToDict(run.output)
    assert (output["definition"]["id"], output["definition"]["name"]) == (target, "target")


async def test_an_rpc_the_suite_lacks_fails_the_run(
    stub: WorkflowServiceStub, as_member: Callable[..., Metadata]
) -> None:
    steps = [{"name": "x", "call": {"rpc": {"method": "coder.planning.v1.PlanningService/Nope"}}}]
    definition_id = await create(stub, as_member(), steps)
    run_id = await start(stub, as_member(), definition_id)
    run = await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_FAILED)
    assert "no RPC" in run.error
