"""The daemon's HTTP endpoint: ``/healthz``, ``/metrics`` and ``/ack/<token>``.

* ``/healthz``: 200 with a JSON summary when the database answers and the scheduler
  runs, 503 otherwise. Unhealthy *sources* are reported in the body (and in /metrics)
  but do not fail the check: restarting the container does not fix a blocked feed.
* ``/metrics``: Prometheus text format, read from the database at scrape time, so the
  counters survive restarts: mentions, alerts, notifications, deliveries, incidents
  (and whether the golden hour was met), source health, outbox backlog, and the
  detection-to-delivery latency of pages.
* ``/ack/<token>``: the signed, expiring link in every page. GET shows what will be
  acknowledged and asks for a name; only POST acknowledges, because chat apps and mail
  scanners fetch links by themselves and must not acknowledge anything. The page
  shows incident ids, state and deadline, never mention text.
"""
from __future__ import annotations

import html
import json
import logging
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs

from sqlalchemy import case
from sqlmodel import func, select

from monitor.dispatch import IncidentError, verify_ack
from monitor.render import local_time
from monitor.storage import AlertRow, DeliveryRow, IncidentRow, MentionRow, NotificationRow

log = logging.getLogger("repwatch.http")

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
    store = app.store
    threshold = app.config.sentiment.negative_threshold
    with store.session() as s:
        for source, total, negative in s.exec(
            select(MentionRow.source_id, func.count(),
                   func.sum(case((MentionRow.negative_score >= threshold, 1), else_=0)))
            .group_by(MentionRow.source_id)
        ):
            m.add("repwatch_mentions_total", "counter", "Mentions stored, by source.", total, source=source)
            m.add("repwatch_mentions_negative_total", "counter", "Mentions scored negative, by source.",
                  negative or 0, source=source)
        unscored = s.exec(select(func.count()).select_from(MentionRow).where(MentionRow.sentiment_label.is_(None))).one()
        m.add("repwatch_mentions_unscored", "gauge", "Mentions waiting for the sentiment model.", unscored)
        for rule, status, n in s.exec(select(AlertRow.rule_id, AlertRow.status, func.count())
                                      .group_by(AlertRow.rule_id, AlertRow.status)):
            m.add("repwatch_alerts_total", "counter", "Alerts raised, by rule and what became of them.", n,
                  rule=rule, status=status or "notified")
        for route, kind, n in s.exec(select(NotificationRow.route_id, NotificationRow.kind, func.count())
                                     .group_by(NotificationRow.route_id, NotificationRow.kind)):
            m.add("repwatch_notifications_total", "counter", "Notifications written, by route and kind "
                  "(page, update, repeat, escalation, ack, ops, digest).", n, route=route, kind=kind)
        for route, status, n in s.exec(select(DeliveryRow.route_id, DeliveryRow.status, func.count())
                                       .group_by(DeliveryRow.route_id, DeliveryRow.status)):
            m.add("repwatch_deliveries", "gauge", "Deliveries by route and status (pending, sending, retrying, sent, "
                  "failed).", n, route=route, status=status)
        incidents = list(s.exec(select(IncidentRow)))
        pages = list(s.exec(select(DeliveryRow.sent_at, NotificationRow.detected_at)
                            .join(NotificationRow, NotificationRow.id == DeliveryRow.notification_id)
                            .where(NotificationRow.kind == "page", DeliveryRow.status == "sent",
                                   NotificationRow.detected_at.is_not(None))))
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


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>repwatch: {title}</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 2em auto">{body}</body></html>"""


