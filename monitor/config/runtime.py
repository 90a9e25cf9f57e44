"""The typed config the rest of repwatch uses: frozen dataclasses built from the validated
models. Their defaults are read from the models (:mod:`monitor.config.models`), never
written again here; :class:`~connectors.spec.Source` is the leaf dataclass connectors get.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Mapping

from connectors.spec import Source
from monitor.config.defence import DefenceConfig
from monitor.config.web import WebConfig
from monitor.config.models import (LANGUAGE_TIMEZONE, DaemonModel, EntityModel, IncidentsModel, RouteModel,
                                   ScaleModel, SentimentModel, StorageModel)
from monitor.config.rules import DEFAULT_INHIBIT_TABLES, AttackRule, BurstRule, InhibitModel, SevereRule, SpikeRule
from monitor.errors import NotInConfigError, Problem
from monitor.labels import Matcher

_STORAGE, _SENTIMENT, _DAEMON, _INCIDENTS = (StorageModel.model_construct(), SentimentModel.model_construct(),
                                             DaemonModel.model_construct(), IncidentsModel.model_construct())
_SCALE = ScaleModel.model_construct()
_ENTITY, _ROUTE, _BURST, _SPIKE, _SEVERE, _INHIBIT = (
    EntityModel.model_construct(), RouteModel.model_construct(), BurstRule.model_construct(),
    SpikeRule.model_construct(), SevereRule.model_construct(), InhibitModel.model_construct())
_ATTACK = AttackRule.model_construct()


@dataclass(frozen=True)
class StorageConfig:
    url: str = _STORAGE.url
    retain: timedelta | None = _STORAGE.retain  # see monitor.store.retention

    @property
    def redacted_url(self) -> str:
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", self.url)


@dataclass(frozen=True)
class SentimentConfig:
    model: str = _SENTIMENT.model
    negative_threshold: float = _SENTIMENT.negative_threshold
    batch_size: int = _SENTIMENT.batch_size
    threads: int | None = _SENTIMENT.threads
    max_chars: int = _SENTIMENT.max_chars
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Entity:
    id: str
    name: str
    aliases: tuple[str, ...] = _ENTITY.aliases
    exclude: tuple[str, ...] = _ENTITY.exclude
    kind: str = _ENTITY.kind

    @property
    def terms(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for t in (self.name, *self.aliases):
            if t and t.strip():
                seen.setdefault(t.strip(), None)
        return tuple(seen)


@dataclass(frozen=True)
class Route:
    """A route in Alertmanager's sense: matchers select alerts, ``notify`` is the receiver
    (apprise URLs), and the timing keys say when and how often it is paged."""

    id: str
    notify: tuple[str, ...]  # expanded apprise URLs: secrets inside, never log them
    notify_template: tuple[str, ...]  # as written in the file, with ${VAR} left in
    language: str = _ROUTE.language
    timezone: str = LANGUAGE_TIMEZONE[_ROUTE.language]  # for times shown in pages
    matchers: tuple[Matcher, ...] = _ROUTE.matchers  # empty: only alerts that name this route (rule.route, ops_route)
    continue_: bool = _ROUTE.continue_  # keep matching later routes after this one
    group_by: tuple[str, ...] = _ROUTE.group_by
    group_wait: timedelta = _ROUTE.group_wait
    group_interval: timedelta = _ROUTE.group_interval
    repeat_interval: timedelta = _ROUTE.repeat_interval
    quiet_hours: tuple[tuple[int, int], ...] = _ROUTE.quiet_hours  # (start, end) minutes after local midnight
    escalate_after: timedelta | None = _ROUTE.escalate_after
    escalate_to: str | None = _ROUTE.escalate_to
    fallback: str | None = _ROUTE.fallback
    fallback_after: timedelta = _ROUTE.fallback_after
    digest_at: tuple[int, int] | None = _ROUTE.digest_at  # local (hour, minute) of the daily digest
    report_at: tuple[int, int, int] | None = _ROUTE.report_at  # local (weekday, hour, minute) of the weekly report


@dataclass(frozen=True)
class Rule:
    """``burst``: at least ``min_negative`` negative mentions of an entity in ``window``.
    ``spike``: the negative rate in ``window`` is ``factor`` times the entity's own rate over
    the trailing ``baseline``, and at least ``min_negative``. ``severe``: one mention alone,
    when P(negative) >= ``min_score`` or it contains one of ``terms``. ``attack``: the signals
    of :mod:`monitor.defence.attack`, with the thresholds below."""

    id: str
    route: str | None
    entities: tuple[str, ...] = _BURST.entities
    min_negative: int = _BURST.min_negative
    window: timedelta = _BURST.window
    kind: str = _BURST.kind
    severity: str = _BURST.severity
    min_score: float = _SEVERE.min_score
    terms: tuple[str, ...] = _SEVERE.terms
    baseline: timedelta = _SPIKE.baseline
    factor: float = _SPIKE.factor
    causes: tuple[str, ...] = _BURST.causes  # only mentions with one of these causes count (empty: any)
    # attack (see monitor.defence.attack): which signals, and the thresholds of each
    signals: tuple[str, ...] = _ATTACK.signals
    similarity: float = _ATTACK.similarity
    min_cluster: int = _ATTACK.min_cluster
    min_chars: int = _ATTACK.min_chars
    low_rating: float = _ATTACK.low_rating
    min_low: int = _ATTACK.min_low
    max_p: float = _ATTACK.max_p
    new_share: float = _ATTACK.new_share
    min_platforms: int = _ATTACK.min_platforms
    ignore_authors: tuple[str, ...] = _ATTACK.ignore_authors

    def applies_to(self, entity_id: str) -> bool:
        return "*" in self.entities or entity_id in self.entities


@dataclass(frozen=True)
class Inhibit:
    """While an alert matching ``source`` is active, alerts matching ``target`` with the same
    values of the ``equal`` labels are muted; their mentions join the source's incident."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = _INHIBIT.equal


