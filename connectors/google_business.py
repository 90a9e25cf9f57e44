"""Reviews of a listing the clinic owns, through the Google Business Profile API
(``accounts/{account}/locations/{location}/reviews``), newest first, 50 per page.

Unlike Places, this returns every review, and replies. The pages read are a complete
listing (newest update first) back to the oldest review on them, so a stored review
created after that and missing from them was removed (a tombstone; see
:class:`connectors.evidence.KeepsEvidence`). It needs OAuth: the clinic's
Google account grants ``business.manage`` once; repwatch keeps only the refresh token
(environment) and trades it for an access token at https://oauth2.googleapis.com/token.
Access to the API is granted per project by Google (a quota of 0 until approved).

Config: ``account_id``, ``location_id`` (required); credentials from the environment:
``client_id_env`` (GOOGLE_CLIENT_ID), ``client_secret_env`` (GOOGLE_CLIENT_SECRET),
``refresh_token_env`` (GOOGLE_REFRESH_TOKEN). ``token_url`` overrides the token
endpoint (fixture replay).
"""
from __future__ import annotations

import re
from typing import ClassVar

import httpx

from connectors._google import classify_google
from connectors._oauth import Token, TokenCache
from connectors.base import HttpConnector, Option, PageRequest, Walk
from connectors.dates import parse_time
from connectors.http import HttpResponse, decode_json
from connectors.payload import SchemaError, dig, stripped
from monitor.mention import FetchResult, Mention

STARS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}
_TRANSLATED = re.compile(r"^\(Translated by Google\).*?\n\n\(Original\)\n(.*)$", re.S)


def original_comment(comment: str) -> str:
    """Business Profile appends Google's translation; keep the reviewer's own words."""
    m = _TRANSLATED.match(comment)
    return m.group(1).strip() if m else comment.strip()


class GoogleBusinessConnector(HttpConnector):
    type: ClassVar[str] = "google_business"
    default_url: ClassVar[str] = "https://mybusiness.googleapis.com"
    accept: ClassVar[str] = "application/json"
    options: ClassVar[dict[str, Option]] = {
        "account_id": Option(str, required=True, help="Business Profile account id (digits)"),
        "location_id": Option(str, required=True, help="location id (digits)"),
        "token_url": Option(str, default="https://oauth2.googleapis.com/token", help="OAuth token endpoint"),
        "client_id_env": Option(env=True, required=True, default="GOOGLE_CLIENT_ID"),
        "client_secret_env": Option(env=True, required=True, default="GOOGLE_CLIENT_SECRET"),
        "refresh_token_env": Option(env=True, required=True, default="GOOGLE_REFRESH_TOKEN"),
    }

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._tokens = TokenCache(self, "OAuth refresh token")

    def classify(self, status: int, headers: httpx.Headers, head: bytes) -> FetchResult | None:
        return classify_google(status, head, self.clock.now()) or super().classify(status, headers, head)

    def _access_token(self) -> Token:
        return self._tokens.get(lambda: self.request("POST", self.opt("token_url"), data={
            "grant_type": "refresh_token", "refresh_token": self.secret("refresh_token_env"),
            "client_id": self.secret("client_id_env"), "client_secret": self.secret("client_secret_env")}))

    def forget_credentials(self) -> None:
        self._tokens.drop()

    def page_request(self, token: str | None, walk: Walk) -> PageRequest:
        access = self._access_token()
        params = {"pageSize": 50, "orderBy": "updateTime desc"}
        if token:
            params["pageToken"] = token
        return PageRequest(f"{self.base_url}/v4/accounts/{self.opt('account_id')}/locations/"
                           f"{self.opt('location_id')}/reviews", params, {"Authorization": f"Bearer {access.value}"})

    def parse_page(self, resp: HttpResponse, walk: Walk) -> str | None:
        doc = decode_json(resp)
        if not isinstance(doc, dict) or not ("reviews" in doc or "totalReviewCount" in doc or doc == {}):
            raise SchemaError("response has neither 'reviews' nor 'totalReviewCount' (format changed?)")
        reached_old = False
        for r in dig(doc, "reviews", kind=list, default=[]):
            if not isinstance(r, dict):
                walk.warnings.append("a review is not an object; skipped")
                self.list_unnamed()
                continue
            when = parse_time(r.get("updateTime") or r.get("createTime"))
            guid = r.get("name") or r.get("reviewId")
            if isinstance(guid, str) and guid.strip():
                self.list_item(guid.strip(), when)
            else:
                self.list_unnamed()
            if walk.cursor.is_old(when):
                reached_old = True
                continue
            walk.cursor.see(when)
            text = stripped(r.get("comment"))
            text = original_comment(text) if isinstance(text, str) else text  # else Mention names it
            star = r.get("starRating")
            stars = STARS.get(star) if isinstance(star, str) else None
            if not text and stars is None:
                walk.warnings.append(f"review {str(r.get('reviewId', '?'))[:80]} has neither text nor stars; skipped")
                continue
            reviewer = r.get("reviewer") if isinstance(r.get("reviewer"), dict) else {}
            walk.mentions.append(Mention(
                source_id=self.source.id, title="", text=text, guid=r.get("name") or r.get("reviewId"),
                author=None if reviewer.get("isAnonymous") else reviewer.get("displayName"),
                published_at=parse_time(r.get("createTime")) or when, rating=stars,
            ))
        token = None if reached_old else doc.get("nextPageToken")
        if not token:  # newest first: every review updated since the oldest one named is listed
            self.list_covered()
        return token