class _Handler(BaseHTTPRequestHandler):
    server_version = "repwatch"

    def _send(self, status: int, body: str, ctype: str = "text/html; charset=utf-8") -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(data)

    def _page(self, status: int, title: str, body: str) -> None:
        self._send(status, _PAGE.format(title=html.escape(title), body=body))

    def do_GET(self):  # noqa: N802
        endpoint: Endpoint = self.server.endpoint  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        try:
            if path == "/healthz":
                status, body = endpoint.healthz()
                return self._send(status, json.dumps(body), "application/json")
            if path == "/metrics":
                return self._send(200, collect_metrics(endpoint.app), "text/plain; version=0.0.4; charset=utf-8")
            if path.startswith("/ack/"):
                return self._ack_form(endpoint, path[len("/ack/"):])
        except Exception:
            log.exception("HTTP %s failed", path)
            return self._send(500, "internal error", "text/plain")
        self._send(404, "not found", "text/plain")

    def do_POST(self):  # noqa: N802
        endpoint: Endpoint = self.server.endpoint  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        if not path.startswith("/ack/"):
            return self._send(404, "not found", "text/plain")
        length = min(int(self.headers.get("Content-Length") or 0), 4096)
        form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        by = (form.get("by") or [""])[0]
        try:
            incident_id = endpoint.verify(path[len("/ack/"):])
            inc = endpoint.app.dispatcher.ack(incident_id, by, via="link")
        except IncidentError as exc:
            return self._page(400 if "name" in str(exc) else 403, "cannot acknowledge",
                              f"<h2>Cannot acknowledge</h2><p>{html.escape(str(exc))}</p>")
        who = html.escape(inc.acked_by or "")
        self._page(200, f"incident #{inc.id} acknowledged",
                   f"<h2>Incident #{inc.id} acknowledged</h2><p>Owner: {who}. Escalation has stopped.</p>")

    def _ack_form(self, endpoint: "Endpoint", token: str) -> None:
        try:
            incident_id = endpoint.verify(token)
        except IncidentError as exc:
            return self._page(403, "invalid link", f"<h2>Invalid link</h2><p>{html.escape(str(exc))}</p>")
        inc = endpoint.app.store.get(IncidentRow, incident_id)
        if inc is None:
            return self._page(404, "no such incident", "<h2>No such incident</h2>")
        tz = endpoint.app.config.routes[0].timezone if endpoint.app.config.routes else "UTC"
        state = html.escape(inc.status)
        if inc.status != "open":
            who = html.escape(inc.acked_by or inc.resolved_by or "")
            return self._page(200, f"incident #{inc.id}", f"<h2>Incident #{inc.id}</h2><p>Already {state} by {who}.</p>")
        self._page(200, f"acknowledge incident #{inc.id}", (
            f"<h2>Acknowledge incident #{inc.id}</h2>"
            f"<p>Entity: {html.escape(inc.entity_id)}. Severity: {html.escape(inc.severity)}. "
            f"Deadline: {html.escape(local_time(inc.deadline, tz))}.</p>"
            f'<form method="post"><label>Your name <input name="by" required maxlength="64" autofocus></label> '
            f'<button type="submit">Acknowledge</button></form>'))

    def log_message(self, fmt, *args):  # tokens are in the path: log the route only
        log.debug("http %s %s", self.command, self.path.split("/")[1] if "/" in self.path else self.path)


class Endpoint:
    """Serves the app on ``host:port`` in a background thread."""

    def __init__(self, app, listen: str, alive: Callable[[], bool] | None = None):
        host, _, port = listen.rpartition(":")
        self.app = app
        self.alive = alive or (lambda: True)
        self.httpd = ThreadingHTTPServer((host.strip("[]") or "127.0.0.1", int(port)), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.endpoint = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="http", daemon=True)

    def start(self) -> "Endpoint":
        self.thread.start()
        log.info("HTTP endpoint on %s:%d (/healthz, /metrics, /ack)", self.httpd.server_address[0], self.port)
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def verify(self, token: str) -> int:
        secret = self.app.config.incidents.ack_secret
        if not secret:
            raise IncidentError("acknowledgement links are not configured ([incidents] public_url)")
        return verify_ack(secret, token, self.app.clock.now())

    def healthz(self) -> tuple[int, dict]:
        body: dict = {"status": "ok"}
        try:
            self.app.store.ping()
            body["database"] = "ok"
        except Exception as exc:
            body["database"] = f"error: {type(exc).__name__}"
            body["status"] = "error"
        body["scheduler"] = "running" if self.alive() else "stopped"
        if body["scheduler"] != "running":
            body["status"] = "error"
        health = self.app.health()
        body["sources"] = dict(Counter(h.state for h in health.values()))
        body["unhealthy_sources"] = sorted(k for k, h in health.items() if h.state not in ("ok", "new", "disabled"))
        body["open_incidents"] = len(self.app.store.incidents(open_only=True))
        return (200 if body["status"] == "ok" else 503), body
