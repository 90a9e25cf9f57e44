"""What a connector is given: one source from the config, already validated.

A leaf module (no repwatch imports), so connectors never import :mod:`monitor.config` and
the config may import the connector registry without a cycle. The defaults below are the
only place a source's defaults are written: the config's model of ``[[sources]]``
(:mod:`monitor.config.sources`) reads them from here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Mapping


@dataclass(frozen=True)
class Source:
    id: str
    type: str
    url: str  # the feed or page; for API connectors the API base (their default when not set)
    every: timedelta = timedelta(minutes=15)
    entities: tuple[str, ...] | None = None
    # the entity whose own listing this is (Google Places, Yelp, a Facebook Page...): every item
    # fetched is about it, whether or not its text names it
    about: str | None = None
    timeout: timedelta = timedelta(seconds=20)
    max_bytes: int = 5_000_000
    enabled: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)
    max_pages: int = 5
    silent_after: timedelta | None = None  # None: learned from the source's own history
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    digest: str = ""  # changes when the source's table or its credentials change
