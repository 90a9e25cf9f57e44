"""From alerts to notifications, in Alertmanager's vocabulary, plus incidents.

Each run (``Dispatcher.run``, called after the rules with an injected clock):

1. Silenced alerts whose silence has ended, and which are still active, are routed again.
2. New alerts are routed. An alert naming a route (``rule.route``, the ops route) goes
   there; otherwise routes with ``matchers`` are tried in file order, the first match
   wins unless it says ``continue = true``. An alert no route takes is *unrouted*: ops
   hear about it, because a crisis nobody is paged for is the worst failure.
   On its route an alert is then *silenced* (an active silence matches its labels),
   *inhibited* (an active alert matching an inhibit rule's source, with equal labels,
   mutes it; its mentions still join the source's incident), or joins its *group*
   (the route's ``group_by`` labels).
3. Groups are flushed: ``group_wait`` after the first alert, then at most every
   ``group_interval``. Quiet hours hold a flush, unless an alert in it is critical.
   A flush is a page that opens an *incident* (deadline: ``response_window`` after the
   first mention in it was detected), or an update to the group's open incident.
4. Open incidents nobody acknowledged climb the ladder: ``escalate_after`` on the route,
   then ``escalate_to``'s route, and so on. Unacknowledged incidents are repeated to the
   current tier every ``repeat_interval``.
5. Daily digests go out at each route's ``digest_at``.

Every notification is written with its deliveries and the state it changes in one
transaction (:meth:`Store.create_notification`); a page that opens an incident writes the
incident in that same transaction, so a crash never leaves an incident nobody was paged for.
Other state that changes together (an alert and its group, an alert and its copies for
further routes) is written together too (:meth:`Store.write`). :mod:`monitor.outbox` sends them.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from monitor.causes import CAUSES
from monitor.clock import Clock, SystemClock
from monitor.config import Config, Route
from monitor.errors import RepwatchError
from monitor.labels import matches_all, parse_matcher
from monitor.notify import redact
from monitor.render import (AlertView, IncidentView, Message, ack_message, digest_message, incident_message,
                            unrouted_notice)
from monitor.store import AlertRow, GroupRow, IncidentRow, NotificationRow, SilenceRow, StoredMention, Store

log = logging.getLogger("repwatch.dispatch")

SEVERITY_RANK = {"critical": 3, "warning": 2, "info": 1}
DIGEST_GRACE = timedelta(hours=6)  # a digest more than this late is skipped, not sent at a strange hour


class IncidentError(RepwatchError):
    """An ack or resolve that cannot be done (unknown, resolved, bad link)."""


@dataclass
class DispatchReport:
    routed: int = 0
    silenced: int = 0
    inhibited: int = 0
    unrouted: int = 0
    held: int = 0
    notifications: list[int] = field(default_factory=list)


# --------------------------------------------------------------------------- ack links


def sign_ack(secret: str, incident_id: int, expires: datetime) -> str:
    payload = f"{incident_id}.{int(expires.timestamp())}"
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:18]
    return f"{payload}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def verify_ack(secret: str, token: str, now: datetime) -> int:
    """The incident id in a valid, unexpired token; IncidentError otherwise."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise IncidentError("malformed acknowledgement link")
    expected = sign_ack(secret, int(parts[0]), datetime.fromtimestamp(int(parts[1]), now.tzinfo))
    if not hmac.compare_digest(expected, token):
        raise IncidentError("invalid acknowledgement link (signature does not match)")
    if now.timestamp() > int(parts[1]):
        raise IncidentError("this acknowledgement link has expired; use `repwatch ack` instead")
    return int(parts[0])


def clean_name(name: str) -> str:
    """Who acknowledged: untrusted when it comes from a link, so keep it short and plain."""
    text = " ".join("".join(ch for ch in (name or "") if ch.isprintable()).split())[:64]
    if not text:
        raise IncidentError("a name is required (--by NAME)")
    return text


# --------------------------------------------------------------------------- time windows


