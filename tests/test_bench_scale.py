"""bench/scale.py: its feeds are what the Google Alerts connector reads, its schedule arithmetic,
and a tiny end-to-end run (feed server, real daemon, baseline) whose report has every field.
No timing is asserted: the figures belong to the bench, not to the test."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import httpx
import pytest
import respx

from connectors.base import FetchContext
from connectors.google_alerts import GoogleAlertsConnector
from connectors.http import HttpPolicy
from monitor.config import Source

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import feedserver  # noqa: E402
import scale  # noqa: E402
import scale_report  # noqa: E402

URL = "http://127.0.0.1:9/alerts/feeds/7"


@respx.mock
def test_bench_feed_parses_as_google_alerts_with_entities_and_negative(sleeps, clock):
    negative = feedserver.Negative(feed=7, entity=3, at=1.0)
    body = feedserver.feed_body(7, negative, started=1_800_000_000.0)
    respx.get(URL).mock(return_value=httpx.Response(200, content=body, headers={"ETag": '"7-1"'}))
    source = Source(id="ga", type="google_alerts", url=URL)
    conn = GoogleAlertsConnector(source, httpx.Client(), clock, HttpPolicy(attempts=1, backoff=1.0, sleep=sleeps))
    res = conn.fetch(FetchContext())
    assert res.status == "ok" and len(res.mentions) == 1 + 3 + 7 % 3
    top = res.mentions[0]
    assert top.url == "https://news.example.tw/7/9" and "<b>" not in top.title
    assert feedserver.ENTITIES[3] in top.title and "提告" in top.text
    assert all(any(name in m.title for name in feedserver.ENTITIES) for m in res.mentions)
    assert len({m.url for m in res.mentions}) == len(res.mentions)


def test_feeds_answer_304_until_the_negative_is_published():
    plan = [feedserver.Negative(feed=1, entity=0, at=3600.0)]
    feeds = feedserver.Feeds(2, plan, started=time.time())  # published an hour after repwatch's first poll
    assert feeds.respond("/alerts/feeds/1", {"user-agent": "bench-baseline/1"})[:2] == (200, '"1-0"')
    assert 1 not in feeds.first_polled  # the baseline's requests never start the clock
    status, etag, body = feeds.respond("/alerts/feeds/1", {"user-agent": "repwatch/0.1"})
    assert (status, etag) == (200, '"1-0"') and "提告".encode() not in body
    assert feeds.respond("/alerts/feeds/1", {"if-none-match": '"1-0"', "user-agent": "bench-baseline/1"})[0] == 304
    assert feeds.respond("/alerts/feeds/2", {})[0] == 404
    feeds.first_polled[1] -= 7200  # now an hour past its publication: a new ETag, the negative on top
    status, etag, body = feeds.respond("/alerts/feeds/1", {"if-none-match": '"1-0"'})
    assert (status, etag) == (200, '"1-1"') and "提告".encode() in body
    published = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(feeds.first_polled[1] + 3600))
    assert f"<published>{published}</published>".encode() in body  # dated when it appeared, so it is live
    assert [(c, s, v) for _, _, c, s, v in feeds.log] == [("b", 200, 0), ("r", 200, 0), ("b", 304, 0), ("r", 200, 1)]


def test_schedule_arithmetic():
    assert scale_report.seconds("5m") == 300 and scale_report.seconds("250ms") == 0.25
    # 10 sources every 60 s, first polls spread over 30 s: half of round 0 falls in [0, 15)
    assert scale_report.due_in(0, 15, 0, 10, 60, 30) == pytest.approx(5)
    assert scale_report.due_in(0, 120, 0, 10, 60, 30) == pytest.approx(20)
    assert scale_report.due_in(0, 60, 0, 10, 60, 0) == 10
    assert scale_report.pct([1, 2, 3, 4], 50) == 2 and scale_report.pct([], 99) is None
    stats = scale_report.schedule_stats({0: [(10.0, 200, 0), (72.0, 304, 0), (130.0, 304, 0)]}, 0.0, 2, 60.0)
    assert stats["first_poll_lag_s"]["median"] == 10 and stats["first_poll_lag_s"]["never_polled"] == 1
    assert stats["period_s"]["mean"] == 60 and stats["start_minus_due_s"]["max"] == 2


def test_lateness_is_measured_against_the_daemons_grid_of_phases():
    # feed 0 (phase 1 s) polled on time from a start at t=100; feed 1 (phase 5 s) 40 s late
    # the first time, then on its grid again: only its first poll is late
    per_feed = {0: [(101.0, 200, 0), (161.0, 304, 0)], 1: [(145.0, 200, 0), (165.5, 304, 0), (225.0, 304, 0)]}
    late = scale_report.grid_lateness(per_feed, {0: 1.0, 1: 5.0}, 60.0)
    assert late["first_polls"] == {"p50": 0.0, "p99": 40.0, "max": 40.0, "samples": 2}
    assert late["later_polls"] == {"p50": 0.0, "p99": 0.5, "max": 0.5, "samples": 3}
    from datetime import timedelta

    from monitor.schedule import phase_offset

    phases = scale_report.source_phases({"sources": 3, "every_s": 300.0, "jitter_s": 30.0})
    assert phases[2] == phase_offset("ga-00002", timedelta(minutes=5), timedelta(seconds=30)).total_seconds()


def test_cpu_per_window_from_the_sampled_trace():
    trace = [(0.0, 10.0), (60.0, 40.0), (120.0, 46.0)]  # 30 s of CPU in the first minute, 6 in the second
    assert scale_report.cpu_at(trace, 30.0) == 25.0 and scale_report.cpu_at(trace, 500.0) == 46.0
    cfg = {"sources": 10, "every_s": 60.0, "jitter_s": 0.0}
    rows = scale_report.windows([1.0] * 10 + [61.0] * 3, 0.0, 120.0, 60.0, cfg, trace)
    assert [(r["completed"], r["cpu_s"], r["cpu_ms_per_poll"]) for r in rows] == [(10, 30.0, 3000.0), (3, 6.0, 2000.0)]
    assert "cpu_s" not in scale_report.windows([1.0], 0.0, 60.0, 60.0, cfg)[0]


def test_config_has_every_source_the_example_rules_and_the_receiver(tmp_path):
    args = scale.parse_args(["--sources", "3", "--every", "2m", "--daemon", "max_connections=4"])
    scale.write_config(tmp_path / "c.toml", args, 8000, 8001, "sqlite:///x.db")
    from monitor.config import load_config

    cfg = load_config(tmp_path / "c.toml")
    assert [s.url for s in cfg.sources] == [f"http://127.0.0.1:8000/alerts/feeds/{i}" for i in range(3)]
    assert len(cfg.entities) == 50 and {r.id for r in cfg.rules} >= {"negative-burst", "severe-mention",
                                                                        "negative-spike"}
    assert cfg.daemon.max_connections == 4


def test_tiny_run_end_to_end_reports_every_field(tmp_path):
    out = tmp_path / "r.json"
    scale.main(["--sources", "6", "--duration", "10",  # first polls come about 3 s after the start
                "--every", "3s", "--jitter", "1s",
                "--negative-fraction", "0.5", "--json", str(out)])
    report = json.loads(out.read_text(encoding="utf-8"))
    for who in ("repwatch", "baseline"):
        part = report[who]
        for key in ("polls_due", "polls_completed", "completion", "status", "per_minute", "per_5_minutes",
                    "first_poll_lag_s", "period_s", "start_minus_due_s", "cpu_s", "cpu_cores", "peak_rss_mb"):
            assert key in part, (who, key)
        assert set(part["first_poll_lag_s"]) == {"median", "p99", "max", "min", "never_polled"}
        assert part["polls_completed"] > 0 and part["peak_rss_mb"] > 0
    assert report["repwatch"]["stop_s"] >= 0 and set(report["repwatch"]["log"]) >= {"skipped_max_instances", "missed"}
    assert set(report["pages"]) == {"negatives_planned", "entities_served_negative", "pages_received",
                                    "entities_paged", "latency_s"}
    assert report["pages"]["negatives_planned"] == 3
    assert set(report["pages"]["latency_s"]) == {"p50", "p95", "max"}
    assert set(report["ratios_repwatch_over_baseline"]) == {"polls_completed", "cpu_s", "cpu_per_poll"}
    assert report["feedserver"]["capacity_rps"] > 0
    assert {"cpu_s", "cpu_ms_per_poll"} <= set(report["repwatch"]["per_minute"][0])
    assert set(report["repwatch"]["late_vs_grid_s"]) == {"first_polls", "later_polls"}
