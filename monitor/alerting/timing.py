"""When a group may be flushed: ``group_wait`` after its first alert, then at most every
``group_interval``; quiet hours hold a flush (the caller lets critical alerts through)."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.config import Route
from monitor.store import GroupRow


def quiet_until(route: Route, now: datetime) -> datetime | None:
    """The end of the quiet-hours span ``now`` falls in (route's local time), or None."""
    if not route.quiet_hours:
        return None
    local = now.astimezone(ZoneInfo(route.timezone))
    minute = local.hour * 60 + local.minute
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for start, end in route.quiet_hours:
        if start < end and start <= minute < end:
            return (midnight + timedelta(minutes=end)).astimezone(now.tzinfo)
        if start > end and (minute >= start or minute < end):
            day = midnight + timedelta(days=1) if minute >= start else midnight
            return (day + timedelta(minutes=end)).astimezone(now.tzinfo)
    return None


def group_due(group: GroupRow, route: Route, now: datetime) -> bool:
    """Whether ``group_wait`` and ``group_interval`` allow a flush at ``now``."""
    due = group.first_pending_at + route.group_wait
    if group.last_notified_at is not None:
        due = max(due, group.last_notified_at + route.group_interval)
    return now >= due
