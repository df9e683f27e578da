"""The admin machinery every app's admin shares (DESIGN.md §13), knowing no app: lists that
never count a big table in full, the org filter with its autocomplete, tenant rows whose keys
never change and whose choices stay in their org, and forms that save through a service.

Nothing is registered here: each app's admin.py builds on these classes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.widgets import AutocompleteSelect, RelatedFieldWidgetWrapper
from django.core.paginator import Paginator
from django.db import connections, transaction
from django.db.models import Model, QuerySet

from core.errors import ApplicationError

# Lists of more rows than this show an estimate, never an exact count (DESIGN.md §13).
EXACT_COUNT_LIMIT = 10_000
CROSS_ORG = "This belongs to another organization."
# A support action runs the service once per row: a bounded batch, not "select all 246,000".
ACTION_BATCH_LIMIT = 100
ACTION_BATCH_TOO_LARGE = f"Select at most {ACTION_BATCH_LIMIT} rows for this action."


class EstimatedCountPaginator(Paginator):
    """A paginator whose count costs one query that reads at most EXACT_COUNT_LIMIT + 1 rows.

    The query counts the list's rows (with its filters) up to that limit and reads the
    planner's estimate of the table's size (`pg_class.reltuples`, kept by ANALYZE and
    autovacuum). Up to the limit the count is exact; beyond it an unfiltered list shows
    "about N" from the estimate, a filtered one "more than 10,000" (the estimate of the table
    says nothing about a filter). `count_label` is what the page prints."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            self.count_label = f"{len(queryset):,}"
            return len(queryset)
        capped = queryset.order_by().values("pk")[: EXACT_COUNT_LIMIT + 1]
        sql, params = capped.query.sql_with_params()
        table = connections[queryset.db].ops.quote_name(queryset.model._meta.db_table)
        with connections[queryset.db].cursor() as cursor:
            cursor.execute(
                f"SELECT (SELECT count(*) FROM ({sql}) AS capped), "  # noqa: S608 - Django's SQL
                "(SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass)",
                [*params, table],
            )
            exact, estimate = cursor.fetchone()
        if exact <= EXACT_COUNT_LIMIT:
            self.count_label = f"{exact:,}"
            return exact
        if not queryset.query.where and estimate and estimate > EXACT_COUNT_LIMIT:
            self.count_label = f"about {estimate:,}"
            return estimate
        self.count_label = f"more than {EXACT_COUNT_LIMIT:,}"
        return EXACT_COUNT_LIMIT + 1


class OrgAutocompleteSelect(AutocompleteSelect):
    """An autocomplete whose suggestions are one org's rows: the org rides in the URL
    (`?org=<id>`), and TenantAdmin.get_search_results (the target's admin) filters by it."""

    org_id: int | None = None

    def get_url(self) -> str:
        url = super().get_url()
        return f"{url}?org={self.org_id}" if self.org_id else url


class OrgFilter(admin.ListFilter):
    """The rows of one org: the query parameter `org` (an id), chosen in the sidebar with an
    autocomplete over the organizations (a list of 200 orgs is no filter). Costs one query,
    the chosen org's label, only when the list is filtered."""

    title = "organization"
    parameter_name = "org"
    template = "admin/cadence/org_filter.html"

    def __init__(self, request, params, model, model_admin) -> None:
        super().__init__(request, params, model, model_admin)
        self.model, self.model_admin = model, model_admin
        self.org_id: int | None = None
        if self.parameter_name in params:
            value = params.pop(self.parameter_name)[-1]
            if not value.isdigit():
                raise IncorrectLookupParameters(f"org={value!r} is not an id")
            self.org_id = int(value)
            self.used_parameters[self.parameter_name] = value

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return [self.parameter_name]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        return queryset.filter(org_id=self.org_id) if self.org_id else queryset

    def choices(self, changelist):
        org_field = self.model._meta.get_field("org")
        widget = AutocompleteSelect(
            org_field,
            self.model_admin.admin_site,
            attrs={"data-placeholder": "Any organization", "data-allow-clear": "true"},
        )
        widget.choices = forms.ModelChoiceField(
            queryset=org_field.remote_field.model._default_manager.all()
        ).choices
        yield {
            "widget": widget.render(
                self.parameter_name,
                self.org_id,
                attrs={
                    "id": "org-filter",
                    "data-org-filter": changelist.get_query_string(
                        remove=[self.parameter_name, "p"]
                    ),
                },
            ),
            "clear_url": changelist.get_query_string(remove=[self.parameter_name, "p"]),
            "selected": self.org_id is not None,
        }


