"""``sources``: each source's health."""
from __future__ import annotations

import json

from monitor.cli.common import display_zone, load, make_app, shown_time


def cmd_sources(args) -> int:
    """Each source's health (ok / failing / blocked / auth-failed / silent), last success and
    last error. Exit 0 when every enabled source is ok or new, 1 otherwise (for cron checks)."""
    from monitor.health import source_health
    from monitor.render import safe_text

    config = load(args.config, need_secrets=False)
    app = make_app(config, model=False)
    try:
        states = app.store.source_states()
        now = app.clock.now()
    finally:
        app.close()
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
              f"{'last success':<23}  last error / note")
        zone = display_zone(config)
        for r, s in zip(rows, config.sources):
            st = states.get(s.id)
            ok_at = shown_time(st.last_success_at, zone) if st and st.last_success_at else "never"
            note = r["last_error"] if r["health"] != "ok" and r["last_error"] else (
                r["reason"] if r["health"] not in ("ok",) else "")
            print(f"{r['source']:<24} {r['type']:<15} {r['health']:<12} {r['consecutive_failures']:>5} "
                  f"{r['total_mentions']:>6} {r['backfilled']:>8}  {ok_at:<23}  {safe_text(note or '', 90)}")
    return 0 if all(r["health"] in ("ok", "new", "disabled") for r in rows) else 1
