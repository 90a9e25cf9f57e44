"""kill -9 at every commit: a real process polls a local feed and pages a local receiver
through a real SQLite file, and is killed with SIGKILL right after its N-th COMMIT, for
N = 1, 2, ... until a run completes. After each kill the same command runs again to
completion (later, as the next cron run or a restarted daemon would), and then:

* no incident is open without its page, and each entity has one incident per route it is
  paged on (a kill between opening an incident and writing its notification left an
  orphan, and the entity listed twice);
* no mention is lost: every negative mention is in its entity's paged incident;
* every delivery was sent, and each page reached each URL once; the only duplicate
  allowed is a send cut mid-flight (a delivery the killed process had claimed, whose
  receiver may have taken it before the kill).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.demo import alerts_feed
from monitor.store import DeliveryRow, IncidentRow, MentionEntityRow, MentionRow, NotificationRow, Store
from tests.conftest import T0, connected_before, write_config

ROOT = Path(__file__).resolve().parent.parent

DRIVER = '''
"""Runs `repwatch poll` cycles (an injected clock, a fixed scorer), each in a forked child:
one line on stdin, "CONFIG KILL_AT NOW", gives one line on stdout, the child's exit status
(-9: killed with SIGKILL right after its KILL_AT-th COMMIT; KILL_AT 0: never killed).
Forking after the imports keeps a run to a fraction of a second."""
import os, signal, sys
from datetime import datetime

import apprise
from sqlalchemy.engine.default import DefaultDialect

from monitor.app import App
from monitor.clock import ManualClock
from monitor.config import load_config
from monitor.sentiment import Score


class FixedScorer:
    name = "fixed"

    def score(self, texts):
        out = []
        for t in texts:
            p = 0.99 if "lawsuit" in t else 0.9 if "NEG" in t else 0.05
            out.append(Score("negative" if p >= 0.5 else "positive", max(p, 1 - p), p, 1 - p))
        return out


apprise.Apprise().add("json://127.0.0.1:9/warm-up")  # loads apprise's plugins once, before forking


def child(config_path, kill_at, now):
    commits = 0
    dbapi_commit = DefaultDialect.do_commit

    def commit_then_maybe_die(self, dbapi_connection):
        nonlocal commits
        dbapi_commit(self, dbapi_connection)  # the COMMIT has returned: it is durable
        commits += 1
        if commits == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    DefaultDialect.do_commit = commit_then_maybe_die
    app = App(load_config(config_path), scorer=FixedScorer(), clock=ManualClock(now))
    try:
        app.cycle()
    finally:
        app.close()


for line in sys.stdin:
    config_path, kill_at, now = line.split()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            child(config_path, int(kill_at), datetime.fromisoformat(now))
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 1
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
'''

ENTITIES = {"alpha": "Alpha Clinic", "beta": "Beta Clinic", "gamma": "Gamma Clinic"}
# alpha and beta: a burst of three (alpha's lawsuit is a severe mention the burst mutes and
# folds in); gamma: one severe mention alone; one kind word that pages nobody
FEED = [
    (0, "Alpha Clinic NEG rude", "Alpha Clinic NEG rude staff at the desk", "https://forum.example.tw/t/1"),
    (10, "Alpha Clinic NEG wait", "Alpha Clinic NEG waited three hours", "https://forum.example.tw/t/2"),
    (20, "Alpha Clinic NEG bill", "Alpha Clinic NEG overcharged me", "https://forum.example.tw/t/3"),
    (30, "Alpha Clinic lawsuit", "Alpha Clinic NEG we will file a lawsuit", "https://forum.example.tw/t/4"),
    (40, "Beta Clinic NEG rude", "Beta Clinic NEG rude doctor", "https://forum.example.tw/t/5"),
    (50, "Beta Clinic NEG wait", "Beta Clinic NEG waited all day", "https://forum.example.tw/t/6"),
    (60, "Beta Clinic NEG bill", "Beta Clinic NEG hidden fees", "https://forum.example.tw/t/7"),
    (70, "Gamma Clinic lawsuit", "Gamma Clinic NEG malpractice lawsuit", "https://forum.example.tw/t/8"),
    (80, "Beta Clinic thanks", "Beta Clinic kind nurse, thank you", "https://forum.example.tw/t/9"),
]


def config_body(db: Path, feed_url: str, rx) -> str:
    entities = "".join(f'\n[[entities]]\nid = "{k}"\nname = "{v}"\n' for k, v in ENTITIES.items())
    return f"""
[storage]
url = "sqlite:///{db}"

[daemon]
ops_route = "ops"
listen = ""
{entities}
[[sources]]
id = "alerts"
type = "google_alerts"
url = "{feed_url}"

[[routes]]
id = "ops"
language = "en"
notify = ["{rx.url('/ops')}"]

[[routes]]
id = "crisis"
language = "en"
notify = ["{rx.url('/crisis-a')}", "{rx.url('/crisis-b')}"]
matchers = ['severity="critical"']
continue = true

[[routes]]
id = "board"
language = "en"
notify = ["{rx.url('/board')}"]
matchers = ['entity="alpha"']

[[rules]]
id = "negative-burst"
min_negative = 3
window = "1h"

