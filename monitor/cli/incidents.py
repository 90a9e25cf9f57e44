"""``incidents``, ``ack``, ``resolve`` and ``silence``: the crisis team's side of a page."""
from __future__ import annotations

import json
import sys

from monitor.cli.common import can_send, display_zone, load, make_app, shown_time


def duration_text(delta) -> str:
    from datetime import timedelta

    from monitor.units import format_duration

    if delta is None:
        return "-"
    return format_duration(timedelta(seconds=max(int(delta.total_seconds()), 0)))


def cmd_incidents(args) -> int:
    """Incidents with time-to-ack, time-to-resolve and whether the golden hour was met."""
    config = load(args.config, need_secrets=False)
    app = make_app(config, model=False)
    try:
        rows = app.store.incidents(open_only=not args.all)
        now = app.clock.now()
    finally:
        app.close()
    out = []
    for i in rows:
        met = None if i.acked_at is None and now <= i.deadline else (i.acked_at is not None and i.acked_at <= i.deadline)
        out.append({
            "id": i.id, "entity": i.entity_id, "severity": i.severity, "status": i.status, "route": i.route_id,
            "tier": i.tier, "tier_route": i.tier_route, "opened_at": i.opened_at.isoformat(),
            "first_detected_at": i.first_detected_at.isoformat(), "deadline": i.deadline.isoformat(),
            "acked_by": i.acked_by, "ack_via": i.ack_via,
            "time_to_ack_s": int((i.acked_at - i.first_detected_at).total_seconds()) if i.acked_at else None,
            "time_to_resolve_s": int((i.resolved_at - i.first_detected_at).total_seconds()) if i.resolved_at else None,
            "hour_met": met, "mentions": len(i.mention_id_list),
        })
    if args.json:
        for r in out:
            print(json.dumps(r, ensure_ascii=False))
        return 0
    zone = display_zone(config)
    print(f"{'id':>4}  {'entity':<16} {'severity':<8} {'status':<8} {'tier':>4}  {'detected':<23}  "
          f"{'to ack':>7} {'to resolve':>10}  hour   owner")
    for r, i in zip(out, rows):
        met = {True: "met", False: "MISSED", None: "open"}[r["hour_met"]]
        print(f"{r['id']:>4}  {r['entity']:<16} {r['severity']:<8} {r['status']:<8} {r['tier']:>4}  "
              f"{shown_time(i.first_detected_at, zone)}  {duration_text(i.acked_at and i.acked_at - i.first_detected_at):>7} "
              f"{duration_text(i.resolved_at and i.resolved_at - i.first_detected_at):>10}  {met:<6} "
              f"{i.acked_by or ''}")
    print(f"({len(out)} incidents{'' if args.all else ' open; --all shows resolved ones too'})")
    return 0


def cmd_ack(args) -> int:
    """``ack`` and ``resolve``: the routes that were paged are told at once (the daemon's
    outbox would send it within seconds anyway)."""
    config = load(args.config, need_secrets=False)
    app = make_app(config, model=False)
    try:
        if args.command == "ack":
            inc = app.dispatcher.ack(args.incident, args.by, via="cli")
            if can_send(config):
                app.outbox.run()
            else:
                print("the notify URLs' variables are not set here: the daemon sends the acknowledgement notice",
                      file=sys.stderr)
        else:
            inc = app.dispatcher.resolve(args.incident, args.by)
    finally:
        app.close()
    zone = display_zone(config)
    if args.command == "resolve":
        print(f"incident #{inc.id} resolved by {inc.resolved_by} at {shown_time(inc.resolved_at, zone, True)}")
        return 0
    late = "" if inc.acked_at <= inc.deadline else " (after the golden-hour deadline)"
    print(f"incident #{inc.id} acknowledged by {inc.acked_by} at {shown_time(inc.acked_at, zone, True)}{late}")
    return 0


def cmd_silence(args) -> int:
    from datetime import datetime

    from monitor.clock import UTC
    from monitor.units import parse_duration

    config = load(args.config, need_secrets=False)
    app = make_app(config, model=False)
    store, dispatcher = app.store, app.dispatcher
    now, zone = app.clock.now(), display_zone(config)
    try:
        if args.silence_command == "add":
            if bool(args.duration) == bool(args.until):
                print("give either --for DURATION or --until TIME", file=sys.stderr)
                return 2
            try:
                ends = now + parse_duration(args.duration) if args.duration else datetime.fromisoformat(args.until)
            except ValueError as exc:
                print(f"repwatch silence add: {exc}", file=sys.stderr)
                return 2
            if ends.tzinfo is None:
                print("--until needs a time zone, e.g. 2026-11-23T08:00+08:00", file=sys.stderr)
                return 2
            row = dispatcher.silence(args.matchers, ends.astimezone(UTC), args.by, args.comment)
            print(f"silence #{row.id} until {shown_time(row.ends_at, zone)}: {' '.join(row.matcher_list)}")
            return 0
        if args.silence_command == "expire":
            row = dispatcher.expire_silence(args.id)
            print(f"silence #{row.id} expired at {shown_time(row.ends_at, zone, True)}")
            return 0
        rows = store.silences() if args.all else store.active_silences(now)
        for r in rows:
            state = "active" if r.starts_at <= now < r.ends_at else "expired"
            if args.json:
                print(json.dumps({"id": r.id, "matchers": r.matcher_list, "starts_at": r.starts_at.isoformat(),
                                  "ends_at": r.ends_at.isoformat(), "by": r.created_by, "comment": r.comment,
                                  "state": state}, ensure_ascii=False))
            else:
                print(f"#{r.id:<4} {state:<8} until {shown_time(r.ends_at, zone)}  {' '.join(r.matcher_list)}  "
                      f"by {r.created_by}: {r.comment}")
        if not args.json:
            print(f"({len(rows)} silences)")
        return 0
    finally:
        app.close()
