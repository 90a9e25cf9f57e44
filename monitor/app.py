"""The wiring: one place where the stages meet, in the order data flows.

    poll_source:  connector.fetch -> Mention -> match -> store (insert-once)
    process:      score (batches) -> rules -> outbox deliveries -> notify

Connectors never see the store, the model or the notifier; each stage gets only what
the previous one produced. ``poll_source`` may run for several sources at once (one
scheduler job each); ``process`` is serialised by a lock so scoring and paging happen
once per new batch of mentions.

Logs carry ids, counts and statuses, never mention text (it can hold patient data)
and never notification URLs (they hold secrets).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from connectors import registry
from connectors.base import FetchContext, HostLimiter, HttpPolicy
from monitor.clock import Clock, SystemClock
from monitor.config import Config
from monitor.health import Health, source_health
from monitor.matching import Matcher
from monitor.mention import FetchResult, join_title_text
from monitor.notify import Notifier, redact
from monitor.render import burst_message, ops_notice
from monitor.rules import evaluate_burst
from monitor.sentiment import Scorer
from monitor.storage import AlertRow, Store

log = logging.getLogger("repwatch")

GOLDEN_HOUR = timedelta(hours=1)
MAX_DELIVERY_ATTEMPTS = 8


@dataclass
class PollReport:
    source_id: str
    status: str
    fetched: int = 0
    matched: int = 0
    new: int = 0
    error: str | None = None
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass
class ProcessReport:
    scored: int = 0
    alerts: list[int] = field(default_factory=list)
    notices: list[int] = field(default_factory=list)
    sent: int = 0
    failed: int = 0
    score_error: str | None = None


def delivery_backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... capped at 15 min."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 900))


class App:
    def __init__(self, config: Config, *, scorer: Scorer, store: Store | None = None,
                 notifier: Notifier | None = None, clock: Clock | None = None,
                 client: httpx.Client | None = None, policy: HttpPolicy | None = None):
        self.config = config
        self.clock = clock or SystemClock()
        self.store = store or Store(config.storage.url)
        self.scorer = scorer
        self.notifier = notifier or Notifier()
        self.matcher = Matcher(config.entities)
        self._own_client = client is None
        self.client = client or httpx.Client(
            follow_redirects=True,
            max_redirects=5,
            limits=httpx.Limits(max_connections=config.daemon.max_connections),
        )
        known = registry()
        self.limiter = HostLimiter(dict(config.daemon.rate_limits))
        self.connectors = {
            s.id: known[s.type](s, self.client, self.clock, policy, config.daemon.user_agent, self.limiter)
            for s in config.sources
        }
        self._process_lock = threading.Lock()

    def close(self) -> None:
        if self._own_client:
            self.client.close()
        self.store.close()

    # ------------------------------------------------------------------ poll

    def poll_source(self, source_id: str) -> PollReport:
        source = self.config.source(source_id)
        started = time.perf_counter()
        now = self.clock.now()
        state = self.store.source_state(source_id)
        if state.status == "auth_failed" and state.config_digest == source.digest:
            return PollReport(source_id, "skipped", error="credentials refused; polling stopped until the source's "
                                                          "config or credentials change")
        if state.not_before and now < state.not_before:
            return PollReport(source_id, "skipped", error=f"waiting until {state.not_before.isoformat()} ({state.status})")
        ctx = FetchContext(state.etag, state.last_modified, state.cursor)
        try:
            result = self.connectors[source_id].fetch(ctx)
        except Exception as exc:  # a connector bug is recorded against its source only
            log.exception("source %s: connector raised", source_id)
            result = FetchResult("failed", error=f"connector error: {type(exc).__name__}: {exc}")
        matched = []
        for mention in result.mentions:
            matches = self.matcher.match(mention.content, source.entities)
            if matches:
                matched.append((mention, matches))
        new_ids = self.store.add_mentions(matched, detected_at=now) if matched else []
        before, after = self.store.record_fetch(source_id, result, len(new_ids), now, source.digest)
        if after != before and after == "ok" and before not in ("new", "ok"):
            log.warning("source %s recovered (was %s)", source_id, before)
        elif after != "ok" and after != before:
            log.warning("source %s is %s: %s", source_id, after, result.error)
        for w in result.warnings:
            log.warning("source %s: %s", source_id, w)
        report = PollReport(source_id, result.status, len(result.mentions), len(matched), len(new_ids),
                            result.error, result.warnings, time.perf_counter() - started)
        log.info("source %s: %s, %d fetched, %d matched, %d new (%.2fs)", source_id, result.status,
                 report.fetched, report.matched, report.new, report.seconds)
        return report

    # ------------------------------------------------------------------ process

    def process(self) -> ProcessReport:
        with self._process_lock:
            report = ProcessReport()
            self._score_pending(report)
            self._evaluate_rules(report)
            self._source_health(report)
            self._deliver(report)
            return report

    def cycle(self) -> tuple[list[PollReport], ProcessReport]:
        polls = [self.poll_source(s.id) for s in self.config.sources if s.enabled]
        return polls, self.process()

    def _score_pending(self, report: ProcessReport) -> None:
        size = self.config.sentiment.batch_size
        while True:
            rows = self.store.unscored(size)
            if not rows:
                return
            try:
                scores = self.scorer.score([join_title_text(r.title, r.text) for r in rows])
            except Exception as exc:  # keep the mentions unscored; retried next cycle
                log.exception("scoring failed for %d mentions", len(rows))
                report.score_error = f"{type(exc).__name__}: {exc}"
                return
            self.store.save_scores(
                ((r.id, s.label, s.score, s.negative) for r, s in zip(rows, scores)),
                self.scorer.name, self.clock.now(),
            )
            report.scored += len(rows)

    def _evaluate_rules(self, report: ProcessReport) -> None:
        now = self.clock.now()
        threshold = self.config.sentiment.negative_threshold
        for rule in self.config.rules:
            route = self.config.route(rule.route)
            for entity in self.config.entities:
                if not rule.applies_to(entity.id):
                    continue
                negatives = self.store.negative_mentions(entity.id, now - rule.window, now, threshold)
                last = self.store.last_alert(rule.id, entity.id)
                decision = evaluate_burst(rule, negatives, last, now)
                if not decision.page:
                    continue
                first_seen = min(m.detected_at for m in decision.mentions)
                msg = burst_message(entity.name, list(decision.mentions), len(decision.mentions), rule.min_negative,
                                    rule.window, decision.new, decision.first, first_seen + GOLDEN_HOUR,
                                    route.language, timezone=route.timezone)
                alert = AlertRow(
                    rule_id=rule.id, entity_id=entity.id, fired_at=now, window_start=now - rule.window,
                    count=len(decision.mentions), mention_ids=str(sorted(m.id for m in decision.mentions)),
                    title=msg.title, body=msg.body,
                )
                alert = self._enqueue(alert, route, now)
                report.alerts.append(alert.id)
                log.warning("alert %d: rule %s, entity %s, %d negative mentions in %s (%s)", alert.id, rule.id,
                            entity.id, alert.count, rule.window, decision.reason)

    def _enqueue(self, alert: AlertRow, route, now: datetime) -> AlertRow:
        """Write the alert and one pending delivery per URL of its route (the outbox)."""
        targets = [(route.id, i, redact(url)) for i, url in enumerate(route.notify)]
        return self.store.create_alert(alert, targets, now)

    def health(self) -> dict[str, Health]:
        now = self.clock.now()
        states = self.store.source_states()
        return {s.id: source_health(s, states.get(s.id), now) for s in self.config.sources}

    def _source_health(self, report: ProcessReport) -> None:
        """Ops notices: a blocked, auth-failed or silent source at once, a failing one after
        ``failures_before_notice`` polls; repeated every ``notice_repeat`` until it recovers,
        then one "recovered" notice. They go to ``daemon.ops_route``, never to a crisis route."""
        now = self.clock.now()
        daemon = self.config.daemon
        states = self.store.source_states()
        for source in self.config.sources:
            row = states.get(source.id)
            if row is None:
                continue
            health = source_health(source, row, now)
            due_state: str | None = None
            if health.problem and (health.state != "failing"
                                   or row.consecutive_failures >= daemon.failures_before_notice):
                repeat = row.notice_at is None or now - row.notice_at >= daemon.notice_repeat
                if row.notice_state != health.state or repeat:
                    due_state = health.state
            elif health.state == "ok" and row.notice_state:
                due_state = "recovered"
            if due_state is None:
                continue
            self._ops_notice(source, row, health, due_state, now, report)
            self.store.record_notice(source.id, None if due_state == "recovered" else due_state, now)

    def _ops_notice(self, source, row, health: Health, state: str, now: datetime, report: ProcessReport) -> None:
        route_id = self.config.daemon.ops_route
        log.warning("source %s: ops notice (%s): %s", source.id, state, health.reason)
        if not route_id:
            log.error("source %s is %s but [daemon] ops_route is not set: nobody is told", source.id, state)
            return
        route = self.config.route(route_id)
        msg = ops_notice(source.id, source.type, state, health.reason, row.consecutive_failures,
                         row.last_success_at, row.last_error, route.language, route.timezone)
        alert = AlertRow(rule_id="source-health", entity_id=f"source:{source.id}", fired_at=now, window_start=now,
                         count=row.consecutive_failures, mention_ids="[]", title=msg.title, body=msg.body)
        alert = self._enqueue(alert, route, now)
        report.notices.append(alert.id)

    def _deliver(self, report: ProcessReport) -> None:
        now = self.clock.now()
        for delivery, alert in self.store.due_deliveries(now, MAX_DELIVERY_ATTEMPTS):
            try:
                url = self.config.route(delivery.route_id).notify[delivery.target_index]
            except (StopIteration, IndexError):
                self.store.finish_delivery(delivery.id, False, "route or URL no longer in the config", now, None,
                                           MAX_DELIVERY_ATTEMPTS)
                report.failed += 1
                continue
            result = self.notifier.send(url, alert.title, alert.body)
            row = self.store.finish_delivery(delivery.id, result.ok, result.error, self.clock.now(),
                                             now + delivery_backoff(delivery.attempts + 1), MAX_DELIVERY_ATTEMPTS)
            if result.ok:
                report.sent += 1
                log.info("alert %d delivered to %s", alert.id, delivery.target)
            else:
                report.failed += 1
                log.error("alert %d: delivery to %s failed (attempt %d, %s): %s", alert.id, delivery.target,
                          row.attempts, row.status, result.error)
