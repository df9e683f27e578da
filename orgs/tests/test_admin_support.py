"""The admin for support staff, orgs side (DESIGN.md §13): the Support role, the member and
token support actions (through the services, audited with the staff user as actor, also on
GET /audit), the refusals the API would make, readable labels, the org filter, the audit
log's search and entity filter, and totals that never count a big table in full."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

import core.admin
from core.admin import CROSS_ORG, EstimatedCountPaginator
from core.errors import Forbidden
from core.tests.admin import admin_action, change_form_data, messages_of
from orgs.models import AuditEvent, Change, Membership
from orgs.permissions import PlatformActor
from orgs.services.members import INACTIVE_SUPERVISOR, LAST_ADMIN
from orgs.tests.factories import DepartmentFactory, MembershipFactory, OrganizationFactory
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _staff_events(staff, **filters):
    return AuditEvent.objects.filter(staff_actor=staff, **filters)


# --- the Support role -----------------------------------------------------------------------


def test_a_support_user_sees_every_list_but_can_change_nothing(support_client, employee):
    for name in ("orgs_membership", "orgs_department", "orgs_auditevent", "users_user"):
        assert support_client.get(reverse(f"admin:{name}_changelist")).status_code == 200
    page = support_client.get(reverse("admin:orgs_membership_change", args=[employee.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # view only

    post = support_client.post(
        reverse("admin:orgs_membership_change", args=[employee.pk]), {"role": "admin"}
    )

    assert post.status_code == 403
    assert Membership.objects.get(pk=employee.pk).role == "employee"


def test_a_staff_user_outside_support_sees_nothing(employee):
    client = Client()
    client.force_login(UserFactory(is_staff=True))

    assert client.get(reverse("admin:orgs_membership_changelist")).status_code == 403


def test_support_actions_are_offered_to_support_and_not_to_a_plain_staff_user(
    support_client, employee
):
    page = support_client.get(reverse("admin:orgs_membership_changelist"))
    assert {"deactivate", "reactivate"} <= {name for name, _ in page.context["action_form"]
                                            .fields["action"].choices}  # fmt: skip

    bare = UserFactory(is_staff=True)
    bare.user_permissions.add(*Group.objects.get(name="Support").permissions.filter(
        codename__startswith="view_"))  # fmt: skip
    client = Client()
    client.force_login(bare)
    page = client.get(reverse("admin:orgs_membership_changelist"))
    assert page.status_code == 200
    assert page.context["action_form"] is None  # no action it may run
    admin_action(client, "orgs_membership", "deactivate", employee.pk)
    assert Membership.objects.get(pk=employee.pk).is_active


def test_a_platform_actor_must_be_an_active_staff_user():
    with pytest.raises(Forbidden, match="platform staff"):
        PlatformActor(user=UserFactory(is_staff=False))


# --- support actions: members ---------------------------------------------------------------


def test_deactivating_a_member_goes_through_the_service_and_audits_the_staff_user(
    support_client, staff, employee, api, admin
):
    response = admin_action(support_client, "orgs_membership", "deactivate", employee.pk)

    assert response.status_code == 200
    assert any("deactivated" in m for m in messages_of(response))
    assert not Membership.objects.get(pk=employee.pk).is_active
    event = _staff_events(staff).get()
    assert (event.org_id, event.actor_id, event.action) == (employee.org_id, None, "member.update")
    assert (event.entity_type, event.entity_id) == ("membership", employee.pk)
    assert event.changes == {"is_active": [True, False]}
    change = Change.objects.filter(org=employee.org).latest("seq")
    assert (change.type, change.actor_id) == ("member.updated", None)
    # The org's admins see who did it in the API's audit log.
    item = api.get(admin, "/audit").json()["items"][0]
    assert item["actor_id"] is None
    assert item["staff_actor"] == {"id": staff.pk, "email": "help@cadence.example"}
    assert api.get(employee, "/me").status_code == 404  # deactivated: out of the org

    admin_action(support_client, "orgs_membership", "reactivate", employee.pk)

    assert Membership.objects.get(pk=employee.pk).is_active
    assert _staff_events(staff).latest("id").changes == {"is_active": [False, True]}


def test_deactivating_the_last_admin_is_refused_and_writes_nothing(support_client, staff, admin):
    response = admin_action(support_client, "orgs_membership", "deactivate", admin.pk)

    assert any(LAST_ADMIN in m for m in messages_of(response))
    assert Membership.objects.get(pk=admin.pk).is_active
    assert not _staff_events(staff).exists()


# --- support actions: tokens ----------------------------------------------------------------


def test_revoking_a_users_tokens_is_audited_in_each_org_they_are_an_active_member_of(
    support_client, staff, employee, api, django_capture_on_commit_callbacks
):
    second = MembershipFactory(user=employee.user, org=OrganizationFactory(slug="second"))
    MembershipFactory(user=employee.user, org=OrganizationFactory(slug="left"), is_active=False)
    token = api.token_for(employee.user)
    assert api.get(None, "/api/auth/me", token=token).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_action(support_client, "users_user", "revoke_tokens", employee.user.pk)

    assert any("every token revoked" in m for m in messages_of(response))
    assert api.get(None, "/api/auth/me", token=token).status_code == 401
    events = _staff_events(staff, action="member.tokens_revoke").order_by("org_id")
    assert [(e.org_id, e.entity_id, e.actor_id) for e in events] == sorted(
        [(employee.org_id, employee.pk, None), (second.org_id, second.pk, None)]
    )
    assert Change.objects.filter(org=second.org, type="member.tokens_revoked").exists()


# --- refusals: tenant keys, cross-org references, the API's rules ---------------------------


def _change_page(client, member):
    return client.get(reverse("admin:orgs_membership_change", args=[member.pk]))


def _post_change(client, member, **changes):
    page = _change_page(client, member)
    url = reverse("admin:orgs_membership_change", args=[member.pk])
    return client.post(url, change_form_data(page, **changes))


def test_org_user_and_created_at_of_a_membership_are_read_only_even_for_a_superuser(
    superuser_client, employee, outsider
):
    page = _change_page(superuser_client, employee)
    form = page.context["adminform"].form
    assert {"org", "user", "created_at"}.isdisjoint(form.fields)

    response = _post_change(
        superuser_client,
        employee,
        org=outsider.org_id,
        user=outsider.user_id,
        created_at="2001-01-01 00:00:00",
        title="Staff engineer",
    )

    assert response.status_code == 302
    member = Membership.objects.get(pk=employee.pk)
    assert (member.org_id, member.user_id) == (employee.org_id, employee.user_id)
    assert member.created_at == employee.created_at
    assert member.title == "Staff engineer"


def test_an_admin_edit_of_a_member_is_the_services_and_is_audited(
    superuser_client, superuser, employee, admin
):
    response = _post_change(superuser_client, employee, supervisor=admin.pk, role="manager")

    assert response.status_code == 302
    member = Membership.objects.get(pk=employee.pk)
    assert (member.supervisor_id, member.role) == (admin.pk, "manager")
    event = AuditEvent.objects.get(staff_actor=superuser)
    assert event.action == "member.update"
    assert event.changes == {
        "role": ["employee", "manager"],
        "supervisor_id": [employee.supervisor_id, admin.pk],
    }


def test_a_supervisor_or_department_of_another_org_is_refused(superuser_client, employee, outsider):
    foreign_department = DepartmentFactory(org=outsider.org)

    response = _post_change(
        superuser_client, employee, supervisor=outsider.pk, department=foreign_department.pk
    )

    assert response.status_code == 200  # the form again, with the errors
    errors = response.context["adminform"].form.errors
    assert "supervisor" in errors and "department" in errors
    member = Membership.objects.get(pk=employee.pk)
    assert (member.supervisor_id, member.department_id) == (
        employee.supervisor_id,
        employee.department_id,
    )
    assert not AuditEvent.objects.filter(entity_id=employee.pk).exists()


def test_the_model_rejects_a_cross_org_supervisor_or_department(employee, outsider):
    employee.supervisor = outsider
    employee.department = DepartmentFactory(org=outsider.org)

    with pytest.raises(ValidationError) as refused:
        employee.full_clean()

    assert refused.value.message_dict == {"supervisor": [CROSS_ORG], "department": [CROSS_ORG]}


def test_what_the_api_refuses_the_admin_refuses_with_the_services_message(
    superuser_client, employee, manager, admin
):
    manager.is_active = False
    manager.save()
    other = MembershipFactory(org=employee.org)

    inactive = _post_change(superuser_client, other, supervisor=manager.pk)
    last_admin = _post_change(superuser_client, admin, role="employee")

    assert inactive.status_code == 200
    assert inactive.context["adminform"].form.errors["supervisor"] == [INACTIVE_SUPERVISOR]
    assert last_admin.status_code == 200
    assert LAST_ADMIN in last_admin.context["adminform"].form.non_field_errors()
    assert Membership.objects.get(pk=admin.pk).role == "admin"
    assert Membership.objects.get(pk=other.pk).supervisor_id is None
    assert not AuditEvent.objects.exists()


def test_the_supervisor_and_department_autocompletes_answer_the_members_org_only(
    superuser_client, employee, outsider
):
    page = _change_page(superuser_client, employee)
    assert f'data-ajax--url="/admin/autocomplete/?org={employee.org_id}"' in page.content.decode()
    url = reverse("admin:autocomplete") + "?app_label=orgs&model_name=membership&term="

    both = superuser_client.get(url + "&field_name=supervisor").json()["results"]
    mine = superuser_client.get(url + f"&field_name=supervisor&org={employee.org_id}").json()

    assert str(outsider.pk) in {r["id"] for r in both}
    assert str(outsider.pk) not in {r["id"] for r in mine["results"]}
    assert {r["id"] for r in mine["results"]} == {
        str(pk) for pk in Membership.objects.filter(org=employee.org).values_list("pk", flat=True)
    }


def test_members_join_through_the_api_not_the_admin(superuser_client, employee):
    assert superuser_client.get(reverse("admin:orgs_membership_add")).status_code == 403
    delete = reverse("admin:orgs_membership_delete", args=[employee.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403


def test_an_organization_save_is_audited_and_its_slug_is_set_once(superuser_client, superuser, org):
    url = reverse("admin:orgs_organization_change", args=[org.pk])
    page = superuser_client.get(url)
    assert "slug" not in page.context["adminform"].form.fields

    response = superuser_client.post(url, change_form_data(page, name="Acme Renamed"))

    assert response.status_code == 302
    event = AuditEvent.objects.get(staff_actor=superuser)
    assert (event.org_id, event.action, event.entity_type) == (org.pk, "org.update", "organization")
    assert event.changes == {"name": ["Acme Test", "Acme Renamed"]}


def test_a_department_is_added_and_renamed_through_the_services(superuser_client, superuser, org):
    add = reverse("admin:orgs_department_add")
    created = superuser_client.post(add, {"org": org.pk, "name": "Research"})
    department = org.departments.get(name="Research")
    assert created.status_code == 302
    url = reverse("admin:orgs_department_change", args=[department.pk])
    renamed = superuser_client.post(url, change_form_data(superuser_client.get(url), name="R&D"))

    assert renamed.status_code == 302
    actions = list(
        AuditEvent.objects.filter(staff_actor=superuser)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["department.create", "department.update"]


# --- readable rows --------------------------------------------------------------------------


def test_members_departments_and_orgs_read_with_their_org(department, manager):
    member = MembershipFactory(
        org=manager.org, user=UserFactory(email="ann@acme.example"), role="manager"
    )

    assert str(member) == "ann@acme.example — acme-test (manager)"
    assert str(department) == "Engineering — acme-test"


def test_the_member_list_shows_emails_orgs_and_supervisors(superuser_client, employee, manager):
    page = superuser_client.get(reverse("admin:orgs_membership_changelist")).content.decode()

    assert employee.user.email in page
    assert f"{manager.user.email} — acme-test (manager)" in page  # the supervisor column


def test_a_users_page_lists_their_memberships_with_links(superuser_client, employee):
    page = superuser_client.get(reverse("admin:users_user_change", args=[employee.user_id]))
    html = page.content.decode()

    assert "acme-test" in html
    assert reverse("admin:orgs_membership_change", args=[employee.pk]) in html
    assert f"/admin/goals/goal/?org={employee.org_id}&amp;owner={employee.pk}" in html


def test_a_members_page_links_to_their_goals_evaluations_and_audit_trail(
    superuser_client, employee
):
    html = _change_page(superuser_client, employee).content.decode()

    org, pk = employee.org_id, employee.pk
    assert f"/admin/goals/goal/?org={org}&amp;owner={pk}" in html
    assert f"/admin/evaluations/selfassessment/?org={org}&amp;goal__owner={pk}" in html
    assert (
        f"/admin/orgs/auditevent/?org={org}&amp;entity_type=membership&amp;entity_id={pk}" in html
    )


# --- finding rows: org filter, audit search and entity filter -------------------------------


def test_the_org_filter_is_an_autocomplete_not_a_list_of_orgs(superuser_client, employee):
    others = OrganizationFactory.create_batch(3)
    url = reverse("admin:orgs_membership_changelist")

    everyone = superuser_client.get(url)
    one_org = superuser_client.get(f"{url}?org={employee.org_id}")

    html = everyone.content.decode()
    assert 'id="org-filter"' in html and "data-org-filter" in html
    assert not [o.slug for o in others if o.slug in html] and "org__id__exact" not in html
    assert {m.org_id for m in one_org.context["cl"].result_list} == {employee.org_id}
    assert f'<option value="{employee.org_id}" selected>acme-test</option>' in (
        one_org.content.decode()
    )
    assert superuser_client.get(f"{url}?org=x").status_code in (200, 302)  # ?e=1, no 500


def _event(org, entity_type: str, entity_id: int, **fields) -> AuditEvent:
    return AuditEvent.objects.create(
        org=org, action=f"{entity_type}.update", entity_type=entity_type, entity_id=entity_id,
        **fields,
    )  # fmt: skip


def test_audit_search_matches_an_entity_id_or_request_id_exactly(superuser_client, org):
    wanted = _event(org, "goal", 12)
    _event(org, "goal", 123)
    by_request = _event(org, "period", 5, request_id="req-abc")
    url = reverse("admin:orgs_auditevent_changelist")

    by_id = superuser_client.get(f"{url}?q=12").context["cl"].result_list
    by_req = superuser_client.get(f"{url}?q=req-abc").context["cl"].result_list

    assert [e.pk for e in by_id] == [wanted.pk]
    assert [e.pk for e in by_req] == [by_request.pk]


def test_the_entity_filter_offers_the_values_the_rows_store(superuser_client, org):
    for entity_type in ("membership", "feedback", "self_assessment"):
        _event(org, entity_type, 1)
    url = reverse("admin:orgs_auditevent_changelist")

    page = superuser_client.get(url)
    (spec,) = [spec for spec in page.context["cl"].filter_specs if spec.title == "entity type"]
    choices = {choice["display"] for choice in spec.choices(page.context["cl"])}
    members = superuser_client.get(f"{url}?entity_type=membership").context["cl"].result_list
    feedback = superuser_client.get(f"{url}?entity_type=feedback").context["cl"].result_list

    assert {"member", "feedback", "self-assessment", "goal", "period"} <= choices
    assert [e.entity_type for e in members] == ["membership"]
    assert [e.entity_type for e in feedback] == ["feedback"]


def test_the_audit_list_names_members_and_staff(superuser_client, staff, employee):
    _event(employee.org, "membership", employee.pk, actor=employee)
    _event(employee.org, "membership", employee.pk, staff_actor=staff)

    html = superuser_client.get(reverse("admin:orgs_auditevent_changelist")).content.decode()

    assert f"{employee.user.email} — acme-test (employee)" in html
    assert "staff: help@cadence.example" in html


# --- totals: never a full COUNT(*) of a big table -------------------------------------------


def _paginator_label(queryset) -> tuple[int, str]:
    paginator = EstimatedCountPaginator(queryset.order_by("pk"), 50)  # as the admin orders
    with CaptureQueriesContext(connection) as queries:
        count = paginator.count
    assert len(queries) == 1
    assert "LIMIT" in queries[0]["sql"]  # never an unbounded COUNT(*)
    return count, paginator.count_label


def test_totals_are_exact_up_to_the_limit_then_estimated_or_bounded(monkeypatch, org):
    MembershipFactory.create_batch(6, org=org)
    other = MembershipFactory(org=OrganizationFactory())
    assert _paginator_label(Membership.objects.all()) == (7, "7")

    monkeypatch.setattr(core.admin, "EXACT_COUNT_LIMIT", 3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orgs_membership")
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'orgs_membership'")
        (estimate,) = cursor.fetchone()

    unfiltered = _paginator_label(Membership.objects.all())
    filtered = _paginator_label(Membership.objects.filter(org=org))
    small = _paginator_label(Membership.objects.filter(org_id=other.org_id))

    if estimate > 3:  # ANALYZE saw the rows of this (uncommitted) transaction
        assert unfiltered == (estimate, f"about {estimate:,}")
    else:
        assert unfiltered == (4, "more than 3")
    assert filtered == (4, "more than 3")
    assert small == (1, "1")


def test_a_list_page_prints_the_estimate(superuser_client, monkeypatch, org):
    MembershipFactory.create_batch(5, org=org)
    monkeypatch.setattr(core.admin, "EXACT_COUNT_LIMIT", 2)

    page = superuser_client.get(reverse("admin:orgs_membership_changelist")).content.decode()

    assert "more than 2 memberships" in page or "about " in page
