"""Detection-to-page time: the real daemon (its scheduler, system clock) polls a local
Google Alerts feed; when the feed gains the mention that completes a burst, how long from
repwatch's detection of it (``mentions.detected_at``) until the page reaches a local
json:// receiver? Run side by side for group_wait = 0s and the default 30s.

    python bench/page_latency.py [--rounds 3] [--every 2s]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.app import App  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.daemon import Daemon  # noqa: E402
from monitor.demo import TIMELINE, alerts_feed, demo_config  # noqa: E402
from monitor.localserver import FeedServer, Receiver  # noqa: E402
from monitor.sentiment import load_scorer  # noqa: E402


def one_round(scorer, group_wait: str, every: str, r: int) -> tuple[float, float]:
    """(seconds from detection to receipt, seconds from the feed change to receipt)."""
    negatives = [e for e in TIMELINE if e[0] > 0][:3]
    with FeedServer() as feed, Receiver() as receiver, tempfile.TemporaryDirectory() as tmp:
        started = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
        entries = [(0, f"{t} #{r}", s, f"{u}/{r}") for _, t, s, u in negatives]
        feed.set("/f", alerts_feed(entries[:2], started))
        cfg = Path(tmp) / "c.toml"
        text = demo_config(feed.url("/f"), receiver.apprise_url, Path(tmp) / "b.db", every)
        cfg.write_text(text.replace('group_wait = "5s"', f'group_wait = "{group_wait}"'), encoding="utf-8")
        app = App(load_config(cfg), scorer=scorer)
        daemon = Daemon(app)
        stop = threading.Event()
        runner = threading.Thread(target=daemon.run, kwargs={"install_signals": False, "until": stop}, daemon=True)
        runner.start()
        try:
            deadline = time.monotonic() + 30
            while app.store.count_mentions() < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            changed = time.monotonic()
            feed.set("/f", alerts_feed(entries, started))  # the third negative mention: a burst
            if not receiver.wait_for(1, 120):
                raise SystemExit(f"no page within 120 s (group_wait {group_wait})")
            got_mono, got_wall = time.monotonic(), datetime.now(timezone.utc)
            third = max(app.store.mentions(limit=10), key=lambda m: m.id)
            return (got_wall - third.detected_at).total_seconds(), got_mono - changed
        finally:
            stop.set()
            runner.join(timeout=30)
            app.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--every", default="2s", help="the source's poll interval")
    args = ap.parse_args()
    scorer = load_scorer("builtin")
    print(f"poll every {args.every}; outbox/dispatch job every 10 s; {args.rounds} rounds each")
    print(f"{'group_wait':<11} {'detection->page median':>23} {'min':>6} {'max':>6}   feed change->page median")
    for gw in ("0s", "30s"):
        runs = [one_round(scorer, gw, args.every, r) for r in range(args.rounds)]
        det = [d for d, _ in runs]
        feed = [f for _, f in runs]
        print(f"{gw:<11} {statistics.median(det):>22.2f}s {min(det):>5.2f}s {max(det):>5.2f}s   "
              f"{statistics.median(feed):.2f}s")


if __name__ == "__main__":
    main()
