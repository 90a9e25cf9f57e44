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
from connectors.base import (Connector, FetchContext, Option, SchemaError, cursor_time, decode_json, dig, newest,
                             parse_time, stripped)
from monitor.mention import FetchResult, Mention


class GooglePlacesConnector(Connector):
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

    def fetch(self, ctx: FetchContext) -> FetchResult:
        url = f"{self.base_url}/v1/places/{quote(self.opt('place_id'), safe='')}"
        resp = self.get(url, headers={"X-Goog-Api-Key": self.secret("api_key_env"),
                                      "X-Goog-FieldMask": "id,displayName,reviews"},
                        params={"languageCode": self.opt("language")})
        if isinstance(resp, FetchResult):
            return resp
        doc = decode_json(resp)
        if isinstance(doc, FetchResult):
            return doc
        try:
            if not isinstance(doc, dict) or "id" not in doc:
                raise SchemaError("response has no place 'id' (the API's format may have changed)")
            reviews = dig(doc, "reviews", kind=list, default=[])
        except SchemaError as exc:
            return FetchResult("failed", error=str(exc), http_status=resp.status)
        since = cursor_time(ctx)
        top, mentions, warnings = since, [], []
        for i, r in enumerate(reviews):
            if not isinstance(r, dict):
                warnings.append(f"review #{i + 1} is not an object; skipped")
                continue
            text = stripped(dig(r, "originalText", "text", default="") or dig(r, "text", "text", default=""))
            when = parse_time(r.get("publishTime"))
            if r.get("publishTime") and when is None:
                warnings.append(f"review #{i + 1}: unknown date format {str(r.get('publishTime'))[:40]!r}")
            if not text and r.get("rating") is None:
                warnings.append(f"review #{i + 1} has neither text nor a rating; skipped")
                continue
            if since and when and when <= since:
                continue
            top = newest(top, when)
            mentions.append(Mention(
                source_id=self.source.id, title="", text=text, guid=r.get("name") or None,
                url=r.get("googleMapsUri") or None,
                author=dig(r, "authorAttribution", "displayName", default=None),
                published_at=when, rating=r.get("rating"),
                lang=dig(r, "originalText", "languageCode", default=None),
            ))
        return self.ok(mentions, top.isoformat() if top else ctx.cursor, warnings, resp)
