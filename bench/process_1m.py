"""Processing cost with a year of history (issue 16): 1,000,000 stored mentions of 50
entities, the example config's burst, severe and spike rules, and a year of alerts,
incidents and pages. Measures, in one run:

* ``App.process()`` with nothing new (median and p95 of 20 runs, after one warm-up; ``--runs``),
* ``/metrics`` collection (median of 20),
* ``App.process()`` after 50 new mentions arrive (scored by a fixed fake scorer: scoring
  speed is measured by bench/sentiment_speed.py),

and prints them against the issue's targets (process <= 200 ms, /metrics <= 100 ms).

    python bench/process_1m.py [--mentions 1000000] [--pg]

The SQLite database is built once (bulk INSERTs, a few minutes on two cores) and cached
under .data/bench/; each run works on a copy. ``--pg`` also runs against a fresh database
made on the PostgreSQL server of ``REPWATCH_TEST_PG_URL`` (built each time, then dropped).
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import os
import random
import shutil
import statistics
import sys
import time
import tomllib
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.app import App  # noqa: E402
from monitor.causes import CAUSES  # noqa: E402
from monitor.clock import ManualClock  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.matching import Match  # noqa: E402
from monitor.mention import Mention  # noqa: E402
from monitor.metrics import metrics_payload  # noqa: E402
from monitor.notify import Notifier, SendResult  # noqa: E402
from monitor.sentiment import Score  # noqa: E402
from monitor.store import Store, migrate  # noqa: E402
from monitor.store.tables import metadata  # noqa: E402

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
ENTITIES = [f"e{i:02d}" for i in range(50)]
SOURCES = [f"src{i:03d}" for i in range(100)]
TARGETS = {"process": 0.200, "metrics": 0.100}
YEAR = 365 * 86400


class FastScorer:
    """A fixed P(negative) per text (a hash), no model."""

    name = "bench-fake"

    def score(self, texts):
        out = []
        for text in texts:
            p = 0.97 if "糟糕" in text else (hash(text) % 40) / 100
            out.append(Score("negative" if p >= 0.5 else "positive", max(p, 1 - p), p, 1 - p))
        return out


class NullNotifier(Notifier):
    def send(self, url, title, body, body_format="text", notify_type="info"):
        return SendResult(True)


def _toml(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def config_text(url: str) -> str:
    """50 entities, 100 sources (never polled here), ops, crisis and every route the example's rules
    name, and the example's rules and inhibition."""
    example = tomllib.loads((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))
    parts = [f'[storage]\nurl = "{url}"\n',
             '[sentiment]\nmodel = "builtin"\nnegative_threshold = 0.5\n',
             '[daemon]\nops_route = "ops"\nlisten = ""\n']
    parts += [f'[[entities]]\nid = "{e}"\nname = "診所{e}"\n' for e in ENTITIES]
    parts += [f'[[sources]]\nid = "{s}"\ntype = "rss"\nurl = "https://feeds.example/{s}.xml"\nevery = "5m"\n'
              for s in SOURCES]
    parts.append('[[routes]]\nid = "ops"\nnotify = ["json://127.0.0.1:9/ops"]\n')
    parts.append('[[routes]]\nid = "crisis"\nnotify = ["json://127.0.0.1:9/crisis"]\n'
                 'matchers = [\'severity=~"critical|warning"\']\ngroup_by = ["entity"]\n')
    for route in sorted({r["route"] for r in example.get("rules", []) if r.get("route")} - {"ops", "crisis"}):
        parts.append(f'[[routes]]\nid = "{route}"\nnotify = ["json://127.0.0.1:9/{route}"]\n')
    for table in ("rules", "inhibit"):
        for item in example.get(table, []):
            parts.append(f"[[{table}]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in item.items()))
    return "\n".join(parts)


def _stamp(dt: datetime, sqlite: bool):
    return dt.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else dt


def history(n: int, sqlite: bool):
    """(mentions, links): ``n`` scored mentions spread over the year before NOW, 12 %
    negative, the first 5 % backfill; one entity each."""
    rng = random.Random(16)
    mentions, links = [], []
    for i in range(1, n + 1):
        detected = NOW - timedelta(seconds=YEAR * (1 - i / n) + 1)
        event = detected - timedelta(seconds=rng.randrange(7200))
        negative = rng.random() < 0.12
        p = round(0.5 + rng.random() / 2, 4) if negative else round(rng.random() * 0.45, 4)
        label = "negative" if negative else ("positive" if p < 0.2 else "neutral")
        causes = rng.choice(CAUSES) if negative else None
        d, e = _stamp(detected, sqlite), _stamp(event, sqlite)
        backfill = i <= n // 20
        mentions.append((i, f"fp{i:012d}", SOURCES[i % len(SOURCES)], f"https://x.example/{i}", f"x.example/{i}",
                         f"評論 {i}", "服務普通" if not negative else "等太久 態度差", d, e, backfill, label,
                         max(p, 1 - p), p, "model", causes, label, p, "bench", d))
        links.append((i, ENTITIES[rng.randrange(len(ENTITIES))], "(bench)", e, d, p, True, backfill))
    return mentions, links


def alerting_history(sqlite: bool):
    """A year of paging: 2,000 alerts, 500 resolved incidents, 500 pages each delivered once."""
    rng = random.Random(17)
    alerts, incidents, notes, deliveries = [], [], [], []
    for i in range(1, 2001):
        at = NOW - timedelta(hours=4 + rng.randrange(YEAR // 3600 - 8))
        entity = rng.choice(ENTITIES)
        alerts.append((i, "negative-burst", entity, _stamp(at, sqlite), _stamp(at - timedelta(hours=1), sqlite), 3,
                       "[]", "burst", "", '{"kind": "burst"}', "critical", "notified", "crisis",
                       _stamp(at + timedelta(hours=1), sqlite)))
        if i <= 500:
            dl = at + timedelta(hours=1)
            incidents.append((i, "crisis", entity, "{}", "critical", "", "resolved", _stamp(at, sqlite),
                              _stamp(at, sqlite), _stamp(dl, sqlite), _stamp(at + timedelta(minutes=20), sqlite),
                              _stamp(at + timedelta(hours=2), sqlite), 0, "crisis", '["crisis"]', "[]"))
            notes.append((i, "crisis", "page", i, _stamp(at, sqlite), "zh-TW", "t", "x", "x", "x",
                          _stamp(at - timedelta(seconds=40), sqlite)))
            deliveries.append((i, i, "crisis", 0, "json://127.0.0.1/***", "sent", 1, _stamp(at, sqlite),
                               _stamp(at + timedelta(seconds=2), sqlite)))
    return alerts, incidents, notes, deliveries


INSERTS = {
    "mentions": "id, fingerprint, source_id, url, url_key, title, text, detected_at, event_at, backfill, "
                "sentiment_label, sentiment_score, negative_score, verdict_by, causes, model_label, "
                "model_negative, scored_by, scored_at",
    "mention_entities": "mention_id, entity_id, alias, event_at, detected_at, negative_score, scored, backfill",
    "alerts": "id, rule_id, entity_id, fired_at, window_start, count, mention_ids, title, body, labels, severity, "
              "status, route_id, active_until",
    "incidents": "id, route_id, entity_id, labels, severity, summary, status, opened_at, first_detected_at, "
                 "deadline, acked_at, resolved_at, tier, tier_route, paged_routes, mention_ids",
    "notifications": "id, route_id, kind, incident_id, created_at, language, title, text, markdown, html, "
                     "detected_at",
    "deliveries": "id, notification_id, route_id, target_index, target, status, attempts, created_at, sent_at",
}


def fill(conn, mark: str, n: int, sqlite: bool) -> None:
    """Bulk INSERTs (executemany) of the whole history on a DB-API connection; ``mark`` is its placeholder."""
    mentions, links = history(n, sqlite)
    rows = dict(zip(("alerts", "incidents", "notifications", "deliveries"), alerting_history(sqlite)))
    rows.update(mentions=mentions, mention_entities=links)
    tallies: dict[str, list[int]] = {}
    for m in mentions:
        t = tallies.setdefault(m[2], [0, 0])
        t[0] += 1
        t[1] += m[10] == "negative"
    rows["mention_tallies"] = [(s, a, b) for s, (a, b) in tallies.items()]
    rows["source_state"] = [(s, "ok", _stamp(NOW - timedelta(minutes=3), sqlite),
                             _stamp(NOW - timedelta(minutes=3), sqlite), 0, 0, 0) for s in SOURCES]
    columns = {**INSERTS, "mention_tallies": "source_id, stored, negative",
               "source_state": "source_id, status, last_poll_at, last_success_at, consecutive_failures, "
                               "last_new_mentions, total_mentions"}
    cur = conn.cursor()
    for table, cols in columns.items():
        sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join([mark] * len(cols.split(',')))})"
        for start in range(0, len(rows[table]), 50_000):
            cur.executemany(sql, rows[table][start:start + 50_000])
    conn.commit()


def schema_key() -> str:
    """Names today's tables, columns and indexes: a cached database made for another schema is not used."""
    shape = sorted((t.name, tuple(c.name for c in t.c), tuple(sorted(i.name for i in t.indexes)))
                   for t in metadata.sorted_tables)
    return f"{migrate.head()}-{hashlib.sha1(repr(shape).encode()).hexdigest()[:8]}"


def build_sqlite(n: int, prefix: str = "process") -> Path:
    """The filled SQLite file, built once per size and schema under .data/bench/ (``prefix``
    keeps each bench's copy apart, since a bench may write to its own)."""
    path = ROOT / ".data" / "bench" / f"{prefix}_{n}_{schema_key()}.db"
    if path.exists():
        return path
    import sqlite3

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".building")
    partial.unlink(missing_ok=True)
    Store(f"sqlite:///{partial}").close()  # today's schema
    t0 = time.perf_counter()
    conn = sqlite3.connect(partial)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA synchronous=OFF")
    fill(conn, "?", n, sqlite=True)  # no ANALYZE: repwatch never runs it, so neither does this
    conn.close()
    partial.rename(path)
    print(f"built {path.name}: {n:,} mentions in {time.perf_counter() - t0:.0f} s")
    return path


