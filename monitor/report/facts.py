"""The weekly report's figures, gathered from the store into typed facts (rendering is
:mod:`monitor.report.html`'s business).

The week is seven local days in the route's time zone: ``[end_day - 7 days, end_day)``,
from local midnight to local midnight. A mention counts when its event time (published,
never later than detected) falls in the week; an incident when it was opened in the week.

Golden-hour figures: time-to-ack is ``acked_at - first_detected_at`` (as ``repwatch
incidents`` shows it); p50 and p90 are nearest-rank percentiles of the incidents that
were acknowledged; *acked inside the hour* counts incidents acknowledged by their
deadline, out of every incident opened in the week (unacknowledged ones count as not).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.config import Config, Route
from monitor.health import source_health
from monitor.store import Store
from monitor.store.reports import IncidentTimes, Tally

TREND_WEEKS = 8  # weeks in the negative-share trend, this one included
DAILY_SERIES = 5  # entities counted day by day (the most negative), after the total


@dataclass(frozen=True)
class WeekShare:
    start: datetime
    end: datetime
    tally: Tally

    @property
    def share(self) -> float | None:
        """Negative share of the scored mentions; None when none was scored."""
        return self.tally.negative / self.tally.scored if self.tally.scored else None


@dataclass(frozen=True)
class Named:
    """A tally under a display name (an entity's name, a source id, a cause)."""

    key: str
    name: str
    total: int
    scored: int
    negative: int

    @property
    def share(self) -> float | None:
        return self.negative / self.scored if self.scored else None


@dataclass(frozen=True)
class GoldenHour:
    incidents: int
    acked: int
    acked_in_hour: int
    p50: timedelta | None
    p90: timedelta | None
    late: tuple[IncidentTimes, ...] = ()  # acked after the deadline, or not acked

    @property
    def share_in_hour(self) -> float | None:
        return self.acked_in_hour / self.incidents if self.incidents else None


@dataclass(frozen=True)
class SourceLine:
    id: str
    type: str
    state: str  # monitor.health states: ok, failing, blocked, auth-failed, silent, new, disabled
    reason: str
    last_success_at: datetime | None
    failures: int
    mentions: int
    negative: int


@dataclass(frozen=True)
class WeeklyReport:
    route_id: str
    language: str
    timezone: str
    start: datetime  # aware (the route's zone): the first local midnight of the week
    end: datetime  # exclusive: the midnight after the last day
    generated_at: datetime
    trend: tuple[WeekShare, ...]  # oldest first; the last one is this week
    # (series name, ((local day, negatives), ...)): the total first, then the most negative entities
    daily: tuple[tuple[str, tuple[tuple[datetime, int], ...]], ...]
    entities: tuple[Named, ...]
    sources: tuple[Named, ...]
    causes: tuple[tuple[str, int], ...]  # (cause, negative mentions), most first
    golden: GoldenHour
    health: tuple[SourceLine, ...]
    entity_names: dict[str, str]

    @property
    def week(self) -> WeekShare:
        return self.trend[-1]

    @property
    def previous(self) -> WeekShare | None:
        return self.trend[-2] if len(self.trend) > 1 else None


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def week_bounds(end_day: date, timezone: str) -> tuple[datetime, datetime]:
    """The seven local days before ``end_day``: (first midnight, last midnight), aware."""
    zone = ZoneInfo(timezone)
    return local_midnight(end_day - timedelta(days=7), zone), local_midnight(end_day, zone)


def nearest_rank(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least ``fraction`` of the
    values at or under it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


def golden_hour(incidents: list[IncidentTimes]) -> GoldenHour:
    acked = [i for i in incidents if i.acked_at is not None]
    seconds = [max((i.acked_at - i.first_detected_at).total_seconds(), 0.0) for i in acked]
    inside = [i for i in acked if i.acked_at <= i.deadline]
    p50, p90 = nearest_rank(seconds, 0.5), nearest_rank(seconds, 0.9)
    return GoldenHour(len(incidents), len(acked), len(inside),
                      None if p50 is None else timedelta(seconds=p50), None if p90 is None else timedelta(seconds=p90),
                      tuple(i for i in incidents if i.acked_at is None or i.acked_at > i.deadline))


def _daily(store: Store, start: datetime, end: datetime, zone: ZoneInfo,
           names: dict[str, str], total_name: str) -> tuple:
    days = [(start.astimezone(zone).date() + timedelta(days=d)) for d in range((end - start).days + 1)]
    days = [d for d in days if local_midnight(d, zone) < end]
    per: dict[str, Counter] = {}
    total: Counter = Counter()
    seen: set[int] = set()
    for mention_id, entity_id, at in store.negative_events(start, end):
        day = at.astimezone(zone).date()
        per.setdefault(entity_id, Counter())[day] += 1
        if mention_id not in seen:  # one mention about two entities is one negative mention
            seen.add(mention_id)
            total[day] += 1
    top = sorted(per, key=lambda e: (-sum(per[e].values()), e))[:DAILY_SERIES]
    series = [(total_name, total)] + [(names.get(e, e), per[e]) for e in top]
    return tuple((name, tuple((local_midnight(d, zone), counts.get(d, 0)) for d in days)) for name, counts in series)


def gather(config: Config, store: Store, route: Route, end_day: date, now: datetime,
           total_name: str = "all") -> WeeklyReport:
    """Every figure of the week before ``end_day`` (a local date of ``route``'s zone)."""
    zone = ZoneInfo(route.timezone)
    start, end = week_bounds(end_day, route.timezone)
    trend = []
    for k in range(TREND_WEEKS - 1, -1, -1):
        s, e = week_bounds(end_day - timedelta(days=7 * k), route.timezone)
        trend.append(WeekShare(s, e, store.mention_tally(s, e)))
    names = {e.id: e.name for e in config.entities}
    entities = tuple(Named(t.key, names.get(t.key, t.key), t.total, t.scored, t.negative)
                     for t in store.entity_tallies(start, end))
    by_source = store.source_tallies(start, end)
    causes = sorted(store.negative_causes(start, end).items(), key=lambda kv: (-kv[1], kv[0]))
    states = store.source_states()
    tallies = {t.key: t for t in by_source}
    health = []
    for source in config.sources:
        row, t = states.get(source.id), tallies.get(source.id)
        h = source_health(source, row, now)
        health.append(SourceLine(source.id, source.type, h.state, h.reason, row.last_success_at if row else None,
                                 row.consecutive_failures if row else 0, t.total if t else 0, t.negative if t else 0))
    return WeeklyReport(
        route.id, route.language, route.timezone, start, end, now, tuple(trend),
        _daily(store, start, end, zone, names, total_name), entities,
        tuple(Named(t.key, t.key, t.total, t.scored, t.negative) for t in by_source), tuple(causes),
        golden_hour(store.incidents_opened(start, end)), tuple(health), names)
