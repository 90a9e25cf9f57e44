"""``test-notify``, ``deliveries`` and ``digest``: what is sent, and whether it arrived."""
from __future__ import annotations

import json
import sys

from monitor.cli.common import display_zone, load, make_app, shown_time
from monitor.errors import NotInConfigError


def cmd_test_notify(args) -> int:
    from monitor.notify import Notifier, redact

    config = load(args.config)
    try:
        route = config.route(args.route)
    except NotInConfigError:
        print(f"no route {args.route!r} in {args.config} (routes: {', '.join(r.id for r in config.routes)})",
              file=sys.stderr)
        return 2
    notifier = Notifier()
    title = "[repwatch] test notification" if route.language == "en" else "[repwatch] 測試通知"
    body = (f"This is a test page from repwatch for route {route.id}. No action needed."
            if route.language == "en" else f"這是 repwatch 對路由 {route.id} 的測試通知,無需處理。")
    failures = 0
    for url in route.notify:
        res = notifier.send(url, title, body)
        print(f"{redact(url)}: {'sent' if res.ok else 'FAILED - ' + (res.error or '')}")
        failures += not res.ok
    return 1 if failures else 0


def cmd_deliveries(args) -> int:
    """The outbox: each delivery, its status, attempts and apprise's reason for a failure."""
    from monitor.notify import mask_shown

    config = load(args.config, need_secrets=False)
    app = make_app(config, model=False)
    try:
        rows = app.store.deliveries(limit=args.limit)
    finally:
        app.close()
    if args.failed:
        rows = [d for d in rows if d.status in ("failed", "retrying", "sending")]
    rows.reverse()
    zone = display_zone(config)
    for d in rows:
        if args.json:
            print(json.dumps({"id": d.id, "notification": d.notification_id, "route": d.route_id,
                              "target": mask_shown(d.target),  # rows stored before targets were fully masked
                              "status": d.status, "attempts": d.attempts, "error": d.last_error,
                              "created_at": d.created_at.isoformat(),
                              "sent_at": d.sent_at.isoformat() if d.sent_at else None,
                              "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
                              "fallback_for": d.fallback_for}, ensure_ascii=False))
        else:
            extra = f" - {d.last_error}" if d.last_error and d.status != "sent" else ""
            fb = f" (fallback for #{d.fallback_for})" if d.fallback_for else ""
            print(f"#{d.id:<5} n{d.notification_id or '-':<5} {d.route_id:<14} {d.status:<9} x{d.attempts:<2} "
                  f"{shown_time(d.created_at, zone)}  {mask_shown(d.target)}{fb}{extra}")
    if not args.json:
        print(f"({len(rows)} deliveries)")
    return 1 if any(d.status == "failed" for d in rows) else 0


def cmd_digest(args) -> int:
    config = load(args.config, need_secrets=args.send)
    app = make_app(config, model=False)
    dispatcher = app.dispatcher
    try:
        try:
            route = config.route(args.route)
        except NotInConfigError:
            print(f"no route {args.route!r} in {args.config}", file=sys.stderr)
            return 2
        msg = dispatcher.digest(route, dispatcher.clock.now())
        if not args.send:
            print(msg.title)
            print(msg.text)
            return 0
        dispatcher.send_digest(route, dispatcher.clock.now())
        report = app.outbox.run()
        print(f"digest for route {route.id}: sent {report.sent}, failed {report.failed}")
        return 1 if report.failed else 0
    finally:
        app.close()
