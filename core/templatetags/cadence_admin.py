"""Template tags of core.admin's change list: the admin's own pagination and search form,
with the total worded by EstimatedCountPaginator ("about 246,000", "more than 10,000")."""

from django import template
from django.contrib.admin.templatetags.admin_list import pagination, search_form

register = template.Library()


def _count_label(cl) -> str:
    return getattr(cl.paginator, "count_label", f"{cl.result_count:,}")


@register.inclusion_tag("admin/cadence/pagination.html")
def cadence_pagination(cl):
    return {**pagination(cl), "count_label": _count_label(cl)}


@register.inclusion_tag("admin/search_form.html")
def cadence_search_form(cl):
    # The count is under the rows (cadence_pagination): Django's "N results" here would
    # print the raw number of an estimate.
    return {**search_form(cl), "show_result_count": False}
