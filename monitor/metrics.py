"""``/metrics``: every figure read from the database at scrape time (and the config for
source health), in the Prometheus text format, so the counters survive restarts: mentions,
alerts, notifications, deliveries, incidents (and whether the golden hour was met),
source health, outbox backlog, and the detection-to-delivery latency of pages."""
from __future__ import annotations

from collections import Counter

LATENCY_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600)


def _esc_label(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    def __init__(self):
        self.lines: list[str] = []
        self.declared: set[str] = set()

    def add(self, name: str, kind: str, help_text: str, value: float, /, **labels) -> None:
        if name not in self.declared:
            self.declared.add(name)
            self.lines.append(f"# HELP {name} {help_text}")
            self.lines.append(f"# TYPE {name} {kind}")
        lab = ",".join(f'{k}="{_esc_label(v)}"' for k, v in labels.items())
        self.lines.append(f"{name}{{{lab}}} {value:g}" if lab else f"{name} {value:g}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def collect_metrics(app) -> str:
    """Every figure from the database (and the config for source health)."""
    m = Metrics()
    threshold = app.config.sentiment.negative_threshold
    c = app.store.counts(threshold)
    for source, total, negative in c.mentions:
        m.add("repwatch_mentions_total", "counter", "Mentions stored, by source.", total, source=source)
        m.add("repwatch_mentions_negative_total", "counter", "Mentions scored negative, by source.", negative,
              source=source)
    m.add("repwatch_mentions_unscored", "gauge", "Mentions waiting for the sentiment model.", c.unscored)
    for rule, status, n in c.alerts:
        m.add("repwatch_alerts_total", "counter", "Alerts raised, by rule and what became of them.", n,
              rule=rule, status=status or "notified")
    for route, kind, n in c.notifications:
        m.add("repwatch_notifications_total", "counter", "Notifications written, by route and kind "
              "(page, update, repeat, escalation, ack, ops, digest).", n, route=route, kind=kind)
    for route, status, n in c.deliveries:
        m.add("repwatch_deliveries", "gauge", "Deliveries by route and status (pending, sending, retrying, sent, "
              "failed).", n, route=route, status=status)
    incidents, pages = c.incidents, c.pages
    counts = Counter(i.status for i in incidents)
    for status in ("open", "acked", "resolved"):
        m.add("repwatch_incidents", "gauge", "Incidents by status.", counts.get(status, 0), status=status)
    met = sum(1 for i in incidents if i.acked_at is not None and i.acked_at <= i.deadline)
    now = app.clock.now()
    missed = sum(1 for i in incidents if (i.acked_at or now) > i.deadline)
    m.add("repwatch_incidents_golden_hour_total", "counter", "Incidents acknowledged inside / after their deadline.",
          met, result="met")
    m.add("repwatch_incidents_golden_hour_total", "counter", "", missed, result="missed")
    latencies = sorted(max((sent - detected).total_seconds(), 0) for sent, detected in pages)
    for le in LATENCY_BUCKETS:
        m.add("repwatch_page_latency_seconds_bucket", "histogram", "Seconds from a mention's detection to its page "
              "being delivered.", sum(1 for x in latencies if x <= le), le=str(le))
    m.add("repwatch_page_latency_seconds_bucket", "histogram", "", len(latencies), le="+Inf")
    m.lines.append(f"repwatch_page_latency_seconds_sum {sum(latencies):g}")
    m.lines.append(f"repwatch_page_latency_seconds_count {len(latencies)}")
    for source_id, h in app.health().items():
        m.add("repwatch_source_healthy", "gauge", "1 when the source is ok or new, 0 when failing, blocked, "
              "auth-failed or silent.", 1 if h.state in ("ok", "new", "disabled") else 0, source=source_id,
              state=h.state)
    return m.text()
