"""Helpers for tests of the Django admin (no app imported: core is below them all)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse


def change_form_data(response, **changes: Any) -> dict[str, Any]:
    """What a browser posts back from an admin add or change page (the form's current values,
    each inline's management form), with `changes` applied (None drops a field: an unchecked
    box)."""
    form = response.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()  # prepared for the widget, as the page shows it
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else value
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def admin_action(client, model: str, action: str, *pks: int):
    """A changelist action on the rows `pks`, as the admin's action bar posts it
    (`model`: "app_model"), following the redirect back to the list."""
    url = reverse(f"admin:{model}_changelist")
    data = {"action": action, "_selected_action": [str(pk) for pk in pks]}
    return client.post(url, data, follow=True)
