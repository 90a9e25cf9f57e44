"""Comments on a YouTube channel's videos: YouTube Data API v3 ``commentThreads``
(top-level comments, newest first), by channel or by a list of videos.

Platform limits: an API key with 10,000 quota units a day; each page costs 1 unit.
An exhausted quota is a 403 ``quotaExceeded``: it is "rate limited until midnight
Pacific", not an auth failure. Videos with comments turned off are skipped with a
warning. The key is sent as the ``X-Goog-Api-Key`` header, never in the URL.

Config: ``channel_id`` (UC..., all threads related to the channel) or ``video_ids``
(a list), ``api_key_env`` (YOUTUBE_API_KEY).
"""
from __future__ import annotations

from typing import ClassVar

import httpx

from connectors._google import classify_google
from connectors.base import (Connector, FetchContext, Option, Pages, SchemaError, cursor_time, decode_json, dig,
                             newest, parse_time, stripped)
from monitor.mention import FetchResult, Mention


class YoutubeConnector(Connector):
    type: ClassVar[str] = "youtube"
    default_url: ClassVar[str] = "https://www.googleapis.com"
    accept: ClassVar[str] = "application/json"
    options: ClassVar[dict[str, Option]] = {
        "channel_id": Option(str, default=None, help="channel id (UC...)"),
        "video_ids": Option(list, default=None, help="video ids, instead of or beside the channel"),
        "api_key_env": Option(env=True, required=True, default="YOUTUBE_API_KEY"),
    }

    @classmethod
    def check(cls, options: dict) -> list[tuple[str, str]]:
        if not options.get("channel_id") and not options.get("video_ids"):
            return [("channel_id", "set channel_id or video_ids")]
        if options.get("video_ids") and not all(isinstance(v, str) and v for v in options["video_ids"]):
            return [("video_ids", "must be a list of video id strings")]
        return []

    def classify(self, status: int, headers: httpx.Headers, head: bytes) -> FetchResult | None:
        if status == 403 and b"commentsDisabled" in head:
            return FetchResult("failed", error="comments are disabled on this video", http_status=403)
        return classify_google(status, head, self.clock.now()) or super().classify(status, headers, head)

    def fetch(self, ctx: FetchContext) -> FetchResult:
        since = cursor_time(ctx)
        top, mentions, warnings = since, [], []
        scopes = []
        if self.opt("channel_id"):
            scopes.append(("allThreadsRelatedToChannelId", self.opt("channel_id")))
        scopes += [("videoId", v) for v in self.opt("video_ids") or []]
        failures = []
        for key, value in scopes:
            result = self._scope(key, value, since, mentions, warnings)
            if isinstance(result, FetchResult):
                if result.error and "comments are disabled" in result.error:
                    warnings.append(f"video {value}: comments are disabled; skipped")
                    continue
                if result.status in ("auth_failed", "rate_limited", "blocked"):
                    return result  # the key or quota is shared: the other scopes would fail the same way
                failures.append(f"{key}={value}: {result.error}")
                continue
            top = newest(top, result)
        if failures and not mentions and len(failures) == len(scopes):
            return FetchResult("failed", error="; ".join(failures))
        warnings += failures
        return self.ok(mentions, top.isoformat() if top else ctx.cursor, warnings)

    def _scope(self, key: str, value: str, since, mentions: list, warnings: list):
        """Read one channel's or video's threads; return the newest time seen or a FetchResult."""
        top = None
        pages, token = Pages(self.source.max_pages), None
        while pages.next(token):
            params = {"part": "snippet", key: value, "maxResults": 100, "order": "time", "textFormat": "plainText"}
            if token:
                params["pageToken"] = token
            resp = self.get(f"{self.base_url}/youtube/v3/commentThreads", params=params,
                            headers={"X-Goog-Api-Key": self.secret("api_key_env")})
            if isinstance(resp, FetchResult):
                return resp
            doc = decode_json(resp)
            if isinstance(doc, FetchResult):
                return doc
            try:
                if dig(doc, "kind", default=None) != "youtube#commentThreadListResponse":
                    raise SchemaError(f"unexpected kind {dig(doc, 'kind', default=None)!r} (format changed?)")
                items = dig(doc, "items", kind=list)
            except SchemaError as exc:
                return FetchResult("failed", error=str(exc), http_status=resp.status)
            old = False
            for item in items:
                sn = dig(item, "snippet", "topLevelComment", "snippet", default=None)
                if not isinstance(sn, dict):
                    warnings.append(f"thread {dig(item, 'id', default='?')} has no comment snippet; skipped")
                    continue
                when = parse_time(sn.get("publishedAt"))
                if since and when and when <= since:
                    old = True
                    continue
                top = newest(top, when)
                text = stripped(sn.get("textOriginal") or sn.get("textDisplay"))
                if not text:
                    continue
                cid = dig(item, "snippet", "topLevelComment", "id", default=item.get("id"))
                video = sn.get("videoId") or dig(item, "snippet", "videoId", default="")
                mentions.append(Mention(
                    source_id=self.source.id, title="", text=text, guid=cid,
                    url=f"https://www.youtube.com/watch?v={video}&lc={cid}", author=sn.get("authorDisplayName"),
                    published_at=when,
                ))
            token = None if old else doc.get("nextPageToken")
        if pages.warning:
            warnings.append(pages.warning)
        return top
