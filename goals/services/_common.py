"""Messages (module constants that tests may assert on) and guards shared by the services."""

from __future__ import annotations

from core.errors import Conflict
from goals.models import Period

PERIOD_CLOSED = "The period is closed; it is read-only."
PERIOD_ALREADY_ACTIVE = "Another period of this organization is already active."
PERIOD_BAD_TRANSITION = (
    "A period moves planned → active or closed, active → closed, closed → active (reopen) only."
)
PERIOD_NAME_TAKEN = "A period with this name already exists."
PERIOD_DATES = "ends_on must not be before starts_on."
CATALOG_NAME_TAKEN = "An entry with this name already exists."
UNKNOWN_ID = "Unknown id."
REJECT_NEEDS_COMMENT = "A rejection needs a comment."
OWNER_NOT_SELF = "Only an admin can create goals for another member."
GOAL_NOT_EDITABLE = "A goal can be changed only while it is draft or rejected."
GOAL_NOT_DELETABLE = "Only a draft goal can be deleted."
GOAL_NOT_SUBMITTABLE = "Only a draft or rejected goal can be submitted."
GOAL_NOT_SUBMITTED = "Only a submitted goal can be approved or rejected."
GOAL_ALREADY_DRAFT = "The goal is already a draft."
WEIGHT_BUDGET = "The owner's submitted and approved goals in the period would weigh more than 100."

# DESIGN.md §4 "Periods": closed → active is the reopening, the one write a closed period takes.
PERIOD_TRANSITIONS = {
    ("planned", "active"),
    ("planned", "closed"),
    ("active", "closed"),
    ("closed", "active"),
}
GOAL_FIELDS = ("period_id", "owner_id", "category", "title", "weight", "target_data", "status")


def ensure_period_open(period: Period) -> None:
    if period.is_closed:
        raise Conflict(PERIOD_CLOSED)
