"""The identity service's domain rules, one module per concern (the `service.py` role of
DESIGN.md, split because identity is several services' worth of rules). Each class takes the
repositories it needs; the servicer delegates to them."""

from services.identity.service.accounts import AccountService
from services.identity.service.invitations import InvitationService
from services.identity.service.organizations import OrganizationService
from services.identity.service.service_accounts import ServiceAccountService
from services.identity.service.sessions import SessionService
from services.identity.service.teams import TeamService

__all__ = [
    "AccountService",
    "InvitationService",
    "OrganizationService",
    "ServiceAccountService",
    "SessionService",
    "TeamService",
]
