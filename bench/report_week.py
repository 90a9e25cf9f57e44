"""The weekly report with a year of history: bench/process_1m.py's database (1,000,000
mentions of 50 entities over a year, 100 sources, a year of incidents), the week before its
last day. Measures, on a copy of the cached database:

* gathering the figures (:func:`monitor.report.build`: every aggregate read), median of 5,
* writing the HTML document, and printing it to PDF with headless Chromium (one run),

and prints the HTML and PDF sizes.

    python bench/report_week.py [--mentions 1000000] [--language zh-TW|en]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from monitor.config import load_config  # noqa: E402
from monitor.report import build, html_to_pdf, report_html  # noqa: E402
from monitor.store import Store  # noqa: E402
from process_1m import ENTITIES, NOW, SOURCES, build_sqlite  # noqa: E402


def config_text(url: str, language: str) -> str:
    """process_1m.py's entities and sources, and one route with a weekly report."""
    parts = [f'[storage]\nurl = "{url}"\n', '[daemon]\nlisten = ""\n']
    parts += [f'[[entities]]\nid = "{e}"\nname = "診所{e}"\n' for e in ENTITIES]
    parts += [f'[[sources]]\nid = "{s}"\ntype = "rss"\nurl = "https://feeds.example/{s}.xml"\n' for s in SOURCES]
    parts.append(f'[[routes]]\nid = "crisis"\nlanguage = "{language}"\ntimezone = "Asia/Taipei"\n'
                 'notify = ["json://127.0.0.1:9/crisis"]\nreport_at = "Mon 08:30"\n')
    return "\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mentions", type=int, default=1_000_000)
    ap.add_argument("--language", default="zh-TW", choices=("zh-TW", "en"))
    args = ap.parse_args()
    cached = build_sqlite(args.mentions)
    with tempfile.TemporaryDirectory(prefix="report-week-") as tmp:
        db = Path(tmp) / "report.db"
        shutil.copyfile(cached, db)
        cfg = Path(tmp) / "repwatch.toml"
        cfg.write_text(config_text(f"sqlite:///{db}", args.language), encoding="utf-8")
        config = load_config(cfg, env={})
        store = Store(config.storage.url)  # brings the cached schema up to date first
        route = config.route("crisis")
        end_day = (NOW.astimezone(ZoneInfo(route.timezone)) + timedelta(days=1)).date()  # the week up to NOW
        gathers = []
        for _ in range(5):
            t0 = time.perf_counter()
            report = build(config, store, route, end_day, NOW)
            gathers.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        document = report_html(report)
        html_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pdf = html_to_pdf(document, Path(tmp) / "report.pdf")
        pdf_s = time.perf_counter() - t0
        w = report.week.tally
        print(f"{args.mentions:,} mentions; week {report.start.date()}..{report.end.date()} ({args.language}): "
              f"{w.total:,} mentions, {w.negative:,} negative, {report.golden.incidents} incidents")
        print(f"gather (every aggregate read)  median {statistics.median(gathers) * 1000:7.0f} ms  "
              f"(min {min(gathers) * 1000:.0f}, max {max(gathers) * 1000:.0f})")
        print(f"HTML document                   {html_s * 1000:7.0f} ms  {len(document.encode()):,} bytes")
        print(f"PDF (headless Chromium)         {pdf_s * 1000:7.0f} ms  {pdf.stat().st_size:,} bytes")
        store.close()


if __name__ == "__main__":
    main()
