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
from connectors.base import HttpConnector, Option, PageRequest, Walk
from connectors.dates import parse_time
from connectors.http import HttpResponse, decode_json
from connectors.payload import SchemaError, dig, stripped
from monitor.mention import FetchResult, Mention


class YoutubeConnector(HttpConnector):
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

    def streams(self) -> list[tuple[str, str]]:
        """The channel's threads, then each listed video's (one quota key for all)."""
        scopes = [("allThreadsRelatedToChannelId", self.opt("channel_id"))] if self.opt("channel_id") else []
        return scopes + [("videoId", v) for v in self.opt("video_ids") or []]

    def stream_label(self, stream: tuple[str, str]) -> str:
        return f"{stream[0]}={stream[1]}"

    def ends_stream(self, failure: FetchResult, walk: Walk) -> str | None:
        if failure.error and "comments are disabled" in failure.error:
            return f"video {walk.stream[1]}: comments are disabled; skipped"
        return None

    def page_request(self, token: str | None, walk: Walk) -> PageRequest:
        key, value = walk.stream
        params = {"part": "snippet", key: value, "maxResults": 100, "order": "time", "textFormat": "plainText"}
        if token:
            params["pageToken"] = token
        return PageRequest(f"{self.base_url}/youtube/v3/commentThreads", params,
                           {"X-Goog-Api-Key": self.secret("api_key_env")})

    def parse_page(self, resp: HttpResponse, walk: Walk) -> str | None:
        doc = decode_json(resp)
        if dig(doc, "kind", default=None) != "youtube#commentThreadListResponse":
            raise SchemaError(f"unexpected kind {dig(doc, 'kind', default=None)!r} (format changed?)")
        old = False
        for item in dig(doc, "items", kind=list):
            sn = dig(item, "snippet", "topLevelComment", "snippet", default=None)
            if not isinstance(sn, dict):
                walk.warnings.append(f"thread {dig(item, 'id', default='?')} has no comment snippet; skipped")
                continue
            when = parse_time(sn.get("publishedAt"))
            if walk.cursor.is_old(when):
                old = True
                continue
            walk.cursor.see(when)
            text = stripped(sn.get("textOriginal") or sn.get("textDisplay"))
            if not text:
                continue
            cid = dig(item, "snippet", "topLevelComment", "id", default=item.get("id"))
            video = sn.get("videoId") or dig(item, "snippet", "videoId", default="")
            walk.mentions.append(Mention(
                source_id=self.source.id, title="", text=text, guid=cid,
                url=f"https://www.youtube.com/watch?v={video}&lc={cid}", author=sn.get("authorDisplayName"),
                published_at=when,
            ))
        return None if old else doc.get("nextPageToken")
