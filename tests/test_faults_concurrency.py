"""Two processes, one database: pages go out once.

Two `repwatch poll` runs started together on one database (SQLite file, or PostgreSQL)
used to both score, both evaluate the rules and both page: 30, 19 and 22 of 30 entities
were paged twice in 3 trials. Scoring, rules, dispatch and sending now run under one
``process`` lease (:class:`monitor.store.Lease`), and claiming a delivery is one guarded
UPDATE, so each incident is paged exactly once.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.app import App, PROCESS_LEASE, PROCESS_LEASE_TTL
from monitor.clock import ManualClock
from monitor.config import load_config
from monitor.demo import alerts_feed
from monitor.sentiment import Score
from monitor.store import DeliveryRow, IncidentRow, Lease, NotificationRow, Store
from tests.conftest import T0, connected_before, write_config

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["Adams", "Baker", "Clark", "Davis", "Evans", "Foster", "Garcia", "Hughes", "Irwin", "Jensen", "Keller",
         "Lopez", "Morgan", "Nolan", "Owens", "Parker", "Quinn", "Reyes", "Sutton", "Turner", "Underwood", "Vargas",
         "Walsh", "Xavier", "Young", "Zimmer", "Abbott", "Bishop", "Carver", "Dalton"]
ENTITIES = {f"e{i:02d}": f"{name} Clinic" for i, name in enumerate(NAMES)}
COMPLAINTS = ["rude staff and a three hour wait, terrible, never again",
              "overcharged and lied about the fees, a scam, avoid",
              "misdiagnosed my son, careless and arrogant doctor, awful"]


def config_body(db_url: str, feed_url: str, receiver_url: str) -> str:
    entities = "".join(f'\n[[entities]]\nid = "{k}"\nname = "{v}"\n' for k, v in ENTITIES.items())
    return f"""
[storage]
url = "{db_url}"

[daemon]
listen = ""
{entities}
[[sources]]
id = "alerts"
type = "google_alerts"
url = "{feed_url}"

[[routes]]
id = "crisis"
language = "en"
notify = ["{receiver_url}"]

