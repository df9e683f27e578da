"""`manage.py changepassword` revokes every token of the user, like the admin's password form."""

from __future__ import annotations

from django.core.management import call_command


def test_changepassword_revokes_the_users_tokens(
    api, employee, monkeypatch, django_capture_on_commit_callbacks
):
    token = api.token_for(employee.user)
    assert api.get(employee, "/me", token=token).status_code == 200
    # The command reads the new password twice from the terminal.
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "a-new-pass-9876")

    with django_capture_on_commit_callbacks(execute=True):
        call_command("changepassword", employee.user.email, stdout=open("/dev/null", "w"))  # noqa: SIM115

    employee.user.refresh_from_db()
    assert employee.user.check_password("a-new-pass-9876")
    assert api.get(employee, "/me", token=token).status_code == 401
