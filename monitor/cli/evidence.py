"""``evidence`` (export, verify, show, recheck), ``hold`` (add, list, release) and
``retention purge``: what is kept as evidence, and for how long (issue 18)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from monitor.cli.common import load, make_app


def add_commands(sub, cfg) -> None:
    """The parsers of this module's commands (called by :mod:`monitor.cli.parser`)."""
    s = sub.add_parser("evidence", help="raw payloads, versions and removals of mentions: export, verify, show")
    ss = s.add_subparsers(dest="evidence_command", required=True)
    c = ss.add_parser("export", parents=[cfg], help="a zip of an incident's or a mention's evidence, with hashes "
                      "and a chain-of-custody note")
    c.add_argument("subject", help="incident:ID or mention:ID")
    c.add_argument("--out", required=True, help="the zip to write (its SHA-256 goes to FILE.sha256)")
    c.add_argument("--by", required=True, help="who exports (written in the chain-of-custody note)")
    c.set_defaults(func=cmd_export)
    c = ss.add_parser("verify", help="recompute every hash of an export (exit 1 when anything differs)")
    c.add_argument("zip")
    c.set_defaults(func=cmd_verify)
    c = ss.add_parser("show", parents=[cfg], help="a mention's versions and removal records (masked)")
    c.add_argument("subject", help="mention:ID")
    c.add_argument("--unmasked", action="store_true", help="as written, patient data included")
    c.set_defaults(func=cmd_show)
    c = ss.add_parser("recheck", parents=[cfg], help="ask a mention's URL again; 404 or 410 records its removal")
    c.add_argument("subject", help="mention:ID")
    c.set_defaults(func=cmd_recheck)

    s = sub.add_parser("hold", help="legal holds: what retention must keep")
    ss = s.add_subparsers(dest="hold_command", required=True)
    c = ss.add_parser("add", parents=[cfg], help="keep a mention or an incident's mentions whatever their age")
    c.add_argument("subject", help="incident:ID or mention:ID")
    c.add_argument("--reason", required=True)
    c.add_argument("--by", required=True)
    c.set_defaults(func=cmd_hold)
    c = ss.add_parser("list", parents=[cfg], help="active holds (--all: released ones too)")
    c.add_argument("--all", action="store_true")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_hold)
    c = ss.add_parser("release", parents=[cfg], help="end a hold (its record stays)")
    c.add_argument("id", type=int)
    c.add_argument("--by", required=True)
    c.set_defaults(func=cmd_hold)

    s = sub.add_parser("retention", help="[storage] retain: purge old mentions and payloads")
    ss = s.add_subparsers(dest="retention_command", required=True)
    ss.add_parser("purge", parents=[cfg], help="purge now what the daemon would purge on its hourly run"
                  ).set_defaults(func=cmd_purge)


def _subject(text: str, kinds: tuple[str, ...] = ("mention", "incident")):
    from monitor.evidence.export import parse_subject

    subject = parse_subject(text)
    if subject.kind not in kinds:
        raise ValueError(f"{text!r}: write {' or '.join(k + ':ID' for k in kinds)}")
    return subject


def _store_app(args):
    return make_app(load(args.config, need_secrets=False), model=False)


def cmd_export(args) -> int:
    from monitor.evidence.export import ExportError, export

    try:
        subject = _subject(args.subject)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    app = _store_app(args)
    try:
        started = time.perf_counter()
        summary = export(app.store, subject, Path(args.out), args.by, app.clock.now())
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        app.close()
    print(f"{summary.path}: {summary.mentions} mentions, {summary.payloads} raw payloads, {summary.files} files, "
          f"{summary.size:,} bytes ({time.perf_counter() - started:.2f}s)")
    print(f"SHA-256 {summary.sha256} (also in {summary.path}.sha256: keep it apart from the zip)")
    return 0


def cmd_verify(args) -> int:
    from monitor.evidence.verify import verify

    result = verify(Path(args.zip))
    for problem in result.problems:
        print(f"FAIL {problem}")
    if result.ok:
        print(f"{args.zip}: OK, {result.files} files match the manifest")
        return 0
    print(f"{args.zip}: {len(result.problems)} problem(s); this export was changed after it was written")
    return 1


def _on_mention(args, work):
    """``work(app, mention_id)`` for the mention the command names, with the store open;
    (exit status 2 and no store when the subject is not a mention)."""
    try:
        subject = _subject(args.subject, ("mention",))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    app = _store_app(args)
    try:
        return work(app, subject.id)
    finally:
        app.close()


def cmd_show(args) -> int:
    from monitor.evidence.export import render

    def show(app, mention_id: int) -> int:
        ev = app.store.mention_evidence(mention_id)
        if ev is None:
            print(f"error: no mention {mention_id}", file=sys.stderr)
            return 1
        sys.stdout.write(render(ev, masked=not args.unmasked))
        return 0

    return _on_mention(args, show)


def cmd_recheck(args) -> int:
    from monitor.evidence.recheck import recheck

    def check(app, mention_id: int) -> int:
        outcome = recheck(app, mention_id)
        print(outcome.message)
        return 0 if outcome.known else 1

    return _on_mention(args, check)


def cmd_hold(args) -> int:
    app = _store_app(args)
    try:
        return _hold(args, app)
    finally:
        app.close()


def _hold(args, app) -> int:
    now = app.clock.now()
    if args.hold_command == "add":
        try:
            subject = _subject(args.subject)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        row = app.store.add_hold(subject.kind, subject.id, args.reason, args.by, now)
        if row is None:
            print(f"error: no {subject}", file=sys.stderr)
            return 1
        print(f"hold {row.id} on {subject}: kept whatever its age until released ({args.reason})")
        return 0
    if args.hold_command == "release":
        row = app.store.release_hold(args.id, args.by, now)
        if row is None:
            print(f"error: no active hold {args.id}", file=sys.stderr)
            return 1
        print(f"hold {row.id} on {row.kind} {row.target_id} released by {args.by}")
        return 0
    rows = app.store.holds(include_released=args.all)
    if args.json:
        for r in rows:
            print(json.dumps({"id": r.id, "kind": r.kind, "target": r.target_id, "reason": r.reason,
                              "by": r.created_by, "at": r.created_at.isoformat(),
                              "released_at": r.released_at.isoformat() if r.released_at else None,
                              "released_by": r.released_by}, ensure_ascii=False))
        return 0
    print(f"{'id':>4}  {'on':<14} {'since (UTC)':<16}  {'by':<12} reason")
    for r in rows:
        state = f" (released {r.released_at:%Y-%m-%d} by {r.released_by})" if r.released_at else ""
        print(f"{r.id:>4}  {r.kind + ' ' + str(r.target_id):<14} {r.created_at:%Y-%m-%d %H:%M}  {r.created_by:<12} "
              f"{r.reason}{state}")
    print(f"({len(rows)} holds{'' if args.all else ' active; --all shows released ones too'})")
    return 0


def cmd_purge(args) -> int:
    from monitor.evidence.retention import run_retention

    app = _store_app(args)
    try:
        started = time.perf_counter()
        counts = run_retention(app)
    finally:
        app.close()
    if counts is None:
        print("[storage] retain is not set: nothing is purged")
        return 0
    print(f"purged {counts.mentions} mentions ({counts.versions} earlier versions), {counts.fetches} fetch records, "
          f"{counts.payloads} raw payloads in {time.perf_counter() - started:.2f}s; kept {counts.kept_open} old "
          f"mentions of open incidents and {counts.kept_held} under legal hold")
    return 0
