"""Google Maps reviews of a place, through the Places API (New) Place Details.

Platform limits: the API returns at most **5 reviews** per place (Google picks them,
by relevance), with no paging and no "newest" sort; use ``google_business`` for
the full list of a listing the clinic owns. Billing: each call is a Place Details
(Enterprise + Atmosphere SKU because of the ``reviews`` field); poll hourly or less.

Config: ``place_id`` (required), ``language`` (e.g. "zh-TW"), ``api_key_env``
(default ``GOOGLE_PLACES_API_KEY``).
"""
from __future__ import annotations

from typing import ClassVar
from urllib.parse import quote

import httpx

from connectors._google import classify_google
from connectors.base import HttpConnector, Option, PageRequest, Walk
from connectors.dates import parse_time
from connectors.http import HttpResponse, decode_json
from connectors.payload import SchemaError, dig, stripped
from monitor.mention import FetchResult, Mention


class GooglePlacesConnector(HttpConnector):
    type: ClassVar[str] = "google_places"
    default_url: ClassVar[str] = "https://places.googleapis.com"
    accept: ClassVar[str] = "application/json"
    options: ClassVar[dict[str, Option]] = {
        "place_id": Option(str, required=True, help="the Google place id, e.g. ChIJ..."),
        "language": Option(str, default="zh-TW", help="languageCode for review text"),
        "api_key_env": Option(env=True, required=True, default="GOOGLE_PLACES_API_KEY",
                              help="API key with the Places API (New) enabled"),
    }

    def classify(self, status: int, headers: httpx.Headers, head: bytes) -> FetchResult | None:
        return classify_google(status, head, self.clock.now()) or super().classify(status, headers, head)

    def page_request(self, token: None, walk: Walk) -> PageRequest:
        return PageRequest(f"{self.base_url}/v1/places/{quote(self.opt('place_id'), safe='')}",
                           {"languageCode": self.opt("language")},
                           {"X-Goog-Api-Key": self.secret("api_key_env"), "X-Goog-FieldMask": "id,displayName,reviews"})

    def parse_page(self, resp: HttpResponse, walk: Walk) -> None:
        """The place's reviews; there is no next page (at most 5 reviews, no paging)."""
        doc = decode_json(resp)
        if not isinstance(doc, dict) or "id" not in doc:
            raise SchemaError("response has no place 'id' (the API's format may have changed)")
        for i, r in enumerate(dig(doc, "reviews", kind=list, default=[])):
            if not isinstance(r, dict):
                walk.warnings.append(f"review #{i + 1} is not an object; skipped")
                continue
            text = stripped(dig(r, "originalText", "text", default="") or dig(r, "text", "text", default=""))
            when = parse_time(r.get("publishTime"))
            if r.get("publishTime") and when is None:
                walk.warnings.append(f"review #{i + 1}: unknown date format {str(r.get('publishTime'))[:40]!r}")
            if not text and r.get("rating") is None:
                walk.warnings.append(f"review #{i + 1} has neither text nor a rating; skipped")
                continue
            if walk.cursor.is_old(when):
                continue
            walk.cursor.see(when)
            walk.mentions.append(Mention(
                source_id=self.source.id, title="", text=text, guid=r.get("name") or None,
                url=r.get("googleMapsUri") or None,
                author=dig(r, "authorAttribution", "displayName", default=None),
                published_at=when, rating=r.get("rating"),
                lang=dig(r, "originalText", "languageCode", default=None),
            ))
