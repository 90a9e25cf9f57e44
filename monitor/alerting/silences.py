"""Silences: matchers that mute the alerts they match until they end (Alertmanager's
``silence/``). A silence is checked with the route an alert is on as label ``route``."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Mapping, Sequence

from monitor.errors import RepwatchError
from monitor.labels import Matcher, matches_all, parse_matcher
from monitor.store import SilenceRow


class SilenceError(RepwatchError):
    """A silence that cannot be made (bad matcher, none, already over)."""


def silenced_by(silences: Iterable[SilenceRow], labels: Mapping[str, str]) -> SilenceRow | None:
    """The first of ``silences`` (active ones) whose matchers all match ``labels``. A stored
    silence whose matchers no longer parse matches nothing."""
    for silence in silences:
        try:
            matchers = [parse_matcher(m) for m in silence.matcher_list]
        except ValueError:
            continue
        if matches_all(matchers, labels):
            return silence
    return None


def checked_matchers(matchers: Sequence[str], ends_at: datetime, now: datetime) -> list[Matcher]:
    """The matchers of a new silence, parsed; SilenceError says what is wrong."""
    try:
        parsed = [parse_matcher(m) for m in matchers]
    except ValueError as exc:
        raise SilenceError(str(exc)) from None
    if not parsed:
        raise SilenceError("a silence needs at least one matcher, e.g. 'entity=\"dr-lin\"'")
    if ends_at <= now:
        raise SilenceError("a silence must end in the future")
    return parsed
