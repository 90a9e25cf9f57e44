"""``/metrics``: every figure read from the database at scrape time (and the config for
source health), exposed through prometheus_client, so the counters survive restarts:
mentions, alerts, notifications, deliveries, incidents (and whether the golden hour was met),
source health, outbox backlog, and the detection-to-delivery latency of pages.

A scrape costs the same whatever the history (:mod:`monitor.store.stats`): mention counts are
tallies kept by the writes, everything else an aggregate query; no incident, page or mention
row is loaded. Each scrape builds a private :class:`~prometheus_client.CollectorRegistry`
around one :class:`RepwatchCollector`, so nothing lives in prometheus_client's global
registry and two apps in one process never mix their figures.

Names (unchanged since the hand-written exposition): ``repwatch_mentions_total{source}``,
``repwatch_mentions_negative_total{source}``, ``repwatch_mentions_unscored``,
``repwatch_alerts_total{rule,status}``, ``repwatch_notifications_total{route,kind}``,
``repwatch_deliveries{route,status}``, ``repwatch_incidents{status}``,
``repwatch_incidents_golden_hour_total{result}``, ``repwatch_page_latency_seconds``
(a histogram) and ``repwatch_source_healthy{source,state}``."""
from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

LATENCY_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600)
HEALTHY_STATES = ("ok", "new", "disabled")


class RepwatchCollector:
    """One scrape's figures, read when the registry collects (never cached)."""

    def __init__(self, app):
        self.app = app

    def collect(self) -> Iterator[Metric]:
        c = self.app.store.counts(self.app.clock.now(), LATENCY_BUCKETS)
        yield from _mention_families(c)
        alerts = CounterMetricFamily("repwatch_alerts", "Alerts raised, by rule and what became of them.",
                                     labels=("rule", "status"))
        for rule, status, n in c.alerts:
            alerts.add_metric((rule, status or "notified"), n)
        yield alerts
        notes = CounterMetricFamily("repwatch_notifications", "Notifications written, by route and kind "
                                    "(page, update, repeat, escalation, ack, ops, digest).", labels=("route", "kind"))
        for route, kind, n in c.notifications:
            notes.add_metric((route, kind), n)
        yield notes
        deliveries = GaugeMetricFamily("repwatch_deliveries", "Deliveries by route and status (pending, sending, "
                                       "retrying, sent, failed).", labels=("route", "status"))
        for route, status, n in c.deliveries:
            deliveries.add_metric((route, status), n)
        yield deliveries
        yield from _incident_families(c)
        yield self._source_health()

    def _source_health(self) -> GaugeMetricFamily:
        healthy = GaugeMetricFamily("repwatch_source_healthy", "1 when the source is ok or new, 0 when failing, "
                                    "blocked, auth-failed or silent.", labels=("source", "state"))
        for source_id, h in self.app.health().items():
            healthy.add_metric((source_id, h.state), 1 if h.state in HEALTHY_STATES else 0)
        return healthy


def _mention_families(c) -> Iterator[Metric]:
    total = CounterMetricFamily("repwatch_mentions", "Mentions stored, by source.", labels=("source",))
    negative = CounterMetricFamily("repwatch_mentions_negative", "Mentions whose verdict is negative, by source.",
                                   labels=("source",))
    for source, stored, neg in c.mentions:
        total.add_metric((source,), stored)
        negative.add_metric((source,), neg)
    yield total
    yield negative
    yield GaugeMetricFamily("repwatch_mentions_unscored", "Mentions waiting for the sentiment model.", c.unscored)


def _incident_families(c) -> Iterator[Metric]:
    incidents = GaugeMetricFamily("repwatch_incidents", "Incidents by status.", labels=("status",))
    for status in ("open", "acked", "resolved"):
        incidents.add_metric((status,), c.incidents.get(status, 0))
    yield incidents
    golden = CounterMetricFamily("repwatch_incidents_golden_hour", "Incidents acknowledged inside / after their "
                                 "deadline.", labels=("result",))
    met, missed = c.golden_hour
    golden.add_metric(("met",), met)
    golden.add_metric(("missed",), missed)
    yield golden
    pages = c.pages
    buckets = [(f"{float(le)}", n) for le, n in pages.within] + [("+Inf", pages.count)]
    yield HistogramMetricFamily("repwatch_page_latency_seconds", "Seconds from a mention's detection to its page "
                                "being delivered.", buckets=buckets, sum_value=pages.total)


def metrics_payload(app, accept: str = "") -> tuple[bytes, str]:
    """The ``/metrics`` body and its Content-Type. ``accept`` is the request's Accept header:
    ``application/openmetrics-text`` gets OpenMetrics, anything else the Prometheus text
    format 0.0.4."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RepwatchCollector(app))
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
