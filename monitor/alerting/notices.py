"""Source health as alerts. A blocked, auth-failed or silent source is noticed at once, a
failing one after ``failures_before_notice`` polls; the notice repeats every
``notice_repeat`` until the source recovers, then one "recovered" notice follows.

Each notice is an ordinary labelled alert (kind ``source-health``; labels ``source``,
``type``, ``state``, ``severity``, and ``route``: the ops route, never a crisis route)
that the dispatcher routes, silences and inhibits like any other. It is not grouped
and opens no incident: an ops notice is about one source and goes out at once."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Iterator, Mapping

from monitor.alerting.facts import SourceHealthFacts
from monitor.config import Config, Source
from monitor.health import Health, source_health
from monitor.store import SourceStateRow, Store
from monitor.store.alerts import NewAlert

KIND = "source-health"
log = logging.getLogger("repwatch")


def due_notices(config: Config, states: Mapping[str, SourceStateRow],
                now: datetime) -> Iterator[tuple[Source, SourceStateRow, Health, str]]:
    """(source, its state row, its health, the state to notice) for each notice due now."""
    daemon = config.daemon
    for source in config.sources:
        row = states.get(source.id)
        if row is None:
            continue
        health = source_health(source, row, now)
        if health.problem and (health.state != "failing" or row.consecutive_failures >= daemon.failures_before_notice):
            repeat = row.notice_at is None or now - row.notice_at >= daemon.notice_repeat
            if row.notice_state != health.state or repeat:
                yield source, row, health, health.state
        elif health.state == "ok" and row.notice_state:
            yield source, row, health, "recovered"


def health_alert(source: Source, row: SourceStateRow, health: Health, state: str, route_id: str, now: datetime,
                 repeat_after) -> NewAlert:
    """The alert for one notice. It fires until the next notice would be due (a recovery: not at all)."""
    labels = {"rule": KIND, "kind": KIND, "severity": "warning", "source": source.id, "type": source.type,
              "state": state, "route": route_id}
    facts = SourceHealthFacts(source=source.id, type=source.type, state=state, reason=health.reason,
                              failures=row.consecutive_failures, last_success=row.last_success_at)
    return NewAlert(rule_id=KIND, entity_id=f"source:{source.id}", fired_at=now, window_start=now, labels=labels,
                    severity="warning", facts=facts, title=f"source {source.id}: {state}",
                    count=row.consecutive_failures, active_until=now if state == "recovered" else now + repeat_after)


def raise_notices(config: Config, store: Store, now: datetime) -> list[int]:
    """Raise each notice due now for ``daemon.ops_route`` (written with the source's notice
    state); the ids of the alerts. Without an ops route nobody is told, and the log says so."""
    route_id = config.daemon.ops_route
    raised = []
    for source, row, health, state in due_notices(config, store.source_states(), now):
        log.warning("source %s: ops notice (%s): %s", source.id, state, health.reason)
        notice_state = None if state == "recovered" else state
        if not route_id:
            log.error("source %s is %s but [daemon] ops_route is not set: nobody is told", source.id, state)
            store.record_notice(source.id, notice_state, now)
            continue
        new = health_alert(source, row, health, state, route_id, now, config.daemon.notice_repeat)
        raised.append(store.raise_notice(new, source.id, notice_state).id)
    return raised
