"""A user's name or email changed in the admin changes which members a search matches: the
cached count (core.memo, then Redis, keyed by the org's data version) must not outlive it."""

from django.urls import reverse


def _rename(superuser_client, user, full_name: str):
    data = {"email": user.email, "full_name": full_name, "is_active": "on",
            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}  # fmt: skip
    return superuser_client.post(reverse("admin:users_user_change", args=[user.pk]), data)


def test_a_name_changed_in_the_admin_is_counted_by_the_next_search(
    api, admin, employee, superuser_client, django_capture_on_commit_callbacks
):
    token = api.token_for(admin.user)
    params = {"search": "zebulon"}
    before = api.get(admin, "/members", params=params, token=token).json()
    assert (before["count"], before["items"]) == (0, [])

    with django_capture_on_commit_callbacks(execute=True):
        assert _rename(superuser_client, employee.user, "Zebulon Quux").status_code == 302

    after = api.get(admin, "/members", params=params, token=token).json()
    assert [item["id"] for item in after["items"]] == [employee.pk]
    assert after["count"] == 1
