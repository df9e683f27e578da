"""The Django admin stays usable at tens of thousands of members: a changelist costs the same
number of queries for 5 rows as for 50, and the membership form and autocomplete answer."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orgs.models import AuditEvent, Membership
from orgs.tests.factories import DepartmentFactory, MembershipFactory, OrganizationFactory


def _fill(org, count: int) -> None:
    """`count` members in `org`, each in a department and supervised by the first one."""
    department = DepartmentFactory(org=org)
    boss = Membership.objects.filter(org=org).order_by("id").first()
    for _ in range(count - Membership.objects.filter(org=org).count()):
        boss = boss or MembershipFactory(org=org, department=department)
        MembershipFactory(org=org, department=department, supervisor=boss)
    AuditEvent.objects.bulk_create(
        AuditEvent(org=org, actor=boss, action="member.create", entity_type="member", entity_id=i)
        for i in range(count)
    )


def _get(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return response


# Each changelist costs, for any number of rows:
#   1 session, 2 the logged-in superuser, 3 COUNT(*) of the filtered result for the paginator
#   (show_full_result_count=False: no second COUNT of the whole table), 4 the page itself:
CHANGELISTS = {
    # 4 memberships joined with user, org, department, supervisor and the supervisor's user
    "orgs_membership": 4,
    # 4 departments joined with org
    "orgs_department": 4,
    # 4 organizations
    "orgs_organization": 4,
    # 4 audit events joined with org and actor (fixed entity-type filter: no SELECT DISTINCT)
    "orgs_auditevent": 4,
}


@pytest.mark.parametrize("changelist", sorted(CHANGELISTS))
def test_a_changelist_costs_the_same_for_5_and_50_members(
    superuser_client, changelist, django_assert_num_queries
):
    org = OrganizationFactory()
    url = reverse(f"admin:{changelist}_changelist")
    _fill(org, 5)
    with django_assert_num_queries(CHANGELISTS[changelist]):
        first = _get(superuser_client, url)
    _fill(org, 50)
    with django_assert_num_queries(CHANGELISTS[changelist]):
        second = _get(superuser_client, url)
    if changelist == "orgs_membership":
        assert second.context["cl"].result_count > first.context["cl"].result_count


def test_the_membership_change_form_answers(superuser_client):
    org = OrganizationFactory()
    _fill(org, 5)
    member = Membership.objects.filter(org=org, supervisor__isnull=False).first()

    response = _get(superuser_client, reverse("admin:orgs_membership_change", args=[member.pk]))

    assert member.user.email in response.content.decode()


def test_the_audit_event_admin_is_read_only(superuser_client):
    org = OrganizationFactory()
    _fill(org, 5)
    event = AuditEvent.objects.filter(org=org).first()

    assert superuser_client.get(reverse("admin:orgs_auditevent_add")).status_code == 403
    response = _get(superuser_client, reverse("admin:orgs_auditevent_change", args=[event.pk]))
    assert b'name="_save"' not in response.content
    delete = superuser_client.post(reverse("admin:orgs_auditevent_delete", args=[event.pk]))
    assert delete.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.parametrize("field", ["user", "org", "department", "supervisor"])
def test_the_membership_autocompletes_answer(superuser_client, field):
    org = OrganizationFactory(slug="autocomplete-org")
    _fill(org, 5)
    member = Membership.objects.filter(org=org).select_related("user").first()
    term = {
        "user": member.user.email,
        "org": "autocomplete",
        "department": member.department.name,
        "supervisor": member.user.email,
    }[field]

    response = _get(
        superuser_client,
        reverse("admin:autocomplete")
        + f"?app_label=orgs&model_name=membership&field_name={field}&term={term}",
    )

    assert len(response.json()["results"]) >= 1
