"""``repwatch report --week``: the weekly report as HTML and PDF files, and ``--send`` it
through its route (the outbox, as the scheduled report goes)."""
from __future__ import annotations

import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.cli.common import load, make_app
from monitor.errors import NotInConfigError


def _routes(config, wanted: str | None, path: str):
    if wanted:
        try:
            return [config.route(wanted)]
        except NotInConfigError:
            print(f"no route {wanted!r} in {path} (routes: {', '.join(r.id for r in config.routes)})",
                  file=sys.stderr)
            return None
    routes = [r for r in config.routes if r.report_at is not None]
    if not routes:
        print(f"no route in {path} has report_at; name one with --route", file=sys.stderr)
        return None
    return routes


def _end_day(text: str | None, route, now: datetime) -> date:
    if text:
        return date.fromisoformat(text)
    return now.astimezone(ZoneInfo(route.timezone)).date()


def cmd_report(args) -> int:
    """Write report-<route>-<first day>.html and .pdf into ``--out`` for each route (the
    named one, or every route with ``report_at``); ``--send`` queues and sends them."""
    from monitor.report import PdfError, build, html_to_pdf, report_html, send_report

    if args.end:
        try:
            date.fromisoformat(args.end)
        except ValueError:
            print(f"--end: {args.end!r} is not a date such as 2026-03-09", file=sys.stderr)
            return 2
    config = load(args.config, need_secrets=args.send)
    routes = _routes(config, args.route, args.config)
    if routes is None:
        return 2
    app = make_app(config, model=False)
    failed = 0
    try:
        out = Path(args.out)
        for route in routes:
            started = time.monotonic()
            now = app.clock.now()
            report = build(config, app.store, route, _end_day(args.end, route, now), now)
            stem = out / f"report-{route.id}-{report.start.date().isoformat()}"
            document = report_html(report)
            out.mkdir(parents=True, exist_ok=True)
            stem.with_suffix(".html").write_text(document, encoding="utf-8")
            written = [stem.with_suffix(".html")]
            if not args.no_pdf:
                try:
                    written.append(html_to_pdf(document, stem.with_suffix(".pdf")))
                except PdfError as exc:
                    print(f"route {route.id}: {exc}", file=sys.stderr)
                    failed += 1
            print(f"route {route.id}: week {report.start.date()} to {(report.end - timedelta(days=1)).date()}: "
                  + ", ".join(f"{p} ({p.stat().st_size:,} bytes)" for p in written)
                  + f" in {time.monotonic() - started:.1f} s")
            if args.send:
                note = send_report(app.store, route, report, now)
                print(f"route {route.id}: queued as notification {note.id}")
        if args.send:
            sent = app.outbox.run()
            print(f"sent {sent.sent}, failed {sent.failed} (failed deliveries are retried by the daemon)")
            failed += sent.failed
    finally:
        app.close()
    return 1 if failed else 0