[[rules]]
id = "negative-burst"
min_negative = 3
window = "1h"
route = "crisis"
"""


def feed(started: datetime) -> str:
    entries = []
    for i, (key, name) in enumerate(ENTITIES.items()):
        for j, complaint in enumerate(COMPLAINTS):
            entries.append((i * 3 + j, f"{name}: {complaint}", f"{name} {complaint}.",
                            f"https://forum.example.tw/{key}/{j}"))
    return alerts_feed(entries, started)


def entity_of(payload: dict) -> str:
    found = [k for k, name in ENTITIES.items() if name in payload.get("title", "")]
    assert len(found) == 1, payload.get("title")
    return found[0]


@pytest.mark.model
def test_two_polls_at_once_page_each_incident_once(db_url, tmp_path, feed_server, receiver):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    feed_server.set("/feed", feed(now - timedelta(minutes=5)))
    cfg = write_config(tmp_path, config_body(db_url, feed_server.url("/feed"), receiver.apprise_url))
    connected_before(load_config(cfg), now - timedelta(hours=1))  # not a first poll: it pages
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", "monitor", "poll", "--config", str(cfg), "--json"], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    reports = [json.loads(out) for out, _ in outs]
    assert sum(r["sources"][0]["new"] for r in reports) == 90  # each mention stored once, by one or the other

    assert receiver.wait_for(len(ENTITIES), 30)
    assert not receiver.wait_for(len(ENTITIES) + 1, 0.5)  # both have exited: nothing more is coming
    with receiver.cond:
        per_entity = Counter(entity_of(r.payload) for r in receiver.received)
    twice = sorted(k for k, n in per_entity.items() if n > 1)
    assert twice == [], f"{len(twice)} of {len(ENTITIES)} entities paged more than once: {twice}"
    assert set(per_entity) == set(ENTITIES), f"never paged: {set(ENTITIES) - set(per_entity)}"

    store = Store(db_url)
    try:
        incidents = store.rows(IncidentRow)
        assert sorted(i.entity_id for i in incidents) == sorted(ENTITIES)  # one incident each
        assert len(store.rows(NotificationRow)) == len(ENTITIES)
        assert {d.status for d in store.rows(DeliveryRow)} == {"sent"}
        assert sum(r["sent"] for r in reports) == len(ENTITIES)
    finally:
        store.close()


# --------------------------------------------------------------------------- the parts


def test_lease_is_held_by_one_holder_until_released_or_expired(db_url):
    a, b = Store(db_url), Store(db_url)  # two processes' connections
    ttl = timedelta(seconds=60)
    try:
        assert a.take_lease("process", "host:1", T0, ttl)
        assert not b.take_lease("process", "host:2", T0 + timedelta(seconds=59), ttl)
        assert a.take_lease("process", "host:1", T0 + timedelta(seconds=30), ttl)  # renewed to T0 + 90 s
        assert not b.take_lease("process", "host:2", T0 + timedelta(seconds=89), ttl)
        assert b.take_lease("process", "host:2", T0 + timedelta(seconds=91), ttl)  # host:1 died: expired
        assert not a.take_lease("process", "host:1", T0 + timedelta(seconds=92), ttl)
        b.release_lease("process", "host:2")
        assert a.take_lease("process", "host:1", T0 + timedelta(seconds=92), ttl)  # released: free at once
        b.release_lease("process", "host:2")  # not its lease: nothing changes
        assert not b.take_lease("process", "host:2", T0 + timedelta(seconds=93), ttl)
        assert a.take_lease("other", "host:2", T0, ttl)  # leases are per name
    finally:
        a.close()
        b.close()


def test_many_processes_asking_at_once_get_the_lease_exactly_once(db_url):
    stores = [Store(db_url) for _ in range(6)]
    start = threading.Barrier(len(stores))
    got = []

    def ask(i: int) -> None:
        start.wait()
        if stores[i].take_lease("process", f"host:{i}", T0, timedelta(seconds=60)):
            got.append(i)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(stores))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(got) == 1
    finally:
        for s in stores:
            s.close()


class FixedScorer:
    name = "fixed"

    def score(self, texts):
        return [Score("negative", 0.9, 0.9, 0.1) for _ in texts]


def test_process_skips_while_another_process_holds_the_lease(db_url, tmp_path, receiver):
    from monitor.matching import Match
    from monitor.mention import Mention

    cfg = load_config(write_config(tmp_path, config_body(db_url, "https://feed.example/f", receiver.apprise_url)))
    clock = ManualClock(T0)
    app = App(cfg, scorer=FixedScorer(), clock=clock)
    other = Store(db_url)
    try:
        for j in range(3):
            m = Mention("alerts", f"Adams Clinic {j}", "bad", url=f"https://x.example/{j}", published_at=T0)
            app.store.add_mentions([(m, [Match("e00", "Adams Clinic")])], T0)
        with Lease(other, PROCESS_LEASE, "elsewhere:1", clock, PROCESS_LEASE_TTL) as held:
            assert held
            report = app.process(flush=True)
            assert report.skipped and report.scored == 0 and app.store.rows(IncidentRow) == []
            waits = []
            with Lease(app.store, PROCESS_LEASE, "here:2", clock, PROCESS_LEASE_TTL, wait=timedelta(seconds=1),
                       sleep=waits.append) as mine:
                assert not mine and waits  # it waited (in steps), then gave up
        report = app.process(flush=True)  # released: this process takes it
        assert not report.skipped and report.scored == 3 and report.sent == 1
        clock.advance(PROCESS_LEASE_TTL)
        with Lease(other, PROCESS_LEASE, "elsewhere:1", clock, PROCESS_LEASE_TTL) as held:
            assert held  # process() gave it back when it finished
    finally:
        other.close()
        app.close()


def test_deliveries_claimed_by_racing_senders_are_each_claimed_once(db_url):
    from monitor.store import NotificationRow as Note

    stores = [Store(db_url) for _ in range(4)]
    try:
        for i in range(60):
            stores[0].create_notification(Note(route_id="crisis", kind="page", created_at=T0, title=f"n{i}"),
                                          [("crisis", 0, "json://127.0.0.1/***"), ("crisis", 1, "json://h/***")])
        start = threading.Barrier(len(stores))
        claimed: list[int] = []
        lock = threading.Lock()

        def sender(store: Store) -> None:
            start.wait()
            while True:
                rows = store.claim_deliveries(T0, 8, T0 - timedelta(minutes=2))
                with lock:
                    claimed.extend(d.id for d in rows)
                if not rows:
                    return

        threads = [threading.Thread(target=sender, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        twice = [i for i, n in Counter(claimed).items() if n > 1]
        assert twice == [] and len(claimed) == 120
        assert {d.status for d in stores[0].rows(DeliveryRow)} == {"sending"}
    finally:
        for s in stores:
            s.close()
