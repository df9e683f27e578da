"""The row-level tenancy invariants of DESIGN.md §2, checked on every model of the project.

A tenant model is any model with a field named `org` (Organization itself excepted). These
rules keep each tenant's rows distributable by `org_id` (Citus) without a schema rewrite. The
keys as the database has them (primary keys (org_id, id), composite foreign keys) are checked
on the live schema by test_citus_keys.py; here, that a model declares its foreign keys to
other tenant models that way.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models
from django.test.utils import isolate_apps

from core.tenant_keys import SameOrgForeignKey
from orgs.models import Membership, Organization

PROJECT_APPS = ("users", "orgs", "goals", "evaluations", "dashboards", "jobs")


def tenant_models() -> list[type[models.Model]]:
    found = []
    for label in PROJECT_APPS:
        for model in apps.get_app_config(label).get_models():
            if model is Organization:
                continue
            if any(field.name == "org" for field in model._meta.get_fields()):
                found.append(model)
    return found


def is_tenant_model(model: type[models.Model]) -> bool:
    return model is not Organization and any(
        field.name == "org" for field in model._meta.get_fields()
    )


def tenancy_violations(model: type[models.Model]) -> list[str]:
    """Every rule `model` breaks, each as "<app_label.Model>: <rule>"."""
    name = model._meta.label
    meta = model._meta
    problems = []

    org = meta.get_field("org")
    if not isinstance(org, models.ForeignKey) or org.remote_field.model is not Organization:
        problems.append(f"{name}: `org` must be a ForeignKey to orgs.Organization")
    elif org.null:
        problems.append(f"{name}: `org` must be non-null")

    problems.extend(
        f"{name}: unique constraint {constraint.name!r} must include `org` "
        f"(fields: {list(constraint.fields) or constraint.expressions})"
        for constraint in meta.constraints
        if isinstance(constraint, models.UniqueConstraint) and "org" not in constraint.fields
    )
    problems.extend(
        f"{name}: unique_together {list(fields)} must include `org`"
        for fields in meta.unique_together
        if "org" not in fields
    )

    for field in meta.local_fields:
        if field.primary_key:
            continue
        if isinstance(field, models.OneToOneField):
            problems.append(f"{name}: field {field.name!r} is a OneToOneField (unique without org)")
        elif field.unique:
            problems.append(f"{name}: field {field.name!r} is unique=True (unique without org)")

    for index in meta.indexes:
        fields = [f.lstrip("-") for f in index.fields]
        if len(fields) > 1 and fields[0] != "org":
            problems.append(
                f"{name}: composite index {index.name!r} must lead with `org` (fields: {fields})"
            )
        if not fields and len(index.expressions) > 1:
            problems.append(f"{name}: expression index {index.name!r} must lead with `org`")

    same_org_keys = {c.field for c in meta.constraints if isinstance(c, SameOrgForeignKey)}
    for field in meta.local_fields:
        if not isinstance(field, models.ForeignKey) or field.name == "org":
            continue
        if not is_tenant_model(field.related_model):
            continue
        if field.db_constraint or field.name not in same_org_keys:
            problems.append(
                f"{name}: foreign key {field.name!r} to a tenant model must be "
                "db_constraint=False with a SameOrgForeignKey (core.tenant_keys)"
            )
    return problems


def test_the_project_has_tenant_models_to_check():
    labels = {model._meta.label for model in tenant_models()}
    assert {"orgs.Membership", "orgs.Department", "goals.Goal"} <= labels


@pytest.mark.parametrize("model", tenant_models(), ids=lambda m: m._meta.label)
def test_every_tenant_model_keeps_the_tenancy_invariants(model):
    problems = tenancy_violations(model)
    assert not problems, "\n".join(problems)


# Throwaway models live in an isolated registry under the label of an existing module
# ("config" has no models), so the real app registry never sees them; related_name="+" keeps
# them from adding reverse accessors to the real Organization.
@isolate_apps("config")
def test_the_checker_names_the_model_and_every_rule_it_breaks():
    class Broken(models.Model):  # noqa: DJ008 - throwaway
        org = models.ForeignKey(Organization, on_delete=models.CASCADE, null=True, related_name="+")
        code = models.CharField(max_length=10, unique=True)
        partner = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
        name = models.CharField(max_length=10)

        class Meta:
            app_label = "config"
            constraints = [models.UniqueConstraint(fields=["name"], name="broken_unique_name")]
            unique_together = [("code", "name")]
            indexes = [models.Index(fields=["name", "org"], name="broken_name_org")]

    problems = tenancy_violations(Broken)

    assert problems == [
        "config.Broken: `org` must be non-null",
        "config.Broken: unique constraint 'broken_unique_name' must include "
        "`org` (fields: ['name'])",
        "config.Broken: unique_together ['code', 'name'] must include `org`",
        "config.Broken: field 'code' is unique=True (unique without org)",
        "config.Broken: field 'partner' is a OneToOneField (unique without org)",
        "config.Broken: composite index 'broken_name_org' must lead with `org` "
        "(fields: ['name', 'org'])",
    ]


@isolate_apps("config")
def test_the_checker_rejects_an_org_that_is_not_a_foreign_key_to_organization():
    class Loose(models.Model):  # noqa: DJ008 - throwaway
        org = models.IntegerField()

        class Meta:
            app_label = "config"

    assert tenancy_violations(Loose) == [
        "config.Loose: `org` must be a ForeignKey to orgs.Organization"
    ]


@isolate_apps("config")
def test_the_checker_wants_foreign_keys_between_tenant_models_to_carry_the_org():
    class Pointing(models.Model):  # noqa: DJ008 - throwaway
        org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
        member = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
        keyed = models.ForeignKey(
            Membership, on_delete=models.CASCADE, related_name="+", db_constraint=False
        )
        fine = models.ForeignKey(
            Membership, on_delete=models.CASCADE, related_name="+", db_constraint=False
        )

        class Meta:
            app_label = "config"
            constraints = [SameOrgForeignKey(field="fine", name="pointing_fine_org_fk")]

    assert tenancy_violations(Pointing) == [
        "config.Pointing: foreign key 'member' to a tenant model must be db_constraint=False "
        "with a SameOrgForeignKey (core.tenant_keys)",
        "config.Pointing: foreign key 'keyed' to a tenant model must be db_constraint=False "
        "with a SameOrgForeignKey (core.tenant_keys)",
    ]


@isolate_apps("config")
def test_the_checker_accepts_a_well_formed_tenant_model():
    class Fine(models.Model):  # noqa: DJ008 - throwaway
        org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
        name = models.CharField(max_length=10)

        class Meta:
            app_label = "config"
            constraints = [models.UniqueConstraint(fields=["org", "name"], name="fine_unique")]
            indexes = [models.Index(fields=["org", "-name"], name="fine_org_name")]

    assert tenancy_violations(Fine) == []
