"""``mentions`` and ``label``: what was stored, and a human's verdict on it."""
from __future__ import annotations

import json
import sys

from monitor.cli.common import display_zone, load, make_app, shown_time


def cmd_mentions(args) -> int:
    """Stored mentions, patient data masked; a mention that exposes a patient (restricted,
    :mod:`monitor.defence.phi`) is listed without its title and text."""
    from monitor.defence.phi import is_restricted, restricted_note
    from monitor.privacy import mask_phi, mask_url
    from monitor.render import safe_text
    from monitor.units import parse_duration

    config = load(args.config, need_secrets=False)
    app, zone = make_app(config, model=False), display_zone(config)
    try:
        since = app.clock.now() - parse_duration(args.since) if args.since else None
        rows = app.store.mentions(since=since, limit=args.limit)
    finally:
        app.close()
    for m in rows:
        restricted = is_restricted(m.title, m.text)
        if args.json:
            print(json.dumps({
                "id": m.id, "source": m.source_id, "entities": list(m.entities), "event_at": m.event_at.isoformat(),
                "detected_at": m.detected_at.isoformat(), "label": m.label, "negative": m.negative_score,
                "verdict_by": m.verdict_by, "model_label": m.model_label, "model_negative": m.model_negative,
                "rating": m.rating, "causes": list(m.causes), "backfill": m.backfill, "parent_url": m.parent_url,
                "url": mask_url(m.url) if m.url else None, "restricted": restricted,
                "title": None if restricted else mask_phi(m.title), "text": None if restricted else mask_phi(m.text),
            }, ensure_ascii=False))
        else:
            neg = f"{m.negative_score:.2f}" if m.negative_score is not None else "  - "
            stars = f"{m.rating:.0f}★" if m.rating is not None else "  "
            by = {"human": "H", "rating": "R"}.get(m.verdict_by or "", " ")
            causes = ",".join(m.causes)
            print(f"{m.id:>6} {shown_time(m.event_at, zone)}  {(m.label or 'unscored'):<9}{by} {neg} {stars:>2}  "
                  f"{','.join(m.entities):<16} {causes:<16} "
                  f"{restricted_note('en') if restricted else safe_text(m.title or m.text or '(stars only)', 60)}")
    if not args.json:
        print(f"({len(rows)} mentions)")
    return 0


def cmd_label(args) -> int:
    """Record a human verdict on a mention: it counts at once in rules, pages and digests,
    and ``repwatch sentiment adapt`` learns from it."""
    from monitor.causes import CAUSES
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
    app = make_app(load(args.config, need_secrets=False), model=False)
    try:
        row = app.store.label_mention(args.mention, args.label, causes, args.by, app.clock.now())
    finally:
        app.close()
    if row is None:
        print(f"repwatch label: no mention {args.mention}", file=sys.stderr)
        return 1
    model = f"{row.model_label} ({row.model_negative:.2f})" if row.model_negative is not None else "not scored"
    print(f"mention {row.id}: {args.label}" + (f" [{row.causes}]" if row.causes else "")
          + f" by {args.by} (model said {model})")
    return 0
