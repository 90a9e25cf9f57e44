"""``/metrics``: every figure read from the database at scrape time (and the config for
source health), in the Prometheus text format, so the counters survive restarts: mentions,
alerts, notifications, deliveries, incidents (and whether the golden hour was met),
source health, outbox backlog, and the detection-to-delivery latency of pages. A scrape
costs the same whatever the history (:mod:`monitor.store.stats`): mention counts are
tallies kept by the writes, everything else an aggregate query; no row is loaded."""
from __future__ import annotations

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
    now = app.clock.now()
    c = app.store.counts(now, LATENCY_BUCKETS)
    for source, total, negative in c.mentions:
        m.add("repwatch_mentions_total", "counter", "Mentions stored, by source.", total, source=source)
        m.add("repwatch_mentions_negative_total", "counter", "Mentions whose verdict is negative, by source.", negative,
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
    for status in ("open", "acked", "resolved"):
        m.add("repwatch_incidents", "gauge", "Incidents by status.", c.incidents.get(status, 0), status=status)
    met, missed = c.golden_hour
    m.add("repwatch_incidents_golden_hour_total", "counter", "Incidents acknowledged inside / after their deadline.",
          met, result="met")
    m.add("repwatch_incidents_golden_hour_total", "counter", "", missed, result="missed")
    pages = c.pages
    for le, n in pages.within:
        m.add("repwatch_page_latency_seconds_bucket", "histogram", "Seconds from a mention's detection to its page "
              "being delivered.", n, le=str(le))
    m.add("repwatch_page_latency_seconds_bucket", "histogram", "", pages.count, le="+Inf")
    m.lines.append(f"repwatch_page_latency_seconds_sum {pages.total:g}")
    m.lines.append(f"repwatch_page_latency_seconds_count {pages.count}")
    for source_id, h in app.health().items():
        m.add("repwatch_source_healthy", "gauge", "1 when the source is ok or new, 0 when failing, blocked, "
              "auth-failed or silent.", 1 if h.state in ("ok", "new", "disabled") else 0, source=source_id,
              state=h.state)
    return m.text()