[[rules]]
id = "severe-mention"
kind = "severe"
min_score = 0.97
"""


@pytest.fixture
def driver(tmp_path):
    """``run(config, kill_at, now)``: the exit status of one cycle in a fresh process."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER, encoding="utf-8")
    log = open(tmp_path / "driver.log", "w+", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)

    def run(cfg: Path, kill_at: int, now) -> int:
        proc.stdin.write(f"{cfg} {kill_at} {now.isoformat()}\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line:
            log.seek(0)
            pytest.fail(f"driver died:\n{log.read()[-3000:]}")
        return int(line)

    run.log = log
    yield run
    proc.stdin.close()
    proc.wait(30)
    log.close()


def log_tail(log) -> str:
    log.seek(0)
    return log.read()[-3000:]


def entity_of(payload: dict) -> str:
    found = [k for k, name in ENTITIES.items() if name in payload.get("title", "")]
    assert len(found) == 1, payload.get("title")
    return found[0]


def posts(receiver) -> Counter:
    with receiver.cond:
        return Counter((r.path, entity_of(r.payload)) for r in receiver.received)


def in_flight(db_url: str) -> set[tuple[str, str]]:
    """(path, entity) of deliveries the killed process had claimed but not recorded."""
    store = Store(db_url)
    try:
        out = set()
        for d in store.rows(DeliveryRow, DeliveryRow.status == "sending"):
            note = store.get(NotificationRow, d.notification_id)
            inc = store.get(IncidentRow, note.incident_id)
            route = {"crisis": ("/crisis-a", "/crisis-b"), "board": ("/board",)}[d.route_id]
            out.add((route[d.target_index], inc.entity_id))
        return out
    finally:
        store.close()


def check(db_url: str) -> dict[str, int]:
    """The invariants after a completed run; returns how many incidents there are."""
    store = Store(db_url)
    try:
        incidents = store.rows(IncidentRow)
        pages = {n.incident_id for n in store.rows(NotificationRow, NotificationRow.kind == "page")}
        orphans = [i.id for i in incidents if i.status == "open" and i.id not in pages]
        assert orphans == [], f"open incidents never paged: {orphans}"
        opened = sorted((i.entity_id, i.route_id) for i in incidents)
        assert opened == sorted({(e, "crisis") for e in ENTITIES} | {("alpha", "board")}), \
            f"one incident per entity and route, not {opened}"
        negative = {}
        for link in store.rows(MentionEntityRow, order_by=MentionEntityRow.mention_id):
            m = store.get(MentionRow, link.mention_id)
            if m.negative_score is not None and m.negative_score >= 0.5:
                negative.setdefault(link.entity_id, set()).add(m.id)
        assert sum(map(len, negative.values())) == 8
        for inc in incidents:
            lost = negative[inc.entity_id] - set(inc.mention_id_list)
            assert not lost, f"incident {inc.id} ({inc.entity_id}) lacks mentions {lost}"
        unsent = [(d.id, d.status) for d in store.rows(DeliveryRow) if d.status != "sent"]
        assert unsent == [], f"deliveries not sent: {unsent}"
        return len(incidents)
    finally:
        store.close()


EXPECTED = {("/crisis-a", e) for e in ENTITIES} | {("/crisis-b", e) for e in ENTITIES} | {("/board", "alpha")}


def test_kill_9_after_every_commit_loses_no_page_and_leaves_no_orphan(tmp_path, feed_server, receiver, driver):
    feed_server.set("/feed", alerts_feed(FEED, T0 - timedelta(minutes=10)))
    template = tmp_path / "template.db"
    cfg_template = write_config(tmp_path, config_body(template, feed_server.url("/feed"), receiver), "t.toml")
    connected_before(load_config(cfg_template), T0 - timedelta(hours=1))  # not a first poll: it pages
    assert not Path(f"{template}-wal").exists()
    later = T0 + timedelta(minutes=3)  # the next run: past the send lease (2 min) and the process lease (1 min)

    survived, duplicates, cut_sends = 0, 0, 0
    for kill_at in range(1, 200):
        db = tmp_path / f"k{kill_at}.db"
        shutil.copy(template, db)
        cfg = write_config(tmp_path, config_body(db, feed_server.url("/feed"), receiver), f"k{kill_at}.toml")
        with receiver.cond:
            receiver.received.clear()
        first = driver(cfg, kill_at, T0)
        if first == 0:  # fewer than kill_at commits: the run completed
            check(f"sqlite:///{db}")
            assert receiver.wait_for(len(EXPECTED), 5)
            assert posts(receiver) == Counter({k: 1 for k in EXPECTED})
            break
        assert first == -signal.SIGKILL, log_tail(driver.log)
        cut = in_flight(f"sqlite:///{db}")
        again = driver(cfg, 0, later)
        assert again == 0, f"kill at commit {kill_at}: rerun failed:\n{log_tail(driver.log)}"
        try:
            check(f"sqlite:///{db}")
        except AssertionError as exc:
            raise AssertionError(f"kill at commit {kill_at}: {exc}") from None
        assert receiver.wait_for(len(EXPECTED), 5)
        got = posts(receiver)
        assert set(got) == EXPECTED, f"kill at commit {kill_at}: pages missing: {EXPECTED - set(got)}"
        extra = {k: n for k, n in got.items() if n > 1}
        assert all(n == 2 and k in cut for k, n in extra.items()), \
            f"kill at commit {kill_at}: duplicate pages {extra} (sends cut mid-flight: {cut})"
        duplicates += sum(n - 1 for n in extra.values())
        cut_sends += len(cut)
        survived += 1
    else:
        pytest.fail("the run never completed")
    print(f"\nkill -9 points survived: {survived}; mentions lost: 0; duplicate pages: {duplicates} "
          f"(deliveries cut mid-flight: {cut_sends})")
    assert survived > 20
