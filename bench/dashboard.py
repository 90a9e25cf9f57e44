"""Dashboard response times with 1,000,000 stored mentions (issue 17): the overview and
filtered mention lists, requested through the real ASGI app (Starlette's TestClient:
the session cookie, the middleware, the templates, the SVG charts, the store) as a
signed-in user. Prints p50 and p95 of ``--requests`` requests each (after one warm-up)
against the target: p95 <= 300 ms.

    python bench/dashboard.py [--mentions 1000000] [--requests 30]

The history is bench/process_1m.py's (50 entities and 100 sources over a year, 12 %
negative, a year of alerts, incidents and pages); the SQLite file is built once (a few
minutes on two cores) and cached under .data/bench/ by schema, like process_1m's, under a
name of its own. The app opens it as the daemon would; the requests only read.
"""
from __future__ import annotations

import argparse
import logging
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from argon2 import PasswordHasher  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from bench.process_1m import ENTITIES, NOW, SOURCES, build_sqlite  # noqa: E402
from monitor.app import App  # noqa: E402
from monitor.clock import ManualClock  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.web import create_app  # noqa: E402
from monitor.web.users import Users, users_file  # noqa: E402

TARGET = 0.300
PASSWORD = "bench password 0123"
REQUESTS = {
    "overview (50 entities, 6 charted)": "/",
    "overview, one entity charted": "/?entity=e33",
    "mentions: entity + negative": "/mentions?entity=e07&label=negative",
    "mentions: source + label": "/mentions?source=src042&label=neutral",
    "mentions: cause + dates": "/mentions?cause=billing&since=2026-10-01&until=2026-11-15",
    "mentions: entity, 2nd page": None,  # the first page's "next" link
    "API: negative, entity": "/api/mentions?entity=e21&label=negative&limit=100",
}


def config_text(url: str) -> str:
    """process_1m's 50 entities and 100 sources (never polled here) and a route; no rules
    (the dashboard only reads)."""
    parts = [f'[storage]\nurl = "{url}"\n', '[sentiment]\nmodel = "builtin"\nnegative_threshold = 0.5\n',
             '[daemon]\nlisten = ""\n']
    parts += [f'[[entities]]\nid = "{e}"\nname = "診所{e}"\n' for e in ENTITIES]
    parts += [f'[[sources]]\nid = "{s}"\ntype = "rss"\nurl = "https://feeds.example/{s}.xml"\nevery = "5m"\n'
              for s in SOURCES]
    parts.append('[[routes]]\nid = "crisis"\nnotify = ["json://127.0.0.1:9/crisis"]\n')
    return "\n".join(parts)


def build(n: int) -> Path:
    return build_sqlite(n, prefix="dashboard")


def signed_in(web) -> TestClient:
    client = TestClient(web, base_url="http://127.0.0.1", follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"csrf": token, "name": "bench", "password": PASSWORD})
    assert r.status_code == 303, r.text
    return client


def timed(client: TestClient, path: str, runs: int) -> list[float]:
    client.get(path)  # warm-up: templates compiled, pages in the OS cache
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = client.get(path)
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mentions", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=30)
    args = ap.parse_args()
    logging.getLogger("repwatch").setLevel(logging.ERROR)
    db = build(args.mentions)
    work = ROOT / ".data" / "bench" / "work"
    work.mkdir(parents=True, exist_ok=True)
    cfg = work / "dashboard.toml"
    cfg.write_text(config_text(f"sqlite:///{db}"), encoding="utf-8")
    app = App(load_config(cfg), scorer=None, clock=ManualClock(NOW))
    try:
        Users(users_file(app.config), PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)).add(
            "bench", PASSWORD, "viewer")
        client = signed_in(create_app(app))
        first = client.get(REQUESTS["mentions: entity + negative"]).text
        REQUESTS["mentions: entity, 2nd page"] = re.search(r'id="next-page" href="([^"]+)"', first).group(1) \
            .replace("&amp;", "&")
        size = len(client.get("/").content)
        print(f"{args.mentions:,} stored mentions, 50 entities, 100 sources, a year; {args.requests} requests each "
              f"(overview page {size / 1024:.0f} KiB)")
        for what, path in REQUESTS.items():
            runs = timed(client, path, args.requests)
            p50, p95 = statistics.median(runs), sorted(runs)[round(0.95 * (len(runs) - 1))]
            verdict = "ok" if p95 <= TARGET else "OVER"
            print(f"  {what:<40} p50 {p50 * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   "
                  f"(target p95 <= {TARGET * 1000:.0f} ms: {verdict})")
    finally:
        app.close()


if __name__ == "__main__":
    main()
