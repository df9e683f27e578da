"""The change feed router (DESIGN.md §10)."""

from ninja import Path, Query, Router

from core.fields import fields_parse
from live.schemas import ChangeFeedOut, ChangeFilter
from live.selectors import CHANGE_ITEM_FIELDS, change_feed
from orgs.tenancy import OrgMemberAuth

router = Router(auth=OrgMemberAuth(), tags=["live"])


@router.get(
    "/changes",
    response=ChangeFeedOut,
    exclude_unset=True,
    openapi_extra={
        "responses": {
            "410": {
                "description": "resync_required: `after` is older than the retention or not "
                "a position of this organization",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}
                },
            }
        }
    },
)
def list_changes(request, org_slug: Path[str], filters: Query[ChangeFilter]):
    """The changes after `after` that the caller may see, in seq order; `last_seq` is where
    to resume. `after` omitted: none, and `last_seq` is the head ("from now"). No SQL when
    nothing changed; 410 `resync_required` when `after` is older than the retention."""
    member = request.auth
    return change_feed(
        org=member.org,
        actor=member,
        after=filters.after,
        limit=filters.limit,
        fields=fields_parse(filters.fields, known=CHANGE_ITEM_FIELDS),
    )
