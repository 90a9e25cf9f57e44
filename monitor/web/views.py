"""What the pages and the API share: the mention list's filters and keyset cursor read from
a query string, a mention as shown (PHI masked; a restricted one's text to admins only), an
incident's golden-hour figures, and the overview's chart series.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.causes import CAUSES
from monitor.defence.phi import is_restricted, restricted_note
from monitor.privacy import mask_phi, mask_url
from monitor.store.dashboard import MentionFilter
from monitor.store.mentions import StoredMention

LABELS = ("negative", "neutral", "positive")
PAGE_SIZE = 50
SHOWN_CHARS = 400


class BadFilter(ValueError):
    """A query-string filter that cannot be read (answered with 400)."""


def _day(value: str, zone: str, end: bool) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadFilter(f"not a date (YYYY-MM-DD): {value!r}") from None
    start = datetime.combine(day + timedelta(days=1) if end else day, time(0), ZoneInfo(zone))
    return start


def _rating(value: str) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise BadFilter(f"not a rating: {value!r}") from None


def mention_filter(params, config, zone: str) -> MentionFilter:
    """The filters in ``params`` (a query string's mapping); unknown values are refused."""
    entity, source = params.get("entity") or None, params.get("source") or None
    label, cause = params.get("label") or None, params.get("cause") or None
    if entity and entity not in {e.id for e in config.entities}:
        raise BadFilter(f"no entity {entity!r}")
    if source and source not in {s.id for s in config.sources}:
        raise BadFilter(f"no source {source!r}")
    if label and label not in LABELS:
        raise BadFilter(f"label must be one of {', '.join(LABELS)}")
    if cause and cause not in CAUSES:
        raise BadFilter(f"cause must be one of {', '.join(CAUSES)}")
    return MentionFilter(entity=entity, source=source, label=label, cause=cause,
                         min_rating=_rating(params.get("min_rating", "")),
                         max_rating=_rating(params.get("max_rating", "")),
                         since=_day(params.get("since", ""), zone, end=False),
                         until=_day(params.get("until", ""), zone, end=True))


def cursor_of(m: StoredMention) -> str:
    return f"{m.event_at.isoformat()}_{m.id}"


def read_cursor(value: str | None) -> tuple[datetime, int] | None:
    if not value:
        return None
    at, _, ident = value.rpartition("_")
    try:
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not ident.isdigit():
            raise ValueError
    except ValueError:
        raise BadFilter("malformed page cursor") from None
    return when, int(ident)


@dataclass(frozen=True)
class ShownMention:
    """A mention as the dashboard shows it: title, text and URL with patient data masked.

    ``restricted``: the mention exposes a patient (:func:`monitor.defence.phi.is_restricted`).
    ``hidden``: it is restricted and the viewer is no admin, so ``title`` is empty and ``text``
    is the restricted note; the JSON then gives null for both, as ``repwatch mentions --json``."""

    id: int
    event_at: datetime
    source: str
    entities: tuple[str, ...]
    label: str
    negative: float | None
    causes: tuple[str, ...]
    rating: float | None
    title: str
    text: str
    url: str
    restricted: bool = False
    hidden: bool = False

    @property
    def link(self) -> str:
        """The URL when it may be a link (http or https: never javascript: or data:)."""
        return self.url if self.url.lower().startswith(("https://", "http://")) else ""

    def as_json(self) -> dict:
        return {"id": self.id, "event_at": self.event_at.isoformat(), "source": self.source,
                "entities": list(self.entities), "label": self.label, "negative_score": self.negative,
                "causes": list(self.causes), "rating": self.rating, "restricted": self.restricted,
                "title": None if self.hidden else self.title, "text": None if self.hidden else self.text,
                "url": self.url}


def shown(m: StoredMention, *, admin: bool, language: str) -> ShownMention:
    """``m`` as ``admin`` (or anyone else) sees it, notes in ``language``."""
    restricted = is_restricted(m.title, m.text)
    if restricted and not admin:
        title, text = "", restricted_note(language)
    else:
        title, text = mask_phi(m.title), mask_phi(m.text)
        if len(text) > SHOWN_CHARS:
            text = text[:SHOWN_CHARS] + "…"
    return ShownMention(m.id, m.event_at, m.source_id, m.entities, m.label or "", m.negative_score, tuple(m.causes),
                        m.rating, title, text, mask_url(m.url), restricted, restricted and not admin)


def golden_hour(inc, now: datetime) -> dict:
    """Minutes left before the deadline (negative: past it) for an open incident; time to
    acknowledge and whether it was inside the window once acknowledged."""
    if inc.acked_at is not None:
        took = int((inc.acked_at - inc.first_detected_at).total_seconds() // 60)
        return {"acked": True, "minutes": took, "met": inc.acked_at <= inc.deadline}
    return {"acked": False, "minutes": int((inc.deadline - now).total_seconds() // 60), "met": now <= inc.deadline}


def hourly_series(by_hour: dict[str, int], end: datetime, hours: int) -> list[tuple[datetime, float]]:
    """``hours`` points, one per UTC hour up to ``end``'s hour, zero where there were none."""
    last = end.replace(minute=0, second=0, microsecond=0)
    points = []
    for i in range(hours - 1, -1, -1):
        at = last - timedelta(hours=i)
        points.append((at, float(by_hour.get(at.strftime("%Y-%m-%d %H"), 0))))
    return points


def daily_series(by_hour: dict[str, int], end: datetime, days: int, zone: str) -> list[tuple[datetime, float]]:
    """``days`` points, one per local day in ``zone`` up to ``end``'s day (at local midnight)."""
    tz = ZoneInfo(zone)
    totals: dict[date, int] = {}
    utc = ZoneInfo("UTC")
    for bucket, n in by_hour.items():  # 'YYYY-MM-DD HH', read without strptime (thousands per page)
        at = datetime(int(bucket[:4]), int(bucket[5:7]), int(bucket[8:10]), int(bucket[11:13]), tzinfo=utc)
        day = at.astimezone(tz).date()
        totals[day] = totals.get(day, 0) + n
    today = end.astimezone(tz).date()
    return [(datetime.combine(today - timedelta(days=i), time(0), tz), float(totals.get(today - timedelta(days=i), 0)))
            for i in range(days - 1, -1, -1)]
