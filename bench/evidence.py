"""What evidence costs: storage per mention with payload dedup, poll time with and without
evidence, and the time to export and verify an incident's evidence.

    python bench/evidence.py [--polls 100] [--page 50] [--new 10] [--db sqlite|postgresql://...]

A local server serves one RSS feed of ``--page`` reviews (about 600 bytes each, zh-TW); each
poll the newest ``--new`` are new and the oldest drop off, as a review site's feed does.
``App.poll_source`` polls it ``--polls`` times with the real pipeline (HTTP, parsing,
matching, storage, evidence). Prints the evidence tables' bytes per stored mention (bodies
compressed, each stored once by hash) against keeping a copy of the page per mention, the
median poll time with evidence (and of the evidence step alone) against the same polls with
the evidence step switched off,
then exports an incident of ``--incident`` of the mentions, verifies the zip, and purges
everything but that (open) incident.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from unittest import mock
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from monitor.app import App  # noqa: E402
from monitor.clock import ManualClock  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.evidence.export import Subject, export  # noqa: E402
from monitor.evidence.verify import verify  # noqa: E402
from monitor.localserver import FeedServer  # noqa: E402
from monitor.store import IncidentRow  # noqa: E402

TEXT = ("林志明醫師看診態度很差,預約了還等兩個小時,問問題就不耐煩。櫃檯說是系統問題,但同一天好幾個人都在抱怨。"
        "診所環境還算乾淨,但收費不透明,自費項目事先沒說明,結帳才多收三千元。希望院方改善。")


def feed(first: int, count: int, at: datetime) -> str:
    items = "".join(f"<item><guid isPermaLink=\"false\">r{i}</guid><title>評論 {i}</title>"
                    f"<description>{escape(TEXT)} (#{i})</description><link>https://reviews.example/r/{i}</link>"
                    f"<pubDate>{format_datetime(at - timedelta(minutes=first + count - i))}</pubDate></item>"
                    for i in range(first + count - 1, first - 1, -1))
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>x</title>{items}</channel></rss>'


def run(db_url: str, args, evidence: bool) -> tuple[App, list[float], int, list[float]]:
    clock = ManualClock(datetime(2026, 11, 22, 10, tzinfo=timezone.utc))
    with FeedServer() as server, tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "c.toml"
        cfg.write_text(f'[storage]\nurl = "{db_url}"\n\n[daemon]\nlisten = ""\n\n[[entities]]\nid = "dr-lin"\n'
                       f'name = "林志明醫師"\n\n[[sources]]\nid = "feed"\ntype = "rss"\nurl = "{server.url("/f")}"\n'
                       f'max_bytes = 10000000\n', encoding="utf-8")
        app = App(load_config(cfg), scorer=None, clock=clock)
        times, page_bytes, step = [], 0, []
        keep = app.store.keep_evidence

        def timed(*a, **k):
            started = time.perf_counter()
            try:
                return keep(*a, **k)
            finally:
                step.append(time.perf_counter() - started)

        app.store.keep_evidence = timed
        patch = mock.patch("monitor.app.keep_evidence", lambda *a, **k: []) if not evidence else mock.MagicMock()
        with patch:
            for k in range(args.polls):
                body = feed(k * args.new, args.page, clock.now())
                server.set("/f", body, "application/rss+xml; charset=utf-8")
                started = time.perf_counter()
                report = app.poll_source("feed")
                times.append(time.perf_counter() - started)
                assert report.status == "ok", report.error
                page_bytes += len(body.encode("utf-8")) * report.new  # a copy of the page for each new mention
                clock.advance(timedelta(minutes=5))
        return app, times, page_bytes, step


def evidence_bytes(app: App) -> tuple[int, int, int]:
    with app.store.engine.connect() as conn:
        payload = conn.execute(sa.text("SELECT COALESCE(SUM(LENGTH(data)) + 64 * COUNT(*), 0), COUNT(*) "
                                       "FROM payloads")).one()
        fetches = conn.execute(sa.text("SELECT COALESCE(SUM(LENGTH(url) + LENGTH(headers) + 64 + 40), 0) "
                                       "FROM fetches")).scalar()
        links = conn.execute(sa.text("SELECT COUNT(*) * 12 FROM mention_evidence")).scalar()
    return int(payload[0]) + int(fetches) + int(links), int(payload[1]), int(fetches)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--polls", type=int, default=100)
    ap.add_argument("--page", type=int, default=50)
    ap.add_argument("--new", type=int, default=10)
    ap.add_argument("--incident", type=int, default=200)
    ap.add_argument("--db", default="sqlite")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = [f"sqlite:///{tmp}/{n}.db" for n in ("with", "without")] if args.db == "sqlite" else [args.db, None]
        off_times = None
        if urls[1] is not None:
            off, off_times, _, _ = run(urls[1], args, evidence=False)
            off.close()
        app, times, copies, step = run(urls[0], args, evidence=True)
        try:
            mentions = app.store.count_mentions()
            total, payloads, _ = evidence_bytes(app)
            print(f"{mentions} mentions from {args.polls} polls ({args.page} items a page, {args.new} new each): "
                  f"{payloads} payloads stored; evidence {total:,} bytes = {total / mentions:,.0f} bytes a mention "
                  f"(a copy of the page per mention: {copies / mentions:,.0f} bytes)")
            line = (f"poll: median {statistics.median(times) * 1000:.1f} ms with evidence (the evidence step "
                    f"{statistics.median(step) * 1000:.1f} ms)")
            if off_times:
                line += f", {statistics.median(off_times) * 1000:.1f} ms without"
            print(line)
            ids = sorted(m.id for m in app.store.mentions(limit=args.incident))
            at = app.clock.now()
            ident = app.store.add(IncidentRow(route_id="r", opened_at=at, first_detected_at=at, deadline=at,
                                              mention_ids=str(ids))).id
            out = Path(tmp) / "incident.zip"
            started = time.perf_counter()
            summary = export(app.store, Subject("incident", ident), out, "bench", at)
            exported = time.perf_counter() - started
            started = time.perf_counter()
            result = verify(out)
            checked = time.perf_counter() - started
            assert result.ok, result.problems
            print(f"export of {summary.mentions} mentions: {summary.files} files, {summary.payloads} payloads, "
                  f"{summary.size:,} bytes in {exported:.2f} s; verify {result.files} files in {checked:.2f} s")
            started = time.perf_counter()
            purged = app.store.purge(app.clock.now() + timedelta(days=1))  # everything but the open incident
            print(f"purge: {purged.mentions} mentions, {purged.fetches} fetches, {purged.payloads} payloads in "
                  f"{time.perf_counter() - started:.2f} s; kept {purged.kept_open} of the open incident")
        finally:
            app.close()


if __name__ == "__main__":
    main()
