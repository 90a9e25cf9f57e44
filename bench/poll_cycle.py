"""How long one poll cycle takes: fetch a local Google Alerts feed, match, store in a
fresh SQLite file, score with the built-in model, evaluate rules, deliver one page to a
local json:// receiver. Prints the median of several cycles, first (cold) vs warm.

    python bench/poll_cycle.py [--rounds 5] [--entries 20]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.app import App  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.demo import TIMELINE, alerts_feed, demo_config  # noqa: E402
from monitor.localserver import FeedServer, Receiver  # noqa: E402
from monitor.sentiment import load_scorer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--entries", type=int, default=20)
    args = ap.parse_args()
    scorer = load_scorer("builtin")
    full, unchanged, alerts = [], [], 0
    with FeedServer() as feed, Receiver() as receiver:
        for r in range(args.rounds):
            now = datetime.now(timezone.utc)
            entries = [(0, f"{t} #{r}-{i}", s, f"{u}/{r}/{i}") for i in range(args.entries // len(TIMELINE) + 1)
                       for _, t, s, u in TIMELINE][: args.entries]
            feed.set("/f", alerts_feed(entries, now - timedelta(minutes=5)))
            with tempfile.TemporaryDirectory() as tmp:
                cfg_path = Path(tmp) / "c.toml"
                cfg_path.write_text(demo_config(feed.url("/f"), receiver.apprise_url, Path(tmp) / "b.db", "5m"))
                app = App(load_config(cfg_path), scorer=scorer)
                t0 = time.perf_counter()
                polls, processed = app.cycle()
                full.append(time.perf_counter() - t0)
                alerts += len(processed.alerts)
                t0 = time.perf_counter()
                app.cycle()  # 304, nothing new
                unchanged.append(time.perf_counter() - t0)
                app.close()
    print(f"poll cycle with {args.entries} new entries (fetch+match+store+score+rules+page): "
          f"median {statistics.median(full) * 1000:.0f} ms (min {min(full) * 1000:.0f}, max {max(full) * 1000:.0f})")
    print(f"poll cycle with nothing new (304): median {statistics.median(unchanged) * 1000:.1f} ms")
    receiver.wait_for(alerts, 5)
    print(f"pages received: {len(receiver.received)} of {alerts} alerts raised "
          f"(one per entity over its threshold per round)")


if __name__ == "__main__":
    main()
