"""The users admin stays usable at tens of thousands of users."""

from __future__ import annotations

from django.urls import reverse

from users.models import User
from users.tests.factories import UserFactory


def test_the_user_changelist_costs_the_same_for_5_and_50_users(
    superuser_client, django_assert_num_queries
):
    url = reverse("admin:users_user_changelist")
    UserFactory.create_batch(4)  # with the superuser: 5
    # 1 session, 2 the logged-in superuser, 3 the paginator's count (at most 10,001 rows,
    # with the planner's estimate: core.admin.EstimatedCountPaginator; no COUNT of the whole
    # table), 4 the groups of the sidebar's group filter, 5 the page of users
    with django_assert_num_queries(5):
        first = superuser_client.get(url)
    UserFactory.create_batch(45)
    with django_assert_num_queries(5):
        second = superuser_client.get(url)

    assert first.status_code == second.status_code == 200
    assert first.context["cl"].result_count == 5
    assert second.context["cl"].result_count == 50


def test_the_user_search_finds_by_email(superuser_client):
    UserFactory(email="findme@example.test")
    UserFactory.create_batch(3)

    response = superuser_client.get(reverse("admin:users_user_changelist") + "?q=findme")

    assert response.status_code == 200
    assert [u.email for u in response.context["cl"].result_list] == ["findme@example.test"]


def test_the_user_change_form_answers_without_showing_the_password_hash(superuser_client):
    user = UserFactory()

    response = superuser_client.get(reverse("admin:users_user_change", args=[user.pk]))

    assert response.status_code == 200
    assert User.objects.get(pk=user.pk).password not in response.content.decode()


def _change(superuser_client, user, **fields):
    data = {"email": user.email, "full_name": user.full_name, "is_active": "on", **fields}
    # The memberships inline (orgs.admin, read-only) posts its management form, as a browser.
    data |= {"memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}
    data = {name: value for name, value in data.items() if value is not None}
    return superuser_client.post(reverse("admin:users_user_change", args=[user.pk]), data)


def test_deactivating_a_user_in_the_admin_revokes_their_tokens_at_once(
    superuser_client, api, employee, django_capture_on_commit_callbacks
):
    token = api.token_for(employee.user)
    assert api.get(None, "/api/auth/me", token=token).status_code == 200  # cached as valid

    with django_capture_on_commit_callbacks(execute=True):
        response = _change(superuser_client, employee.user, is_active=None)

    assert response.status_code == 302
    assert api.get(None, "/api/auth/me", token=token).status_code == 401
    assert api.get(employee, "/me", token=token).status_code == 401


def test_a_new_password_set_in_the_admin_revokes_tokens_and_a_name_change_does_not(
    superuser_client, api, employee, django_capture_on_commit_callbacks
):
    token = api.token_for(employee.user)
    assert api.get(employee, "/me", token=token).status_code == 200  # member entry cached

    with django_capture_on_commit_callbacks(execute=True):
        renamed = _change(superuser_client, employee.user, full_name="Renamed Person")
    assert renamed.status_code == 302
    me = api.get(employee, "/me", token=token)
    assert me.status_code == 200
    assert me.json()["full_name"] == "Renamed Person"  # the cached member item went

    url = reverse("admin:auth_user_password_change", args=[employee.user.pk])
    with django_capture_on_commit_callbacks(execute=True):
        changed = superuser_client.post(
            url, {"password1": "a-new-pass-9876", "password2": "a-new-pass-9876"}
        )
    assert changed.status_code == 302
    assert api.get(employee, "/me", token=token).status_code == 401
