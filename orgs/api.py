from ninja import Path, Router

from orgs.schemas import AccountOut, OrgMeOut
from orgs.selectors import account_get
from orgs.tenancy import OrgMemberAuth
from users.auth import BearerAuth

router = Router(auth=OrgMemberAuth(), tags=["members"])
account_router = Router(auth=BearerAuth(), tags=["auth"])


@account_router.get("/me", response=AccountOut)
def account_me(request):
    return account_get(user_id=request.auth.user_id)


@router.get("/me", response=OrgMeOut)
def org_me(request, org_slug: Path[str]):
    member = request.auth
    return {**member.item, "org": {"slug": member.org.slug, "name": member.org.name}}
