from datetime import datetime

from ninja import Schema


class StatsOut(Schema):
    total_users: int
    active_users: int
    inactive_users: int
    admins: int
    new_users_today: int
    new_users_week: int
    timestamp: datetime