def quiet_until(route: Route, now: datetime) -> datetime | None:
    """The end of the quiet-hours span ``now`` falls in (route's local time), or None."""
    if not route.quiet_hours:
        return None
    local = now.astimezone(ZoneInfo(route.timezone))
    minute = local.hour * 60 + local.minute
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for start, end in route.quiet_hours:
        if start < end and start <= minute < end:
            return (midnight + timedelta(minutes=end)).astimezone(now.tzinfo)
        if start > end and (minute >= start or minute < end):
            day = midnight + timedelta(days=1) if minute >= start else midnight
            return (day + timedelta(minutes=end)).astimezone(now.tzinfo)
    return None


def _ids(text: str) -> list[int]:
    return json.loads(text or "[]")


class Dispatcher:
    def __init__(self, config: Config, store: Store, clock: Clock | None = None):
        self.config = config
        self.store = store
        self.clock = clock or SystemClock()
        self.routes = {r.id: r for r in config.routes}

    # ------------------------------------------------------------------ run

    def run(self, flush: bool = False) -> DispatchReport:
        """One pass. ``flush``: do not wait for group_wait / group_interval (a one-shot
        ``repwatch poll`` has no later pass to wait for); quiet hours still hold."""
        now = self.clock.now()
        report = DispatchReport()
        self._unsilence(now)
        self._route_new(now, report)
        self._flush_groups(now, report, flush)
        self._escalate_and_repeat(now, report)
        self._digests(now, report)
        return report

    def routes_for(self, labels: dict[str, str]) -> list[Route]:
        if labels.get("route"):
            route = self.routes.get(labels["route"])
            return [route] if route else []
        chosen = []
        for route in self.config.routes:
            if route.matchers and matches_all(route.matchers, labels):
                chosen.append(route)
                if not route.continue_:
                    break
        return chosen

    def _unsilence(self, now: datetime) -> None:
        silenced = self.store.rows(AlertRow, AlertRow.status == "silenced")
        if not silenced:
            return
        active = {s.id for s in self.store.active_silences(now)}
        for alert in silenced:
            if alert.silence_id in active:
                continue
            if alert.active_until is not None and alert.active_until <= now:
                continue  # it stopped firing while silenced
            self.store.update(AlertRow, alert.id, status="new", silence_id=None)

    def _route_new(self, now: datetime, report: DispatchReport) -> None:
        for alert in self.store.rows(AlertRow, AlertRow.status == "new"):
            labels = alert.label_map
            routes = [self.routes[alert.route_id]] if alert.route_id in self.routes else self.routes_for(labels)
            if not routes:
                self._unrouted(alert, labels, now, report)
                continue
            rows = [alert]
            if len(routes) > 1:  # a copy per further route, written with the original's route: routed once
                copies = [AlertRow(**{**alert.model_dump(exclude={"id"}), "route_id": r.id}) for r in routes[1:]]
                rows += self.store.write([(AlertRow, alert.id, {"route_id": routes[0].id})], copies)
            for row, route in zip(rows, routes):
                self._place(row, route, labels, now, report)

    def _unrouted(self, alert: AlertRow, labels: dict, now: datetime, report: DispatchReport) -> None:
        report.unrouted += 1
        log.error("alert %d (rule %s, entity %s) matched no route: nobody is paged for it", alert.id, alert.rule_id,
                  alert.entity_id)
        ops = self.routes.get(self.config.daemon.ops_route or "")
        if ops is None:
            self.store.update(AlertRow, alert.id, status="unrouted")
            return
        msg = unrouted_notice(alert.rule_id, alert.entity_id, alert.severity or "", ops.language)
        report.notifications.append(self._notify(ops, "ops", msg, now, alert_id=alert.id,
                                                 alerts=[(alert.id, {"status": "unrouted"})]).id)

    def silenced_by(self, labels: dict, now: datetime) -> SilenceRow | None:
        for silence in self.store.active_silences(now):
            try:
                matchers = [parse_matcher(m) for m in silence.matcher_list]
            except ValueError:
                continue
            if matches_all(matchers, labels):
                return silence
        return None

    def _place(self, alert: AlertRow, route: Route, labels: dict, now: datetime, report: DispatchReport) -> None:
        silence = self.silenced_by({**labels, "route": route.id}, now)
        if silence is not None:
            report.silenced += 1
            log.info("alert %d silenced by silence %d until %s", alert.id, silence.id, silence.ends_at.isoformat())
            self.store.update(AlertRow, alert.id, status="silenced", silence_id=silence.id, route_id=route.id)
            return
        source = self._inhibitor(alert, labels, now)
        if source is not None:
            report.inhibited += 1
            log.info("alert %d inhibited by alert %d", alert.id, source.id)
            changes = [(AlertRow, alert.id, {"status": "inhibited", "route_id": route.id, "group_id": source.group_id,
                                             "incident_id": source.incident_id})]
            if source.incident_id is not None:
                inc = self.store.get(IncidentRow, source.incident_id)
                merged = sorted(set(inc.mention_id_list) | alert.mention_id_set)
                changes.append((IncidentRow, inc.id, {"mention_ids": json.dumps(merged)}))
            self.store.write(changes)
            return
        key = json.dumps({k: labels.get(k, "") for k in route.group_by}, sort_keys=True, ensure_ascii=False)
        group = self.store.group(route.id, key, key, now)
        changes = [(AlertRow, alert.id, {"status": "grouped", "route_id": route.id, "group_id": group.id})]
        if group.first_pending_at is None:  # with the alert: a grouped alert in a group nobody flushes is a lost page
            changes.append((GroupRow, group.id, {"first_pending_at": now}))
        self.store.write(changes)
        report.routed += 1

    def _inhibitor(self, alert: AlertRow, labels: dict, now: datetime) -> AlertRow | None:
        rules = [r for r in self.config.inhibit if matches_all(r.target, labels)]
        if not rules:
            return None
        active = self.store.rows(AlertRow, AlertRow.status.in_(("grouped", "notified")), AlertRow.active_until > now,
                                 AlertRow.id != alert.id)
        for candidate in active:
            other = candidate.label_map
            for rule in rules:
                if matches_all(rule.source, other) and all(other.get(k, "") == labels.get(k, "") for k in rule.equal):
                    return candidate
        return None

    # ------------------------------------------------------------------ groups and incidents

    def _flush_groups(self, now: datetime, report: DispatchReport, flush: bool = False) -> None:
        for group in self.store.rows(GroupRow, GroupRow.first_pending_at.is_not(None)):
            route = self.routes.get(group.route_id)
            pending = self.store.rows(AlertRow, AlertRow.group_id == group.id, AlertRow.status == "grouped")
            if not pending:
                self.store.update(GroupRow, group.id, first_pending_at=None)
                continue
            if route is None:  # removed from the config: its alerts wait for it to come back
                continue
            due = group.first_pending_at + route.group_wait
            if group.last_notified_at is not None:
                due = max(due, group.last_notified_at + route.group_interval)
            if now < due and not flush:
                continue
            critical = any(a.severity == "critical" for a in pending)
            if not critical and quiet_until(route, now):
                report.held += 1
                continue
            self._page(group, route, pending, now, report)

    def _page(self, group: GroupRow, route: Route, pending: list[AlertRow], now: datetime,
              report: DispatchReport) -> None:
        incident = self.store.get(IncidentRow, group.incident_id) if group.incident_id else None
        if incident is not None and incident.status == "resolved":
            incident = None
        muted = self.store.rows(AlertRow, AlertRow.group_id == group.id, AlertRow.status == "inhibited")
        new_ids = set()
        for a in pending + muted:
            new_ids |= a.mention_id_set
        mentions = self.store.get_mentions(new_ids)
        severity = max((a.severity or "warning" for a in pending), key=lambda s: SEVERITY_RANK.get(s, 0))
        opening = incident is None
        if opening:  # written with its page below, in one transaction
            first = min((m.detected_at for m in mentions), default=now)
            labels = json.loads(group.labels)
            incident = IncidentRow(
                route_id=route.id, group_id=group.id, entity_id=labels.get("entity", pending[0].entity_id),
                labels=group.labels, severity=severity, opened_at=now, first_detected_at=first,
                deadline=first + self.config.incidents.response_window, tier_route=route.id,
                summary=", ".join(sorted({a.rule_id for a in pending})))
        first_page = incident.last_notified_at is None
        kind = "page" if first_page else "update"
        all_ids = sorted(set(incident.mention_id_list) | new_ids)
        if SEVERITY_RANK.get(incident.severity, 0) > SEVERITY_RANK.get(severity, 0):
            severity = incident.severity
        incident_values = {"mention_ids": json.dumps(all_ids), "last_notified_at": now, "severity": severity}
        if first_page:
            incident_values.update(paged_routes=json.dumps([route.id]), tier_route=route.id,
                                   next_escalation_at=now + route.escalate_after if route.escalate_to else None)
        shown = sorted(mentions, key=lambda m: -(m.negative_score or 0)) or self._incident_mentions(incident)

        def render(inc: IncidentRow) -> Message:
            return self._incident_message(kind, inc, pending, shown, route, now, severity)

        if opening:
            for k, v in incident_values.items():
                setattr(incident, k, v)
        note = self._notify(
            route, kind, None if opening else render(incident), now, alert_id=pending[0].id,
            incident_id=incident.id, detected_at=min((m.detected_at for m in mentions), default=None),
            alerts=[(a.id, {"status": "notified", "incident_id": incident.id, "notified_at": now}) for a in pending]
            + [(a.id, {"incident_id": incident.id}) for a in muted],
            incident=None if opening else (incident.id, incident_values),
            group=(group.id, {"first_pending_at": None, "last_notified_at": now}),
            opening=incident if opening else None, render=render if opening else None,
        )
        report.notifications.append(note.id)
        log.warning("incident %d: %s to route %s (%d alerts, %d mentions, deadline %s)", incident.id, kind, route.id,
                    len(pending), len(new_ids), incident.deadline.isoformat())

    def _incident_mentions(self, incident: IncidentRow) -> list[StoredMention]:
        mentions = self.store.get_mentions(incident.mention_id_list)
        return sorted(mentions, key=lambda m: -(m.negative_score or 0))

    def _incident_message(self, kind: str, incident: IncidentRow, alerts: list[AlertRow], mentions, route: Route,
                          now: datetime, severity: str, escalated_from: Route | None = None) -> Message:
        name = self.entity_name(incident.entity_id)
        views = [AlertView(json.loads(a.labels).get("kind", "burst"), a.facts) for a in alerts]
        return incident_message(
            kind, incident.id, severity, name, views, mentions, incident.deadline, now, route.language,
            route.timezone, ack_url=self.ack_url(incident.id, now), escalated_to=route.id,
            escalate_after=escalated_from.escalate_after if escalated_from else None)

    def ack_url(self, incident_id: int, now: datetime) -> str | None:
        inc = self.config.incidents
        if not inc.public_url or not inc.ack_secret:
            return None
        return f"{inc.public_url}/ack/{sign_ack(inc.ack_secret, incident_id, now + inc.link_ttl)}"

    def _escalate_and_repeat(self, now: datetime, report: DispatchReport) -> None:
        for inc in self.store.rows(IncidentRow, IncidentRow.status == "open", IncidentRow.last_notified_at.is_not(None)):
            tier = self.routes.get(inc.tier_route) or self.routes.get(inc.route_id)
            base = self.routes.get(inc.route_id)
            if tier is None or base is None:
                continue
            alerts = self.store.rows(AlertRow, AlertRow.incident_id == inc.id, AlertRow.status == "notified")
            critical = inc.severity == "critical"
            if inc.next_escalation_at is not None and now >= inc.next_escalation_at and tier.escalate_to in self.routes:
                nxt = self.routes[tier.escalate_to]
                if not critical and quiet_until(nxt, now):
                    report.held += 1
                    continue
                msg = self._incident_message("escalation", inc, alerts, self._incident_mentions(inc), nxt, now,
                                             inc.severity, escalated_from=tier)
                paged = inc.routes_paged + [nxt.id]
                note = self._notify(nxt, "escalation", msg, now, alert_id=alerts[0].id if alerts else None,
                                    incident_id=inc.id, incident=(inc.id, {
                                        "tier": inc.tier + 1, "tier_route": nxt.id, "paged_routes": json.dumps(paged),
                                        "last_notified_at": now,
                                        "next_escalation_at": now + nxt.escalate_after if nxt.escalate_to else None}))
                report.notifications.append(note.id)
                log.warning("incident %d not acknowledged: escalated to %s (tier %d)", inc.id, nxt.id, inc.tier + 1)
                continue
            if now >= inc.last_notified_at + base.repeat_interval:
                if not critical and quiet_until(tier, now):
                    report.held += 1
                    continue
                msg = self._incident_message("repeat", inc, alerts, self._incident_mentions(inc), tier, now,
                                             inc.severity)
                note = self._notify(tier, "repeat", msg, now, alert_id=alerts[0].id if alerts else None,
                                    incident_id=inc.id, incident=(inc.id, {"last_notified_at": now}))
                report.notifications.append(note.id)

    # ------------------------------------------------------------------ acknowledgement

    def _incident(self, incident_id: int) -> IncidentRow:
        inc = self.store.get(IncidentRow, incident_id)
        if inc is None:
            raise IncidentError(f"no incident #{incident_id}")
        return inc

    def entity_name(self, entity_id: str) -> str:
        try:
            return self.config.entity(entity_id).name
        except StopIteration:  # removed from the config since
            return entity_id

    def ack(self, incident_id: int, by: str, via: str = "cli") -> IncidentRow:
        now = self.clock.now()
        who = clean_name(by)
        inc = self._incident(incident_id)
        if inc.status == "resolved":
            raise IncidentError(f"incident #{incident_id} is already resolved")
        if inc.status == "acked":
            return inc
        inc = self.store.update(IncidentRow, incident_id, status="acked", acked_at=now, acked_by=who, ack_via=via,
                                next_escalation_at=None)
        log.warning("incident %d acknowledged by %s via %s", incident_id, who, via)
        name = self.entity_name(inc.entity_id)
        first = self.store.rows(AlertRow, AlertRow.incident_id == inc.id, limit=1)
        for route_id in inc.routes_paged:
            route = self.routes.get(route_id)
            if route is None:
                continue
            msg = ack_message(inc.id, name, who, via, now, inc.first_detected_at, inc.deadline, route.language,
                              route.timezone)
            self._notify(route, "ack", msg, now, alert_id=first[0].id if first else None, incident_id=inc.id)
        return inc

    def resolve(self, incident_id: int, by: str) -> IncidentRow:
        now = self.clock.now()
        who = clean_name(by)
        inc = self._incident(incident_id)
        if inc.status == "resolved":
            return inc
        values = {"status": "resolved", "resolved_at": now, "resolved_by": who, "next_escalation_at": None}
        if inc.acked_at is None:  # resolving is also owning it
            values.update(acked_at=now, acked_by=who, ack_via="resolve")
        inc = self.store.update(IncidentRow, incident_id, **values)
        if inc.group_id is not None:
            group = self.store.get(GroupRow, inc.group_id)
            if group is not None and group.incident_id == inc.id:
                self.store.update(GroupRow, group.id, incident_id=None)
        log.warning("incident %d resolved by %s", incident_id, who)
        return inc

    # ------------------------------------------------------------------ digests

    def _digests(self, now: datetime, report: DispatchReport) -> None:
        for route in self.config.routes:
            if route.digest_at is None:
                continue
            local = now.astimezone(ZoneInfo(route.timezone))
            due = local.replace(hour=route.digest_at[0], minute=route.digest_at[1], second=0, microsecond=0)
            if local < due:
                due -= timedelta(days=1)
            last = self.store.rows(NotificationRow, NotificationRow.route_id == route.id,
                                   NotificationRow.kind == "digest", order_by=NotificationRow.id.desc(), limit=1)
            if last and last[0].created_at >= due.astimezone(now.tzinfo):
                continue
            if now - due > DIGEST_GRACE:
                continue  # far too late (the daemon was down, or it just started): wait for the next one
            report.notifications.append(self.send_digest(route, now).id)

    def send_digest(self, route: Route, now: datetime) -> NotificationRow:
        """Queue a digest. A marker alert records it (every delivery names an alert, which
        databases made by repwatch < 0.2 require)."""
        msg = self.digest(route, now)
        marker = self.store.add(AlertRow(rule_id="digest", entity_id="*", fired_at=now, window_start=now
                                         - timedelta(days=1), labels=json.dumps({"kind": "digest"}),
                                         severity="info", status="notified", route_id=route.id, notified_at=now))
        return self._notify(route, "digest", msg, now, alert_id=marker.id)

    def digest(self, route: Route, now: datetime) -> Message:
        since = now - timedelta(days=1)
        threshold = self.config.sentiment.negative_threshold
        names = {e.id: e.name for e in self.config.entities}
        by_entity: dict[str, list[int]] = {}
        by_source: dict[str, list[int]] = {}
        worst: list[StoredMention] = []
        seen: set[int] = set()
        for mention, entity_id in self.store.detected_with_entities(since, now):
            negative = mention.negative_score is not None and mention.negative_score >= threshold
            e = by_entity.setdefault(entity_id, [0, 0])
            e[0] += 1
            e[1] += negative
            if mention.id in seen:
                continue
            seen.add(mention.id)
            src = by_source.setdefault(mention.source_id, [0, 0])
            src[0] += 1
            src[1] += negative
            if negative:
                worst.append(mention)
        worst.sort(key=lambda m: -(m.negative_score or 0))
        causes = Counter(c for m in worst for c in m.causes)
        incidents = [IncidentView(i.id, names.get(i.entity_id, i.entity_id), i.status, i.acked_by, i.deadline)
                     for i in self.store.incidents(open_only=True)]
        day = now.astimezone(ZoneInfo(route.timezone)).strftime("%Y-%m-%d")
        return digest_message(
            day, sorted(((names.get(k, k), v[0], v[1]) for k, v in by_entity.items()), key=lambda r: (-r[2], -r[1])),
            sorted(((k, v[0], v[1]) for k, v in by_source.items()), key=lambda r: (-r[2], -r[1])),
            worst[:5], incidents, route.language, route.timezone,
            sorted(causes.items(), key=lambda kv: (-kv[1], CAUSES.index(kv[0]))))

    # ------------------------------------------------------------------ writing

    def _notify(self, route: Route, kind: str, msg: Message | None, now: datetime, *, alert_id: int | None = None,
                incident_id: int | None = None, detected_at: datetime | None = None, alerts=(), incident=None,
                group=None, opening: IncidentRow | None = None,
                render: Callable[[IncidentRow], Message] | None = None) -> NotificationRow:
        """Write one notification. ``opening``: the incident it opens, written with it; its
        message is then ``render(incident)``, made once the incident has its id."""
        note = NotificationRow(route_id=route.id, kind=kind, alert_id=alert_id, incident_id=incident_id,
                               created_at=now, language=route.language, detected_at=detected_at)
        if msg is not None:
            note.title, note.text, note.markdown, note.html = msg.title, msg.text, msg.markdown, msg.html
        targets = [(route.id, i, redact(url)) for i, url in enumerate(route.notify)]
        if not targets:
            log.error("route %s has no notify URLs: its %s notification goes nowhere", route.id, kind)
        return self.store.create_notification(note, targets, alerts=alerts, incident=incident, group=group,
                                              opening=opening, render=render)

    def notify(self, route: Route, kind: str, msg: Message, *, alert_id: int | None = None) -> NotificationRow:
        """Queue a message outside the incident flow (ops notices)."""
        return self._notify(route, kind, msg, self.clock.now(), alert_id=alert_id)

    def silence(self, matchers: list[str], ends_at: datetime, by: str, comment: str) -> SilenceRow:
        now = self.clock.now()
        try:
            parsed = [parse_matcher(m) for m in matchers]
        except ValueError as exc:
            raise IncidentError(str(exc)) from None
        if not parsed:
            raise IncidentError("a silence needs at least one matcher, e.g. 'entity=\"dr-lin\"'")
        if ends_at <= now:
            raise IncidentError("a silence must end in the future")
        return self.store.add(SilenceRow(matchers=json.dumps([str(m) for m in parsed], ensure_ascii=False),
                                         starts_at=now, ends_at=ends_at, created_by=clean_name(by),
                                         comment=(comment or "")[:500], created_at=now))

    def expire_silence(self, silence_id: int) -> SilenceRow:
        row = self.store.get(SilenceRow, silence_id)
        if row is None:
            raise IncidentError(f"no silence #{silence_id}")
        now = self.clock.now()
        if row.ends_at > now:
            row = self.store.update(SilenceRow, silence_id, ends_at=now)
        return row
