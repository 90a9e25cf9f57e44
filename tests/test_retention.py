"""Retention (issue 18, item 7): ``[storage] retain`` purges old mentions, their versions and
payloads from the daemon's scheduler (injected clock), on SQLite and PostgreSQL; mentions of
open incidents and under a legal hold stay, and a payload another kept mention uses stays."""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

from monitor.app import App
from monitor.cli import main
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.errors import ConfigError
from monitor.evidence.retention import run_retention
from monitor.matching import Match
from monitor.mention import FetchResult, Mention, RawResponse
from monitor.store import FetchRow, IncidentRow, MentionRow, MentionVersionRow, PayloadRow, Store
from tests.conftest import T0, write_config

OLD = T0 - timedelta(days=500)
BODY_A, BODY_B = b'{"reviews": ["shared page"]}', b'{"reviews": ["only the purged one"]}'


def config(tmp_path, url: str, retain: str | None = '"400d"'):
    return write_config(tmp_path, f"""
[storage]
url = "{url}"
{f"retain = {retain}" if retain else ""}

[[entities]]
id = "dr-lin"
name = "林志明醫師"

[[sources]]
id = "gb"
type = "rss"
url = "https://x.example/f"

[[routes]]
id = "legal"
notify = ["json://127.0.0.1:9/x"]
""")


def mention(guid: str, text: str) -> Mention:
    return Mention("gb", "", text, guid=guid, published_at=OLD)


def store_with_evidence(store: Store, guid: str, text: str, body: bytes, at) -> int:
    m = mention(guid, text)
    [ident] = store.add_mentions([(m, [Match("dr-lin", "林志明醫師")])], at)
    raw = RawResponse("https://x.example/f", 200, at, (("content-type", "application/json"),),
                      hashlib.sha256(body).hexdigest(), body, frozenset({m.fingerprint}))
    assert store.keep_evidence("gb", FetchResult("ok", mentions=(m,), raw=(raw,)), [ident], at).linked == 1
    return ident


def incident(store: Store, status: str, ids: list[int]) -> int:
    return store.add(IncidentRow(route_id="legal", status=status, opened_at=OLD, first_detected_at=OLD,
                                 deadline=OLD + timedelta(hours=1), mention_ids=json.dumps(ids))).id


def test_the_daemon_purges_what_is_old_and_keeps_open_incidents_and_holds(tmp_path, db_url, clock):
    store = Store(db_url)
    try:
        plain = store_with_evidence(store, "plain", "舊的抱怨", BODY_A, OLD)
        edited: list[int] = []
        store.add_mentions([(mention("plain", "舊的抱怨,改過"), [Match("dr-lin", "林志明醫師")])], OLD + timedelta(days=1),
                           edited=edited)
        assert edited == [plain]  # one earlier version to purge with it
        held = store_with_evidence(store, "held", "被保全的評論", BODY_A, OLD)  # the same page: one payload
        in_open = store_with_evidence(store, "open", "未結案事件的評論", BODY_A, OLD)
        in_resolved = store_with_evidence(store, "resolved", "已結案事件的評论", BODY_B, OLD)
        in_held_incident = store_with_evidence(store, "held-incident", "保全事件的評論", BODY_A, OLD)
        recent = store_with_evidence(store, "recent", "最近的評論", BODY_A, T0 - timedelta(days=10))
        incident(store, "open", [in_open])
        incident(store, "resolved", [in_resolved])
        kept_incident = incident(store, "resolved", [in_held_incident])
        assert store.add_hold("mention", held, "刑法310 告訴", "amy", T0).id
        assert store.add_hold("incident", kept_incident, "律師函", "amy", T0).id
        assert len(store.rows(PayloadRow, order_by=PayloadRow.sha256)) == 2
    finally:
        store.close()

    app = App(load_config(config(tmp_path, db_url)), scorer=None, clock=clock)
    daemon = Daemon(app)
    try:
        assert "retention" in {j.id for j in daemon.scheduler.get_jobs()}
        assert "retention" in daemon.scheduler.run_pending(clock.now())  # due when the daemon starts
        assert daemon.scheduler.shutdown(grace=60) == 0  # waits for the run on the pool
        left = {m.id for m in app.store.rows(MentionRow)}
        assert left == {held, in_open, in_held_incident, recent}
        assert app.store.rows(MentionVersionRow, order_by=MentionVersionRow.mention_id) == []
        shared = hashlib.sha256(BODY_A).hexdigest()
        assert [p.sha256 for p in app.store.rows(PayloadRow, order_by=PayloadRow.sha256)] == [shared]
        assert {f.sha256 for f in app.store.rows(FetchRow)} == {shared} and app.store.payload(shared) == BODY_A
        again = run_retention(app)
        assert (again.mentions, again.payloads, again.kept_open, again.kept_held) == (0, 0, 1, 2)
    finally:
        app.close()


