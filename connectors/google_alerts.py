"""Google Alerts, delivered as an Atom feed ("Deliver to: RSS feed").

Differences from a plain feed: entry links are Google redirects
(``https://www.google.com/url?rct=j&sa=t&url=<real>&ct=ga&cd=..&usg=..``) and are
unwrapped to the real article; titles and snippets carry ``<b>`` highlight markup,
which is stripped; entry ids (``tag:google.com,2013:googlealerts/feed:N``) are
unique per *alert*, so the same article found by two alerts would get two ids:
the unwrapped article URL is used as the identity instead.
"""
from __future__ import annotations

from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

from connectors.rss import RssConnector


def unwrap_google_url(url: str | None) -> str | None:
    if not url or not isinstance(url, str):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[::1": an unclosed IPv6 bracket; Mention keeps it as text
        return url
    host = parts.netloc.lower()
    if (host == "google.com" or host.startswith("www.google.")) and parts.path == "/url":
        qs = parse_qs(parts.query)
        for key in ("url", "q"):
            target = qs.get(key, [None])[0]
            if target and target.startswith(("http://", "https://")):
                return target
    return url


class GoogleAlertsConnector(RssConnector):
    type: ClassVar[str] = "google_alerts"

    def entry_link(self, entry) -> str | None:
        return unwrap_google_url(entry.get("link"))

    def entry_guid(self, entry) -> str | None:
        return None  # per-alert ids; the article URL is the identity (see module doc)