class CadenceAdminMixin:
    """Every admin list: totals from EstimatedCountPaginator ("about N"), no COUNT(*) of the
    whole table (show_full_result_count), no facet counts (each is a COUNT), 50 rows a page."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    change_list_template = "admin/cadence/change_list.html"
    list_per_page = 50

    @property
    def media(self):
        autocomplete = AutocompleteSelect(None, self.admin_site).media
        return super().media + autocomplete + forms.Media(js=["cadence/admin.js"])

    def actions_in_batches(self, request, queryset: QuerySet, run: Callable[[Any], str]) -> None:
        """Runs a support action on each selected row (`run` returns what was done) and tells
        the user what each did or why the service refused it; at most ACTION_BATCH_LIMIT."""
        rows = list(queryset[: ACTION_BATCH_LIMIT + 1])
        if len(rows) > ACTION_BATCH_LIMIT:
            self.message_user(request, ACTION_BATCH_TOO_LARGE, messages.ERROR)
            return
        for row in rows:
            try:
                with transaction.atomic():
                    done = run(row)
            except ApplicationError as exc:
                self.message_user(request, f"{row}: {refusal_text(exc)}", messages.ERROR)
            else:
                self.message_user(request, f"{row}: {done}", messages.SUCCESS)


class CadenceAdmin(CadenceAdminMixin, admin.ModelAdmin):
    pass


def refusal_text(exc: ApplicationError) -> str:
    msgs = [detail["msg"] for detail in exc.details if detail.get("msg")]
    return "; ".join(msgs) if msgs else exc.message


class TenantForm(forms.ModelForm):
    """The form of a tenant row (TenantAdmin sets the class attributes).

    - `org_confined`: foreign keys whose choices are the rows of the row's own org (the
      queryset and the autocomplete are both limited, so another org's id is refused as an
      invalid choice, before the model's own cross-org check);
    - `save_through`: the app's service that saves the row, run last in validation inside a
      savepoint, so what it refuses (409, 422) shows on the form at its field and leaves
      nothing behind, and what it accepts is saved, audited, by it (`saved`)."""

    org_confined: tuple[str, ...] = ()
    save_through: Callable[[TenantForm], Model | None] | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.saved: Model | None = None
        org_id = getattr(self.instance, "org_id", None)
        for name in self.org_confined:
            field = self.fields.get(name)
            if field is None:
                continue
            widget = field.widget
            if isinstance(widget, RelatedFieldWidgetWrapper):
                # No "add another" / "change" pop-ups: they would not stay in the org.
                widget.can_add_related = widget.can_change_related = False
                widget.can_delete_related = False
                widget = widget.widget
            if org_id is not None:
                field.queryset = field.queryset.filter(org_id=org_id)
                if isinstance(widget, OrgAutocompleteSelect):
                    widget.org_id = org_id

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        org_id = cleaned["org"].pk if cleaned.get("org") else self.instance.org_id
        for name in self.org_confined:
            value = cleaned.get(name)
            if org_id is not None and value is not None and value.org_id != org_id:
                self.add_error(name, CROSS_ORG)
        return cleaned

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors or self.save_through is None:
            return
        try:
            with transaction.atomic():
                self.saved = self.save_through(self)
        except ApplicationError as exc:
            service_errors_to_form(self, exc)


def service_errors_to_form(form: forms.BaseForm, exc: ApplicationError) -> None:
    """A service's refusal on the form: each detail at the field its `loc` names (`["body",
    "supervisor_id"]` → supervisor), else above the form."""
    for detail in exc.details:
        loc = [str(part) for part in detail.get("loc") or []][1:2]
        names = [*loc, *(name.removesuffix("_id") for name in loc)]
        field = next((name for name in names if name in form.fields), None)
        form.add_error(field, detail.get("msg") or exc.message)
    if not exc.details:
        form.add_error(None, exc.message)


class TenantAdmin(CadenceAdmin):
    """The admin of a tenant row (DESIGN.md §13):

    - every page joins `list_select_related` and `label_select_related`;
    - the org filter first in the sidebar; autocompletes asked with `?org=` answer that org's
      rows only;
    - tenant keys (`org`, plus `tenant_keys`) read-only once the row exists, and
      `always_readonly` (`created_at`, a status that moves only through actions) never
      editable, for every user, superusers included;
    - `org_confined` foreign keys choose among the row's org's rows only;
    - `service_save(request, form, obj)`, when an app defines it, saves the row through its
      service (TenantForm.save_through) and the admin's own save does nothing more."""

    form = TenantForm
    # Joined on every page (list, form, autocomplete) beside `list_select_related`: what the
    # rows' labels read. (Django's list joins only when get_queryset joined nothing.)
    label_select_related: tuple[str, ...] = ("org",)
    tenant_keys: tuple[str, ...] = ("org",)
    always_readonly: tuple[str, ...] = ("created_at",)
    org_confined: tuple[str, ...] = ()

    def get_queryset(self, request):
        related = (*(self.list_select_related or ()), *self.label_select_related)
        return super().get_queryset(request).select_related(*related)

    def get_list_filter(self, request):
        return (OrgFilter, *super().get_list_filter(request))

    def get_readonly_fields(self, request, obj=None):
        fields = [*super().get_readonly_fields(request, obj), *self.always_readonly]
        if obj is not None:
            fields += self.tenant_keys
        return list(dict.fromkeys(fields))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.org_confined and db_field.name in self.autocomplete_fields:
            kwargs["widget"] = OrgAutocompleteSelect(db_field, self.admin_site)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        attrs: dict[str, Any] = {"org_confined": self.org_confined}
        if getattr(self, "service_save", None) is not None:
            service_save = self.service_save

            def save_through(bound_form):
                return service_save(request, bound_form, obj)

            attrs["save_through"] = staticmethod(save_through)
        return type(form.__name__, (form,), attrs)

    def _changeform_view(self, request, object_id, form_url, extra_context):
        """A POST that shows the form again (any error, the service's or an inline's) keeps
        nothing: the service may have run in the form's validation, before an inline failed.
        The caller, changeform_view, holds the transaction this rolls back."""
        response = super()._changeform_view(request, object_id, form_url, extra_context)
        context = getattr(response, "context_data", None) or {}
        if request.method == "POST" and context.get("errors"):
            transaction.set_rollback(True)
        return response

    def save_form(self, request, form, change):
        unsaved = super().save_form(request, form, change)  # commit=False: no write
        saved = getattr(form, "saved", None)
        return saved if saved is not None else unsaved

    def save_model(self, request, obj, form, change) -> None:
        if getattr(form, "saved", None) is None:
            super().save_model(request, obj, form, change)

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        match = getattr(request, "resolver_match", None)
        org = request.GET.get("org", "")
        if match is not None and match.url_name == "autocomplete" and org.isdigit():
            queryset = queryset.filter(org_id=int(org))
        return queryset, may_have_duplicates


class ReadOnlyInline:
    """An inline (mixed into TabularInline) that shows rows and never changes them; each row
    links to its own page."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
