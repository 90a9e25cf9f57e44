"""What a poll that brings nothing new (304) costs, against plain httpx on the same URLs.

    python bench/poll_overhead.py [--sources 100] [--rounds 5] [--db sqlite|postgresql://...]

A local server serves one small Google Alerts feed per source with an ETag. After a first
cycle (200s, mentions stored) every poll is a conditional GET answered 304:

* repwatch: ``App.poll_source`` for each source in turn (state read, conditional GET,
  source state written);
* httpx: ``httpx.Client.get`` of the same URLs with the same If-None-Match header.

Prints milliseconds per poll for both (median over rounds) and the difference.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.app import App  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.demo import TIMELINE, alerts_feed  # noqa: E402
from monitor.localserver import FeedServer  # noqa: E402


def config_text(db_url: str, urls: list[str]) -> str:
    sources = "".join(f'\n[[sources]]\nid = "s{i}"\ntype = "google_alerts"\nurl = "{u}"\nevery = "5m"\n'
                      for i, u in enumerate(urls))
    return (f'[storage]\nurl = "{db_url}"\n\n[daemon]\nlisten = ""\n\n'
            '[[entities]]\nid = "dr-lin"\nname = "林志明醫師"\naliases = ["林志明", "林醫師"]\n' + sources)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sources", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--db", default="sqlite")
    args = ap.parse_args()
    now = datetime.now(timezone.utc)
    with FeedServer() as feed, tempfile.TemporaryDirectory() as tmp:
        urls = []
        for i in range(args.sources):
            entries = [(0, f"{t} #{i}", s, f"{u}/{i}") for _, t, s, u in TIMELINE[:4]]
            feed.set(f"/f{i}", alerts_feed(entries, now - timedelta(hours=2)))
            urls.append(feed.url(f"/f{i}"))
        db_url = f"sqlite:///{Path(tmp) / 'b.db'}" if args.db == "sqlite" else args.db
        cfg = Path(tmp) / "c.toml"
        cfg.write_text(config_text(db_url, urls), encoding="utf-8")
        app = App(load_config(cfg), scorer=None)
        ids = [f"s{i}" for i in range(args.sources)]
        first = [app.poll_source(i) for i in ids]
        assert all(p.status == "ok" for p in first), first[:3]
        etags = {i: app.store.source_state(i).etag for i in ids}
        ours, plain = [], []
        with httpx.Client() as client:
            for _ in range(args.rounds):
                started = time.perf_counter()
                reports = [app.poll_source(i) for i in ids]
                ours.append((time.perf_counter() - started) / len(ids))
                assert all(p.status == "not_modified" for p in reports), reports[:3]
                started = time.perf_counter()
                for i, url in zip(ids, urls):
                    assert client.get(url, headers={"If-None-Match": etags[i]}).status_code == 304
                plain.append((time.perf_counter() - started) / len(ids))
        app.close()
    o, p = statistics.median(ours) * 1000, statistics.median(plain) * 1000
    print(f"{args.sources} sources x {args.rounds} rounds, 304 each ({args.db}): repwatch {o:.2f} ms per poll, "
          f"plain httpx {p:.2f} ms, overhead {o - p:.2f} ms ({o / p:.1f}x)")


if __name__ == "__main__":
    main()
