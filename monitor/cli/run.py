"""``run``, ``poll`` and ``healthz``: the daemon, one cycle, and the daemon's health."""
from __future__ import annotations

import json
import logging
import sys
import time

from monitor.cli.common import load, make_app


def cmd_run(args) -> int:
    import signal

    from monitor.daemon import Daemon

    if hasattr(signal, "SIGHUP"):  # a reload asked for while the model loads is not a kill; the daemon handles it
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    config = load(args.config)
    if config.scale.broker:  # scaled out: this process schedules and processes, workers poll
        from monitor.cli.scale import run_scaled

        return run_scaled(args)
    app = make_app(config)
    logging.getLogger("repwatch").info("storage %s, model %s", config.storage.redacted_url, app.scorer.name)
    try:
        Daemon(app).run()
    finally:
        app.close()
    return 0


def cmd_poll(args) -> int:
    config = load(args.config)
    app = make_app(config)
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


def cmd_healthz(args) -> int:
    """Ask the running daemon's /healthz (the container health check): exit 0 when healthy."""
    import urllib.error
    import urllib.request

    config = load(args.config, need_secrets=False, storage=False)
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
