"""Signals the goals app sends. Apps above it listen (evaluations guards its rows)."""

from django.dispatch import Signal

# Sent by goals.services.goal_return_to_draft inside its transaction, with `goal` (locked),
# before the goal goes back to draft. A receiver refuses by raising an ApplicationError.
goal_returning_to_draft = Signal()
