"""The wiring: one place where the stages meet, in the order data flows.

    poll_source:  connector.fetch -> Mention -> match -> store (insert-once)
                  -> evidence (raw payloads, tombstones: monitor.evidence.stage)
    process:      score (batches) -> rules (alerts) -> source health (alerts)
                  -> dispatch (route, silence, inhibit, group, incidents) -> outbox -> notify

:meth:`App.from_config` builds every object once, the same way for the daemon and every
command; :meth:`App.reload` rebuilds the config-bound ones (SIGHUP).

Connectors never see the store, the model or the notifier; each stage gets only what
the previous one produced. The two entry points:

* :meth:`App.poll_source` fetches, matches and stores one source: nothing else. Any number
  may run at once, from any threads (the daemon's pool, ``cycle``, Celery workers), each
  for a different source; it never waits for ``process``. What it stores is committed
  before it returns (the mentions, then the source's state), so a ``process`` that starts
  afterwards sees it; one that is running may or may not.
* :meth:`App.process` scores, evaluates the rules, dispatches and delivers whatever is
  new. It is serialised by a lock within the process and by the ``process`` lease
  (:class:`monitor.store.Lease`) among processes sharing the database, so scoring and
  paging happen once per new batch of mentions however many pollers there are.

Logs carry ids, counts and statuses, never mention text (it can hold patient data)
and never notification URLs (they hold secrets).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta

import httpx

from connectors import registry
from connectors.base import FetchContext
from connectors.http import HostLimiter, HttpPolicy, tls_context
from monitor.clock import Clock, SystemClock
from monitor.config import Config
from monitor.evidence.stage import keep_evidence
from monitor.health import Health, record_fetch, source_health
from monitor.matching import Match, Matcher
from monitor.mention import FetchResult, canonical_url
from monitor.alerting.dispatch import Dispatcher
from monitor.alerting.notices import raise_notices
from monitor.alerting.rules import raise_rule_alerts
from monitor.notify import Notifier
from monitor.outbox import Outbox
from monitor.scoring import Scoring
from monitor.sentiment import Scorer
from monitor.store import Lease, Store, describe_error

log = logging.getLogger("repwatch")

PROCESS_LEASE = "process"
PROCESS_LEASE_TTL = timedelta(seconds=20)  # a holder killed outright blocks processing at most this long (renewed every ttl/3)
PROCESS_LEASE_WAIT = timedelta(seconds=90)  # how long a one-shot run waits for another process's turn


@dataclass(frozen=True)
class _Stages:
    """What :meth:`App._stages` builds from one config."""

    connectors: dict
    matcher: Matcher
    dispatcher: Dispatcher
    outbox: Outbox
    longest_window: timedelta


def _keep_running(old: Config, config: Config) -> tuple[Config, list[str]]:
    """``config`` with the running values of the settings that take a restart (the
    database, the loaded model, the listen address, the connection pool, the poll pool), and their keys
    where ``config`` changed them."""
    restart: list[str] = []
    if config.storage.url != old.storage.url:
        restart.append("storage.url")
        config = replace(config, storage=old.storage)
    for key in ("model", "threads", "max_chars", "labels"):
        if getattr(old.sentiment, key) != getattr(config.sentiment, key):
            restart.append(f"sentiment.{key}")
            config = replace(config, sentiment=replace(config.sentiment, **{key: getattr(old.sentiment, key)}))
    for key in ("listen", "max_connections", "poll_workers"):
        if getattr(old.daemon, key) != getattr(config.daemon, key):
            restart.append(f"daemon.{key}")
            config = replace(config, daemon=replace(config.daemon, **{key: getattr(old.daemon, key)}))
    return config, restart


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
    edited: int = 0  # stored mentions whose text changed: scored again
    backfilled: int = 0  # of the new ones, history (scored, never paged)

    @property
    def live(self) -> bool:
        """Stored something a rule may page on: a new mention that is not history, or an edit."""
        return self.new > self.backfilled or self.edited > 0


@dataclass
class ProcessReport:
    scored: int = 0
    alerts: list[int] = field(default_factory=list)
    notices: list[int] = field(default_factory=list)
    notifications: list[int] = field(default_factory=list)
    sent: int = 0
    failed: int = 0
    fallbacks: int = 0
    score_error: str | None = None
    skipped: bool = False  # another process held the process lease: it did the work
    history_left: bool = False  # scoring's budget ran out with history unscored: run again soon


class App:
    """Every object a config defines, built here once for the daemon and every command
    (:meth:`from_config`); tests pass their own store, notifier, clock, client or policy."""

    def __init__(self, config: Config, *, scorer: Scorer | None, store: Store | None = None,
                 notifier: Notifier | None = None, clock: Clock | None = None,
                 client: httpx.Client | None = None, policy: HttpPolicy | None = None,
                 limiter: HostLimiter | None = None):
        self.clock = clock or SystemClock()
        self.store = store or Store(config.storage.url)
        self.scorer = scorer
        self.scoring = Scoring(self.store, scorer, self.clock)  # the daemon tells it when polls run
        self.notifier = notifier or Notifier()
        self._own_client = client is None
        self.client = client or httpx.Client(
            follow_redirects=True,
            max_redirects=5,
            limits=httpx.Limits(max_connections=config.daemon.max_connections),
            verify=tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")),
        )
        self.limiter = limiter or HostLimiter()  # Celery workers share one in Redis (monitor.scale.limiter)
        self._policy = policy
        self._process_lock = threading.Lock()
        self.connectors: dict = {}
        self._run_config(config, self._stages(config))

    @classmethod
    def from_config(cls, config: Config, *, model: bool = True, scorer: Scorer | None = None, **parts) -> App:
        """The app for ``config``: with ``scorer``, else the configured sentiment model
        (loaded here, which takes seconds), or with none when ``model`` is False (commands
        that only read, acknowledge, silence or send never score)."""
        if scorer is None and model:
            from monitor.sentiment import load_scorer

            s = config.sentiment
            scorer = load_scorer(s.model, threads=s.threads, max_chars=s.max_chars, labels=s.labels,
                                 batch_size=s.batch_size)
        return cls(config, scorer=scorer, **parts)

    def _stages(self, config: Config, previous: Config | None = None) -> _Stages:
        """The objects that depend on ``config``. A source unchanged since ``previous``
        keeps its connector, and whatever that has learned."""
        known = registry()
        running = {s.id: s for s in previous.sources} if previous else {}
        same_agent = previous is not None and previous.daemon.user_agent == config.daemon.user_agent
        connectors = {}
        for s in config.sources:
            prev = running.get(s.id)
            if same_agent and prev == s and prev.digest == s.digest and s.id in self.connectors:
                connectors[s.id] = self.connectors[s.id]
            else:
                connectors[s.id] = known[s.type](s, self.client, self.clock, self._policy, config.daemon.user_agent,
                                                 self.limiter)
        workers = {"workers": self.outbox.workers} if previous else {}
        return _Stages(connectors, Matcher(config.entities), Dispatcher(config, self.store, self.clock),
                       Outbox(config, self.store, self.notifier, self.clock, **workers),
                       max((r.window for r in config.rules), default=timedelta(hours=1)))

    def _run_config(self, config: Config, stages: _Stages) -> None:
        self.limiter.rates = {**HostLimiter.DEFAULTS, **dict(config.daemon.rate_limits)}
        self.connectors, self.matcher, self.dispatcher, self.outbox = (stages.connectors, stages.matcher,
                                                                        stages.dispatcher, stages.outbox)
        self._longest_window = stages.longest_window
        self.config = config

    def reload(self, config: Config) -> list[str]:
        """Run a new, already validated ``config`` from now on (SIGHUP): sources, entities,
        routes, rules, incidents and daemon settings. The swap waits for a running
        ``process`` (scoring, paging, deliveries) to finish; a poll in flight ends with the
        objects it started with. Settings that cannot change without a restart (the
        database, the loaded model, the HTTP listen address, the HTTP connection pool) keep
        their running values; their keys are returned so the caller can say so."""
        config, restart = _keep_running(self.config, config)
        stages = self._stages(config, self.config)
        with self._process_lock:
            self._run_config(config, stages)
        return restart

    def close(self) -> None:
        if self._own_client:
            self.client.close()
        self.store.close()

    # ------------------------------------------------------------------ poll

    def poll_source(self, source_id: str) -> PollReport:
        """Fetch one source, attribute and store what it brought, record its health. Never
        raises: anything that goes wrong (the connector, matching, storage) is recorded
        against this source as failing, and no other source is affected."""
        started = time.perf_counter()
        try:
            return self._poll(source_id, started)
        except Exception as exc:  # storage or a stage after the fetch: this source fails, not the run
            return self.poll_failed(source_id, describe_error(exc), started)

    def poll_failed(self, source_id: str, why: str, started: float) -> PollReport:
        """Record a poll that failed outside the connector (storage, a poll process that died)
        against its source, so that its health shows it."""
        error = f"poll error: {why}"
        log.error("source %s: %s", source_id, error)
        try:
            record_fetch(self.store, source_id, FetchResult("failed", error=error), 0, self.clock.now(),
                         self.config.source(source_id).digest)
        except Exception as again:
            log.error("source %s: could not record the failure: %s", source_id, describe_error(again))
        return PollReport(source_id, "failed", error=error, seconds=time.perf_counter() - started)

    def _poll(self, source_id: str, started: float) -> PollReport:
        source = self.config.source(source_id)
        now = self.clock.now()
        state = self.store.source_state(source_id)
        if state.status == "auth_failed" and state.config_digest == source.digest:
            return PollReport(source_id, "skipped", error="credentials refused; polling stopped until the source's "
                                                          "config or credentials change")
        if state.not_before and now < state.not_before:
            return PollReport(source_id, "skipped", error=f"waiting until {state.not_before.isoformat()} ({state.status})")
        ctx = FetchContext(state.etag, state.last_modified, state.cursor)
        try:
            result = self.connectors[source_id].poll(ctx)  # within the source's timeout, retries and pages included
        except Exception as exc:  # a connector bug is recorded against its source only
            log.exception("source %s: connector raised", source_id)
            result = FetchResult("failed", error=f"connector error: {type(exc).__name__}: {exc}")
        result = self._checked(result)
        matched = self._attribute(source, result.mentions)
        # history is stored and scored but never pages: a source's first successful poll, and
        # anything published before the longest rule window
        first_poll = result.ok and state.last_success_at is None
        new_ids: list[int] = []
        edited: list[int] = []
        backfilled = 0
        if matched:
            problems: list[str] = []
            new_ids = self.store.add_mentions(matched, detected_at=now, backfill_all=first_poll,
                                              backfill_before=now - self._longest_window, problems=problems,
                                              edited=edited)
            backfilled = len(new_ids) if first_poll else self.store.count_backfill(new_ids)
            if problems:
                result = replace(result, warnings=result.warnings + tuple(problems))
            if edited:
                log.info("source %s: %d mentions edited since last seen (kept as new versions, scored again)",
                         source_id, len(edited))
        kept = keep_evidence(self.store, source_id, result, new_ids + edited, now, set(new_ids))  # raw, tombstones
        if kept:
            result = replace(result, warnings=result.warnings + tuple(kept))
        before, after = record_fetch(self.store, source_id, result, len(new_ids), now, source.digest, backfilled,
                                     seen=state)
        if after != before and after == "ok" and before not in ("new", "ok"):
            log.warning("source %s recovered (was %s)", source_id, before)
        elif after != "ok" and after != before:
            log.warning("source %s is %s: %s", source_id, after, result.error)
        for w in result.warnings:
            log.warning("source %s: %s", source_id, w)
        report = PollReport(source_id, result.status, len(result.mentions), len(matched), len(new_ids),
                            result.error, result.warnings, time.perf_counter() - started, len(edited), backfilled)
        # a poll that stored something is worth a line; 33 "nothing new" lines a second are not
        log.log(logging.INFO if report.new or report.edited else logging.DEBUG,
                "source %s: %s, %d fetched, %d matched, %d new (%.2fs)", source_id, result.status,
                report.fetched, report.matched, report.new, report.seconds)
        return report

    @staticmethod
    def _checked(result: FetchResult) -> FetchResult:
        """The fetch with each mention's field problems (see ``Mention.__post_init__``) as
        warnings, and without mentions left with nothing to say once bad fields were dropped."""
        kept, warnings = [], []
        for i, mention in enumerate(result.mentions, 1):
            warnings += [f"item #{i}: {p}" for p in mention.problems]
            if not mention.title and not mention.text and mention.rating is None:
                warnings.append(f"item #{i} has no title, text or rating left; skipped")
                continue
            kept.append(mention)
        if not warnings:
            return result
        return replace(result, mentions=tuple(kept), warnings=result.warnings + tuple(warnings))

    def _attribute(self, source, mentions) -> list[tuple]:
        """Which entities each mention is about: the names in its text; on an entity's own
        listing (``about``) that entity too; a reply that names nobody is about what its
        thread is about (the thread fetched with it, or stored before)."""
        found = []
        for mention in mentions:
            matches = self.matcher.match(mention.content, source.entities)
            if source.about and not any(m.entity_id == source.about for m in matches):
                matches = [Match(source.about, "(listing)"), *matches]
            found.append(matches)
        threads = {canonical_url(m.url): ms for m, ms in zip(mentions, found) if m.url and ms}
        out = []
        for mention, matches in zip(mentions, found):
            if not matches and mention.parent_url:
                parent = canonical_url(mention.parent_url)
                matches = threads.get(parent) or [Match(e, "(thread)") for e in self.store.entities_for_url(parent)]
                if source.entities is not None:
                    matches = [m for m in matches if m.entity_id in source.entities]
            if matches:
                out.append((mention, matches))
        return out

    # ------------------------------------------------------------------ process

    def process(self, flush: bool = False, wait: timedelta = timedelta(0)) -> ProcessReport:
        """Score, evaluate, dispatch and deliver. ``flush``: send grouped alerts now
        instead of after group_wait (one-shot runs).

        One process at a time does this among all sharing the database (``repwatch run``,
        ``repwatch poll``; SQLite or PostgreSQL): it holds the ``process`` lease throughout.
        One that cannot get it within ``wait`` skips this time (``skipped``): the holder is
        doing the work, and what this one stored is taken by the holder or the next run."""
        holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        with self._process_lock, Lease(self.store, PROCESS_LEASE, holder, self.clock, PROCESS_LEASE_TTL,
                                       wait) as held:
            report = ProcessReport()
            if not held:
                report.skipped = True
                (log.warning if wait else log.info)(
                    "processing skipped: another repwatch process holds the %s lease", PROCESS_LEASE)
                return report
            self._score_pending(report)
            self._evaluate_rules(report)
            self._source_health(report)
            dispatched = self.dispatcher.run(flush)
            report.notifications, report.notices = dispatched.notifications, dispatched.notices
            sent = self.outbox.run()
            report.sent, report.failed, report.fallbacks = sent.sent, sent.failed, sent.fallbacks
            return report

    def cycle(self, flush: bool = True) -> tuple[list[PollReport], ProcessReport]:
        """Poll every enabled source once, then process; a one-shot run flushes groups."""
        ids = [s.id for s in self.config.sources if s.enabled]
        # at once, as many as the daemon's poll pool, so one slow source never delays another
        # (each is bounded by its own timeout; the shared HostLimiter and connection pool
        # still pace each host)
        workers = max(1, min(len(ids), self.config.daemon.poll_workers))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll") as pool:
            polls = list(pool.map(self.poll_source, ids))
        return polls, self.process(flush, wait=PROCESS_LEASE_WAIT)

    def _score_pending(self, report: ProcessReport) -> None:
        """Score new mentions, live ones first, history paced behind the polls
        (:class:`monitor.scoring.Scoring`)."""
        outcome = self.scoring.run(self.config.sentiment.negative_threshold)
        report.scored += outcome.scored
        report.history_left = outcome.history_left
        if outcome.error:
            report.score_error = outcome.error

    def _evaluate_rules(self, report: ProcessReport) -> None:
        """Alerts from the rules (:func:`monitor.alerting.rules.raise_rule_alerts`)."""
        report.alerts += raise_rule_alerts(self.config, self.store, self.clock.now())

    def health(self) -> dict[str, Health]:
        now = self.clock.now()
        states = self.store.source_states()
        return {s.id: source_health(s, states.get(s.id), now) for s in self.config.sources}

    def _source_health(self, report: ProcessReport) -> None:
        """Source-health alerts for the ops route (:func:`monitor.alerting.notices.raise_notices`);
        the dispatcher routes, silences, inhibits and sends them like any other alert."""
        raise_notices(self.config, self.store, self.clock.now())