def test_a_released_hold_keeps_nothing_and_the_cli_manages_holds(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'rw.db'}"
    cfg = str(config(tmp_path, url))
    store = Store(url)
    try:
        ident = store_with_evidence(store, "a", "舊評論", BODY_A, OLD)
    finally:
        store.close()
    assert main(["hold", "add", f"mention:{ident}", "--reason", "刑法310 告訴準備中", "--by", "amy", "-c", cfg]) == 0
    assert f"hold 1 on mention {ident}: kept whatever its age until released" in capsys.readouterr().out
    assert main(["hold", "add", "mention:99", "--reason", "x", "--by", "amy", "-c", cfg]) == 1
    assert main(["hold", "add", "99", "--reason", "x", "--by", "amy", "-c", cfg]) == 2
    capsys.readouterr()
    assert main(["retention", "purge", "-c", cfg]) == 0
    out = capsys.readouterr().out
    assert "purged 0 mentions" in out and "and 1 under legal hold" in out
    assert main(["hold", "list", "--json", "-c", cfg]) == 0
    [listed] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (listed["kind"], listed["target"], listed["reason"], listed["released_at"]) == (
        "mention", ident, "刑法310 告訴準備中", None)
    assert main(["hold", "release", "1", "--by", "ken", "-c", cfg]) == 0
    assert main(["hold", "release", "1", "--by", "ken", "-c", cfg]) == 1  # no longer active
    capsys.readouterr()
    assert main(["retention", "purge", "-c", cfg]) == 0
    assert "purged 1 mentions" in capsys.readouterr().out
    assert main(["hold", "list", "--all", "-c", cfg]) == 0
    assert "(released" in capsys.readouterr().out


def test_retain_is_checked_where_it_is_written(tmp_path):
    with pytest.raises(ConfigError, match=r"repwatch.toml:4: storage.retain: must be at least 1d"):
        load_config(config(tmp_path, "sqlite:///x.db", '"12h"'))
    assert load_config(config(tmp_path, "sqlite:///x.db")).storage.retain == timedelta(days=400)
    assert load_config(config(tmp_path, "sqlite:///x.db", None)).storage.retain is None


def test_a_recheck_that_answers_410_records_the_removal_and_a_200_closes_it(tmp_path, feed_server, capsys):
    url = f"sqlite:///{tmp_path / 'rw.db'}"
    cfg = str(config(tmp_path, url))
    store = Store(url)
    try:
        m = Mention("gb", "", "這篇文章之後被刪除", url=feed_server.url("/post/1"), published_at=OLD)
        [ident] = store.add_mentions([(m, [Match("dr-lin", "林志明醫師")])], OLD)
    finally:
        store.close()
    feed_server.set("/post/1", "gone", "text/plain", status=410)
    assert main(["evidence", "recheck", f"mention:{ident}", "-c", cfg]) == 0
    assert f"mention {ident}: removed (HTTP 410); tombstone 1 recorded; the last copy is kept" in capsys.readouterr().out
    feed_server.set("/post/1", "moved?", "text/plain", status=503)
    assert main(["evidence", "recheck", f"mention:{ident}", "-c", cfg]) == 1  # says nothing either way
    feed_server.set("/post/1", "<html>back</html>", "text/html", status=200)
    assert main(["evidence", "recheck", f"mention:{ident}", "-c", cfg]) == 0
    assert "1 removal record(s) closed" in capsys.readouterr().out
    store = Store(url)
    try:
        [tomb] = store.mention_evidence(ident).tombstones
        assert (tomb.how, tomb.detail.startswith(f"HTTP 410 from {feed_server.url('/post/1')}")) == ("recheck", True)
        assert tomb.restored_at is not None and store.get(MentionRow, ident).text == "這篇文章之後被刪除"
    finally:
        store.close()
