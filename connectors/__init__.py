"""Connectors: one module per source type. A connector turns a source into Mentions.

Connectors only *produce* data: they return a :class:`monitor.mention.FetchResult`
and never touch the database, the model or the notifier.

Built-in connectors are listed in ``BUILTIN``; third-party ones register through the
``repwatch.connectors`` entry-point group (``name = "package.module:Class"``).
"""
from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import entry_points

from connectors.base import Connector, FetchContext, HttpConnector
from connectors.http import FetchFailed, HostLimiter, HttpPolicy
from connectors.bluesky import BlueskyConnector
from connectors.dcard import DcardConnector
from connectors.facebook_page import FacebookPageConnector
from connectors.google_alerts import GoogleAlertsConnector
from connectors.google_business import GoogleBusinessConnector
from connectors.google_places import GooglePlacesConnector
from connectors.html import HtmlConnector
from connectors.mastodon import MastodonConnector
from connectors.ptt import PttConnector
from connectors.reddit import RedditConnector
from connectors.rss import RssConnector
from connectors.x import XConnector
from connectors.yelp import YelpConnector
from connectors.youtube import YoutubeConnector

BUILTIN: tuple[type[Connector], ...] = (
    RssConnector, GoogleAlertsConnector, HtmlConnector, GooglePlacesConnector, GoogleBusinessConnector,
    YelpConnector, FacebookPageConnector, RedditConnector, BlueskyConnector, MastodonConnector, XConnector,
    YoutubeConnector, PttConnector, DcardConnector,
)

__all__ = ["BUILTIN", "Connector", "FetchContext", "FetchFailed", "HostLimiter", "HttpConnector", "HttpPolicy",
           "registry"]

log = logging.getLogger(__name__)


def registry() -> dict[str, type[Connector]]:
    """Every known connector class by its ``type`` name (built-ins win on a clash).

    A plugin whose entry point or module fails to load is left out with a warning
    naming it and the error: it must not take the built-ins down, nor vanish unseen.
    Plugins are looked up once per process (reading every installed package's metadata
    takes some 12 ms, and each config load asks): a plugin installed later is found by
    the next start."""
    found = dict(plugins())
    for cls in BUILTIN:
        found[cls.type] = cls
    return found


@lru_cache(maxsize=1)
def plugins() -> tuple[tuple[str, type[Connector]], ...]:
    """The ``repwatch.connectors`` entry points that load, as (type, class); cached
    (``plugins.cache_clear()`` looks again)."""
    found = []
    for ep in entry_points(group="repwatch.connectors"):
        try:
            cls = ep.load()
        except Exception as exc:
            log.warning("connector plugin %r (%s) failed to load, left out: %s: %s", ep.name, ep.value,
                        type(exc).__name__, exc)
            continue
        found.append((getattr(cls, "type", ep.name), cls))
    return tuple(found)