def build_pg(base: str, n: int) -> tuple[str, str]:
    """A fresh database on ``base``'s server, filled; (its URL, its name)."""
    import psycopg
    import sqlalchemy as sa

    name = "rw_bench_" + uuid.uuid4().hex[:8]
    base = base.replace("postgresql://", "postgresql+psycopg://")
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = f"{base.rpartition('/')[0]}/{name}"
    Store(url).close()
    t0 = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        fill(conn, "%s", n, sqlite=False)
        for table in ("alerts", "incidents", "notifications", "deliveries"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        conn.execute(f"SELECT setval(pg_get_serial_sequence('mentions', 'id'), {n})")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")  # what autovacuum would have done: statistics, the visibility map
    print(f"built PostgreSQL {name}: {n:,} mentions in {time.perf_counter() - t0:.0f} s")
    return url, name


def drop_pg(base: str, name: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def measure(url: str, work: Path, n: int = 20) -> dict[str, float]:
    cfg = work / "bench.toml"
    cfg.write_text(config_text(url), encoding="utf-8")
    clock = ManualClock(NOW)
    app = App(load_config(cfg), scorer=FastScorer(), notifier=NullNotifier(), clock=clock)
    try:
        app.process()  # warm-up: what the last window already holds is alerted once
        runs = timed(app.process, n)
        scrape = timed(lambda: metrics_payload(app), n)
        clock.advance(timedelta(minutes=1))
        arrived = [(Mention(SOURCES[i % 7], f"評論 新 {i}", "糟糕 等太久" if i % 5 == 0 else "還可以",
                            url=f"https://new.example/{i}"), [Match(ENTITIES[i % 3], "(bench)")]) for i in range(50)]
        app.store.add_mentions(arrived, clock.now())
        t0 = time.perf_counter()
        report = app.process()
        new = time.perf_counter() - t0
    finally:
        app.close()
    return {"process": statistics.median(runs), "process_p95": sorted(runs)[round(0.95 * (n - 1))],
            "metrics": statistics.median(scrape), "new50": new, "scored": report.scored, "alerts": len(report.alerts),
            "runs": n}


def report(engine: str, r: dict[str, float]) -> None:
    def row(what, seconds, target=None):
        ratio = f"{seconds / target:5.2f}x of {target * 1000:.0f} ms" if target else ""
        print(f"  {what:<44} {seconds * 1000:9.1f} ms   {ratio}")

    print(f"{engine}:")
    row(f"process(), nothing new: median of {r['runs']}", r["process"], TARGETS["process"])
    row(f"process(), nothing new: p95 of {r['runs']}", r["process_p95"], TARGETS["process"])
    row(f"/metrics collection: median of {r['runs']}", r["metrics"], TARGETS["metrics"])
    row(f"process() after 50 new ({r['scored']} scored, {r['alerts']} alerts)", r["new50"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mentions", type=int, default=1_000_000)
    ap.add_argument("--pg", action="store_true", help="also on PostgreSQL (REPWATCH_TEST_PG_URL)")
    ap.add_argument("--runs", type=int, default=20, help="idle process() runs and scrapes measured")
    args = ap.parse_args()
    logging.getLogger("repwatch").setLevel(logging.ERROR)  # one line per alert otherwise
    cached = build_sqlite(args.mentions)
    work = ROOT / ".data" / "bench" / "work"
    work.mkdir(parents=True, exist_ok=True)
    copy = work / "process.db"
    shutil.copyfile(cached, copy)
    results = {"SQLite": measure(f"sqlite:///{copy}", work, args.runs)}
    if args.pg:
        base = os.environ.get("REPWATCH_TEST_PG_URL")
        if not base:
            sys.exit("--pg needs REPWATCH_TEST_PG_URL")
        url, name = build_pg(base, args.mentions)
        try:
            results["PostgreSQL"] = measure(url, work, args.runs)
        finally:
            drop_pg(base, name)
    print(f"\n{args.mentions:,} stored mentions, 50 entities, a year; rules: the example's (burst, 2 severe, spike, extortion, phi-exposure, attack)")
    for engine, r in results.items():
        report(engine, r)


if __name__ == "__main__":
    main()
