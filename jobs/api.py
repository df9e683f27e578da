"""Jobs and webhooks (DESIGN.md §11): admin only (403 for other members, 404 for strangers)."""

from ninja import Path, Query, Router, Status

from jobs.imports import HEADER_PATTERN
from jobs.schemas import (
    DeliveryPageOut,
    JobFilter,
    JobOut,
    JobPageOut,
    PageFilter,
    WebhookCreatedOut,
    WebhookIn,
    WebhookPageOut,
)
from jobs.selectors import delivery_list, job_get, job_list, webhook_list
from jobs.services import members_import_start, webhook_create, webhook_delete
from orgs.tenancy import OrgMemberAuth

router = Router(auth=OrgMemberAuth(), tags=["jobs"])

_CSV_BODY = {
    "requestBody": {
        "required": True,
        "description": "CSV, UTF-8, header `email,full_name,role,department,supervisor_email,"
        "title`; at most 50,000 rows and 10 MiB.",
        "content": {"text/csv": {"schema": {"type": "string", "pattern": HEADER_PATTERN}}},
    },
    "responses": {
        415: {
            "description": "The body is not text/csv.",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}
            },
        }
    },
}


@router.post("/members/import", response={202: JobOut}, openapi_extra=_CSV_BODY)
def members_import(request, org_slug: Path[str]):
    """Queues an import of members from a CSV file; the job answers how it went (all rows
    land, or none and the job's `error` lists the offending rows with their line numbers)."""
    job = members_import_start(
        org=request.auth.org,
        actor=request.auth,
        data=request.read(),  # not request.body: that stops at MAX_BODY_BYTES (1 MiB)
        content_type=request.content_type,
        request_id=getattr(request, "request_id", ""),
    )
    return Status(202, job)


@router.get("/jobs", response=JobPageOut)
def jobs_list(request, org_slug: Path[str], filters: Query[JobFilter]):
    return job_list(org=request.auth.org, actor=request.auth, **filters.model_dump())


@router.get("/jobs/{id:job_id}", response=JobOut)
def jobs_get(request, org_slug: Path[str], job_id: Path[int]):
    return job_get(org=request.auth.org, actor=request.auth, job_id=job_id)


@router.get("/webhooks", response=WebhookPageOut, tags=["webhooks"])
def webhooks_list(request, org_slug: Path[str], filters: Query[PageFilter]):
    return webhook_list(org=request.auth.org, actor=request.auth, **filters.model_dump())


@router.post("/webhooks", response={201: WebhookCreatedOut}, tags=["webhooks"])
def webhooks_create(request, org_slug: Path[str], payload: WebhookIn):
    """The webhook with its signing `secret`, shown this once."""
    return Status(
        201,
        webhook_create(
            org=request.auth.org, actor=request.auth, url=payload.url, events=payload.events
        ),
    )


@router.delete("/webhooks/{id:webhook_id}", response={204: None}, tags=["webhooks"])
def webhooks_delete(request, org_slug: Path[str], webhook_id: Path[int]):
    webhook_delete(org=request.auth.org, actor=request.auth, webhook_id=webhook_id)
    return Status(204, None)


@router.get("/webhooks/{id:webhook_id}/deliveries", response=DeliveryPageOut, tags=["webhooks"])
def webhooks_deliveries(
    request, org_slug: Path[str], webhook_id: Path[int], filters: Query[PageFilter]
):
    return delivery_list(
        org=request.auth.org, actor=request.auth, webhook_id=webhook_id, **filters.model_dump()
    )
