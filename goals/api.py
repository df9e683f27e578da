from ninja import Router

from orgs.tenancy import OrgMemberAuth

router = Router(auth=OrgMemberAuth(), tags=["goals"])
