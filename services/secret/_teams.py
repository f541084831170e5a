"""Team membership, asked of the identity service when a team grant would decide an access."""

from __future__ import annotations

import grpc

from coder.identity.v1 import identity_service_pb2 as identity_api
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from services.kit import Clock, DomainError, Peers, Principal, Unavailable, get_logger
from services.kit.bus import EventFactory

_log = get_logger("coder.secret.teams")

TEAM_MEMBERS_PAGE = 1000


class IdentityTeams:
    """`TeamDirectory` over identity's ListTeamMembers.

    A direct caller's own token is passed on. A platform service's delegated token is bound to
    this service and cannot be passed on, so then the secret service asks identity for its own
    delegated token acting for the same subject (the kit's exchange, audited by identity).
    """

    def __init__(self, peers: Peers, clock: Clock) -> None:
        self._peers = peers
        self._clock = clock

    async def is_member(self, principal: Principal, team_id: str) -> bool:
        try:
            stub = await self._stub(principal)
            token = ""
            while True:
                reply = await stub.ListTeamMembers(
                    identity_api.ListTeamMembersRequest(
                        organization_id=principal.organization_id,
                        team_id=team_id,
                        page_size=TEAM_MEMBERS_PAGE,
                        page_token=token,
                    )
                )
                if any(member.user_id == principal.subject for member in reply.members):
                    return True
                token = reply.next_page_token
                if not token:
                    return False
        except (DomainError, grpc.aio.AioRpcError) as error:
            code = error.code if isinstance(error, DomainError) else error.code()
            if code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED):
                return False
            _log.warning("teams.lookup_failed", team_id=team_id, code=code.name)
            raise Unavailable(
                "team membership cannot be checked now; try again", reason="TEAMS_UNAVAILABLE"
            ) from error

    async def _stub(self, principal: Principal) -> IdentityServiceStub:
        if principal.accepted_by("identity") and not principal.actor:
            return await self._peers.stub(IdentityServiceStub)
        # The event only carries who acts, in which organization; it is never published.
        request = EventFactory.acting(principal, self._clock)(
            "secret.access.checked", principal.subject, identity_api.ListTeamMembersRequest()
        )
        return await self._peers.stub(
            IdentityServiceStub, on_behalf_of=request, scope="identity.team.read"
        )