def inhibit_of(m: InhibitModel) -> Inhibit:
    return Inhibit(m.source_matchers, m.target_matchers, m.equal)


DEFAULT_INHIBIT = tuple(inhibit_of(InhibitModel.model_validate(raw)) for raw in DEFAULT_INHIBIT_TABLES)


@dataclass(frozen=True)
class IncidentsConfig:
    response_window: timedelta = _INCIDENTS.response_window  # the golden hour: deadline after first detection
    public_url: str | None = _INCIDENTS.public_url  # base of ack links (the daemon's endpoint as people reach it)
    ack_secret: str | None = field(default=None, repr=False)  # from the environment; signs ack links
    link_ttl: timedelta = _INCIDENTS.link_ttl


@dataclass(frozen=True)
class DaemonConfig:
    user_agent: str = _DAEMON.user_agent
    jitter: timedelta = _DAEMON.jitter
    max_connections: int = _DAEMON.max_connections
    poll_workers: int = _DAEMON.poll_workers
    poll_processes: int = _DAEMON.poll_processes  # polls in child processes (monitor.pollprocs); 0: none
    ops_route: str | None = _DAEMON.ops_route  # where source-health notices go (never the crisis team's route)
    failures_before_notice: int = _DAEMON.failures_before_notice
    notice_repeat: timedelta = _DAEMON.notice_repeat
    rate_limits: Mapping[str, tuple[int, float]] = field(default_factory=dict)
    listen: str | None = _DAEMON.listen  # HTTP endpoint: /healthz, /metrics, /ack; None = off


@dataclass(frozen=True)
class ScaleConfig:
    """[scale]: off unless ``broker`` is set (:mod:`monitor.scale`)."""

    broker: str | None = field(default=_SCALE.broker, repr=False)  # may hold a password: never log it
    queue: str = _SCALE.queue
    concurrency: int = _SCALE.concurrency
    process_every: timedelta = _SCALE.process_every
    visibility_timeout: timedelta | None = _SCALE.visibility_timeout  # None: from the sources' timeouts

    @property
    def redacted_broker(self) -> str | None:
        return re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", self.broker) if self.broker else None


@dataclass(frozen=True)
class Config:
    path: str
    storage: StorageConfig
    sentiment: SentimentConfig
    entities: tuple[Entity, ...]
    sources: tuple[Source, ...]
    routes: tuple[Route, ...]
    rules: tuple[Rule, ...]
    daemon: DaemonConfig
    incidents: IncidentsConfig = IncidentsConfig()
    scale: ScaleConfig = ScaleConfig()
    defence: DefenceConfig = DefenceConfig()
    web: WebConfig = WebConfig()
    inhibit: tuple[Inhibit, ...] = DEFAULT_INHIBIT
    # need_secrets=False: the variables that were not set, as the problems they would be
    unset: tuple[Problem, ...] = ()
    _index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {
            "entity": {e.id: e for e in self.entities}, "route": {r.id: r for r in self.routes},
            "source": {s.id: s for s in self.sources}})

    def _lookup(self, what: str, ident: str):
        try:
            return self._index[what][ident]
        except KeyError:
            raise NotInConfigError(what, ident, self.path) from None

    def entity(self, entity_id: str) -> Entity:
        """The entity ``entity_id``; :class:`~monitor.errors.NotInConfigError` when there is none."""
        return self._lookup("entity", entity_id)

    def route(self, route_id: str) -> Route:
        """The route ``route_id``; :class:`~monitor.errors.NotInConfigError` when there is none."""
        return self._lookup("route", route_id)

    @property
    def routes_by_id(self) -> Mapping[str, Route]:
        """Every route by id, read-only: the one index of routes (the dispatcher and the outbox use it)."""
        return MappingProxyType(self._index["route"])

    def source(self, source_id: str) -> Source:
        """The source ``source_id``; :class:`~monitor.errors.NotInConfigError` when there is none."""
        return self._lookup("source", source_id)
