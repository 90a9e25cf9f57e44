"""Access tokens for connectors that log in (OAuth refresh / client credentials,
Bluesky sessions): fetched through the connector's own request path (so retries, rate
limits and error classification apply), cached until shortly before they expire."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from connectors.http import FetchFailed, HttpResponse, decode_json
from monitor.mention import FetchResult


@dataclass
class Token:
    value: str
    expires_at: datetime

    def fresh(self, now: datetime) -> bool:
        return now < self.expires_at - timedelta(seconds=60)


def token_from_response(connector, resp: HttpResponse, field: str = "access_token") -> Token:
    """Read ``{"access_token": .., "expires_in": ..}``; a refusal is an auth failure (FetchFailed)."""
    doc = decode_json(resp)
    value = doc.get(field) if isinstance(doc, dict) else None
    if not value:
        raise FetchFailed(FetchResult("auth_failed", error=f"token endpoint answered without {field!r}",
                                      http_status=resp.status))
    try:
        ttl = int(doc.get("expires_in", 3600))
    except (TypeError, ValueError):
        ttl = 3600
    return Token(value, connector.clock.now() + timedelta(seconds=ttl))


def auth_refused(result: FetchResult, what: str) -> FetchResult:
    """A token request refused with 400 (invalid_grant and friends) is an auth failure."""
    if result.status == "failed" and result.http_status == 400:
        return FetchResult("auth_failed", error=f"{what} refused: {result.error}", http_status=400)
    return result


class TokenCache:
    """One connector's access token: fetched by ``request`` when missing or about to
    expire, dropped when the platform refuses it. A token that cannot be had raises
    FetchFailed (a 400 from the token endpoint as auth_failed)."""

    def __init__(self, connector, what: str, field: str = "access_token"):
        self.connector = connector
        self.what = what
        self.field = field
        self.token: Token | None = None

    def get(self, request: Callable[[], HttpResponse]) -> Token:
        if self.token and self.token.fresh(self.connector.clock.now()):
            return self.token
        try:
            resp = request()
        except FetchFailed as exc:
            raise FetchFailed(auth_refused(exc.result, self.what)) from None
        self.token = token_from_response(self.connector, resp, self.field)
        return self.token

    def drop(self) -> None:
        self.token = None
