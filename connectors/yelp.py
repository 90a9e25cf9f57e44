"""Yelp reviews of a business, through the Yelp Fusion API
(``/v3/businesses/{id}/reviews``, newest first).

Platform limits: Fusion returns at most **3 review excerpts** (about 160 characters
each) per business on the standard plans; the full text is only on yelp.com. Calls are
capped per day by plan (``RateLimit-DailyLimit`` / ``RateLimit-Remaining`` /
``RateLimit-ResetTime`` headers are honoured) and per second (about 50 QPS).
``time_created`` is Pacific time without an offset (configurable ``timezone``).

Config: ``business_id`` (id or alias, required), ``locale`` (e.g. "zh_TW"),
``timezone`` (default America/Los_Angeles), ``api_key_env`` (YELP_API_KEY).
"""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from connectors.base import HttpConnector, Option, PageRequest, Walk
from connectors.dates import parse_time
from connectors.http import HttpResponse, decode_json
from connectors.payload import dig
from monitor.clock import UTC
from monitor.mention import Mention


def yelp_time(value, zone: str) -> datetime | None:
    """"2026-11-20 17:03:12" in the business's zone -> aware UTC; ISO with offset also works."""
    if not isinstance(value, str):
        return None
    try:
        naive = datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return parse_time(value)
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


class YelpConnector(HttpConnector):
    type: ClassVar[str] = "yelp"
    default_url: ClassVar[str] = "https://api.yelp.com"
    accept: ClassVar[str] = "application/json"
    options: ClassVar[dict[str, Option]] = {
        "business_id": Option(str, required=True, help="Yelp business id or alias"),
        "locale": Option(str, default=None, help="e.g. zh_TW or en_US"),
        "timezone": Option(str, default="America/Los_Angeles", help="zone of time_created"),
        "api_key_env": Option(env=True, required=True, default="YELP_API_KEY"),
    }

    @classmethod
    def check(cls, options: dict) -> list[tuple[str, str]]:
        try:
            ZoneInfo(options.get("timezone") or "America/Los_Angeles")
        except Exception:
            return [("timezone", f"unknown time zone {options.get('timezone')!r}")]
        return []

    def page_request(self, token: None, walk: Walk) -> PageRequest:
        params = {"limit": 20, "sort_by": "newest"}
        if self.opt("locale"):
            params["locale"] = self.opt("locale")
        return PageRequest(f"{self.base_url}/v3/businesses/{quote(self.opt('business_id'), safe='')}/reviews", params,
                           {"Authorization": f"Bearer {self.secret('api_key_env')}"})

    def parse_page(self, resp: HttpResponse, walk: Walk) -> None:
        """The business's review excerpts; there is no next page (at most 3, no paging)."""
        reviews = dig(decode_json(resp), "reviews", kind=list)
        zone = self.opt("timezone")
        for i, r in enumerate(reviews):
            if not isinstance(r, dict):
                walk.warnings.append(f"review #{i + 1} is not an object; skipped")
                continue
            when = yelp_time(r.get("time_created"), zone)
            if when is None:
                walk.warnings.append(f"review {r.get('id', i + 1)}: unknown date format "
                                     f"{str(r.get('time_created'))[:40]!r}")
            if walk.cursor.is_old(when):
                continue
            text = r.get("text")
            text = text.strip() if isinstance(text, str) else (text or "")  # a non-string: Mention names it
            if not text and r.get("rating") is None:
                walk.warnings.append(f"review {r.get('id', i + 1)} has neither text nor a rating; skipped")
                continue
            walk.cursor.see(when)
            walk.mentions.append(Mention(
                source_id=self.source.id, title="", text=text, guid=r.get("id"), url=r.get("url"),
                author=dig(r, "user", "name", default=None), published_at=when, rating=r.get("rating"),
            ))
