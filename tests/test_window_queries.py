"""The rules' window queries (issue 16): they read only the window, from the copy of the rule
columns on mention_entities, and return what the full scans over mentions returned; the copy
follows every write; /metrics and an idle process() do not grow with history."""
from __future__ import annotations

import random
import shutil
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event, func
from sqlmodel import select

from monitor.matching import Match
from monitor.mention import Mention
from monitor.notify import Notifier, SendResult
from monitor.store import MentionEntityRow, MentionRow, MentionTallyRow, Store
from tests.conftest import T0, FakeScorer

ENTITIES = ("dr-lin", "renxin", "dr-wu")
CAUSES = (None, "wait", "attitude,billing", "legal", "extortion,privacy")


def seed(store: Store, n: int = 240) -> list[int]:
    """``n`` mentions over three days before T0, one or two entities each, detected in
    batches; some backfill, some unscored, varied P(negative) and causes."""
    rng = random.Random(15)
    ids: list[int] = []
    for batch in range(n // 8):
        detected = T0 - timedelta(hours=72) + timedelta(minutes=18 * batch)
        items = []
        for k in range(8):
            i = batch * 8 + k
            entities = [ENTITIES[i % 3]] + ([ENTITIES[(i + 1) % 3]] if i % 5 == 0 else [])
            published = detected - timedelta(minutes=rng.randrange(0, 300))
            items.append((Mention(f"src{i % 4}", f"t{i}", f"text {i}", url=f"https://x.example/{i}",
                                  published_at=published), [Match(e, e) for e in entities]))
        ids += store.add_mentions(items, detected, backfill_all=batch % 9 == 0)
    verdicts = []
    for i in ids:
        if i % 11 == 0:
            continue  # left unscored
        p = round(rng.random(), 3)
        verdicts.append((i, "negative" if p >= 0.5 else "neutral", 0.9, p))
    store.save_scores(verdicts, "fake", T0)
    with store.session() as s:  # causes, as the verdict would have them
        for i in ids:
            row = s.get(MentionRow, i)
            row.causes = CAUSES[i % len(CAUSES)]
            s.add(row)
        s.commit()
    return ids


def old_negatives(store: Store, entity_id, since, until, threshold) -> list[int]:
    """The full scan the rules used before revision 0008 (issue 16)."""
    with store.session() as s:
        q = (select(MentionRow.id).join(MentionEntityRow, MentionEntityRow.mention_id == MentionRow.id)
             .where(MentionEntityRow.entity_id == entity_id, MentionRow.negative_score >= threshold)
             .where(MentionRow.event_at > since, MentionRow.event_at <= until, MentionRow.backfill.is_not(True))
             .order_by(MentionRow.negative_score.desc(), MentionRow.id))
        return list(s.exec(q))


def old_detected(store: Store, entity_id, since, until) -> list[int]:
    with store.session() as s:
        q = (select(MentionRow.id).join(MentionEntityRow, MentionEntityRow.mention_id == MentionRow.id)
             .where(MentionEntityRow.entity_id == entity_id, MentionRow.sentiment_label.is_not(None))
             .where(MentionRow.backfill.is_not(True))
             .where(MentionRow.detected_at > since, MentionRow.detected_at <= until).order_by(MentionRow.id))
        return list(s.exec(q))


def old_count(store: Store, entity_id, since, until, threshold, causes=()) -> int:
    with store.session() as s:
        q = (select(func.count()).select_from(MentionRow)
             .join(MentionEntityRow, MentionEntityRow.mention_id == MentionRow.id)
             .where(MentionEntityRow.entity_id == entity_id, MentionRow.negative_score >= threshold)
             .where(MentionRow.event_at > since, MentionRow.event_at <= until))
        if causes:
            q = q.where(sa.or_(*(MentionRow.causes.like(f"%{c}%") for c in causes)))
        return s.exec(q).one()


WINDOWS = [timedelta(hours=1), timedelta(hours=6), timedelta(hours=30), timedelta(days=5)]


def test_the_window_queries_return_what_the_full_scans_returned(store):
    seed(store)
    entities = list(ENTITIES) + ["nobody"]
    checked = 0
    for end in (T0, T0 - timedelta(hours=20), T0 - timedelta(hours=47, minutes=7)):
        for window in WINDOWS:
            since = end - window
            negatives = store.window_negatives(entities, since, end, 0.5)
            detected = store.window_detected(entities, since, end)
            counts = store.negative_counts(entities, since, end, 0.6)
            by_cause = store.negative_counts(entities, since, end, 0.5, ("legal", "billing"))
            for e in entities:
                assert [m.id for m in negatives.get(e, [])] == old_negatives(store, e, since, end, 0.5)
                assert [m.id for m in detected.get(e, [])] == old_detected(store, e, since, end)
                assert counts.get(e, 0) == old_count(store, e, since, end, 0.6)
                assert by_cause.get(e, 0) == old_count(store, e, since, end, 0.5, ("legal", "billing"))
                checked += len(negatives.get(e, [])) + len(detected.get(e, []))
    assert checked > 200  # the windows were not empty
    assert all(m.entities == ("dr-lin",) for m in store.window_negatives(["dr-lin"], T0 - WINDOWS[-1], T0, 0.5)
               ["dr-lin"])


def link_copies(store: Store, mention_id: int) -> set[tuple]:
    with store.session() as s:
        return {(link.negative_score, bool(link.scored), bool(link.backfill), link.event_at, link.detected_at)
                for link in s.exec(select(MentionEntityRow).where(MentionEntityRow.mention_id == mention_id))}


def tallies(store: Store) -> dict[str, tuple[int, int]]:
    return {t.source_id: (t.stored, t.negative) for t in store.rows(MentionTallyRow, order_by=MentionTallyRow.source_id)}


def test_the_copied_columns_and_tallies_follow_scoring_relabelling_and_edits(store):
    published = T0 - timedelta(minutes=30)
    m = Mention("ga", "林志明", "態度很差", url="https://x.example/1", guid="g1", published_at=published)
    [ident] = store.add_mentions([(m, [Match("dr-lin", "x"), Match("renxin", "y")])], T0, backfill_before=T0)
    assert link_copies(store, ident) == {(None, False, True, published, T0)}
    assert tallies(store) == {"ga": (1, 0)}
    store.save_scores([(ident, "negative", 0.9, 0.91)], "fake", T0)
    assert link_copies(store, ident) == {(0.91, True, True, published, T0)}
    assert tallies(store) == {"ga": (1, 1)}
    store.label_mention(ident, "positive", None, "amy", T0)  # repwatch label
    assert link_copies(store, ident) == {(0.0, True, True, published, T0)}
    assert tallies(store) == {"ga": (1, 0)}
    store.label_mention(ident, "negative", ["attitude"], "amy", T0)
    assert link_copies(store, ident) == {(1.0, True, True, published, T0)} and tallies(store) == {"ga": (1, 1)}
    edited: list[int] = []
    store.add_mentions([(Mention("ga", "林志明", "改過了", url="https://x.example/1", guid="g1",
                                 published_at=published), [Match("dr-lin", "x")])], T0 + timedelta(hours=1),
                       edited=edited)
    assert edited == [ident]
    assert link_copies(store, ident) == {(None, False, True, published, T0)}  # the verdict was cleared
    assert tallies(store) == {"ga": (1, 0)}
    store.save_scores([(ident, "neutral", 0.8, 0.2)], "fake", T0 + timedelta(hours=1))  # re-scored: the human wins
    assert link_copies(store, ident) == {(1.0, True, True, published, T0)} and tallies(store) == {"ga": (1, 1)}
    with store.session() as s:
        assert s.exec(select(func.count()).select_from(MentionRow)).one() == 1


def captured(store: Store, call) -> tuple[str, dict]:
    """The SQL statement (and parameters) ``call`` runs on the store."""
    seen: list[tuple[str, object]] = []

    def hook(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", hook)
    try:
        call()
    finally:
        event.remove(store.engine, "before_cursor_execute", hook)
    [(statement, parameters)] = [(st, p) for st, p in seen if "mention_entities" in st]
    return statement, parameters


def test_the_burst_window_query_reads_the_composite_index(store):
    seed(store)
    statement, parameters = captured(store, lambda: store.window_negatives(list(ENTITIES), T0 - timedelta(hours=1),
                                                                              T0, 0.5))
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        if store.dialect == "sqlite":
            cur.execute("ANALYZE")
            cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        else:
            cur.execute("ANALYZE")
            cur.execute("SET enable_seqscan = off")  # a tiny table: ask whether the index can serve it at all
            cur.execute("EXPLAIN " + statement, parameters)
        plan = "\n".join(str(row[-1] if store.dialect == "sqlite" else row[0]) for row in cur.fetchall())
    finally:
        raw.close()
    assert "ix_mention_entities_entity_event" in plan, plan
    if store.dialect == "sqlite":
        assert "SCAN mention_entities" not in plan and "SCAN mentions" not in plan, plan


# ------------------------------------------------------------------------- cost against history (SQLite)

def bulk_history(store: Store, n: int) -> None:
    """``n`` old mentions (a year ago and more, beyond every window), written directly."""
    rows, links = [], []
    for i in range(n):
        at = T0 - timedelta(days=400, seconds=i)
        rows.append({"fingerprint": f"old{i}", "source_id": f"src{i % 4}", "title": "t", "text": "x",
                     "detected_at": at, "event_at": at, "backfill": False, "sentiment_label": "negative",
                     "negative_score": 0.9})
    with store.session() as s:
        s.execute(sa.insert(MentionRow), rows)
        ids = list(s.exec(select(MentionRow.id).where(MentionRow.fingerprint.like("old%"))))
        links = [{"mention_id": i, "entity_id": ENTITIES[i % 3], "alias": "", "event_at": T0 - timedelta(days=400),
                  "detected_at": T0 - timedelta(days=400), "negative_score": 0.9, "scored": True, "backfill": False}
                 for i in ids]
        s.execute(sa.insert(MentionEntityRow), links)
        s.execute(sa.text("DELETE FROM mention_tallies"))
        s.execute(sa.text("INSERT INTO mention_tallies (source_id, stored, negative) SELECT source_id, COUNT(*), "
                          "SUM(CASE WHEN sentiment_label = 'negative' THEN 1 ELSE 0 END) FROM mentions "
                          "GROUP BY source_id"))
        s.commit()


def old_mention_counts(store: Store) -> list:
    """What /metrics counted mentions with before the tallies: a query that reads the history."""
    negative = func.sum(sa.case((MentionRow.negative_score >= 0.5, 1), else_=0))
    with store.session() as s:
        return list(s.exec(select(MentionRow.source_id, func.count(), negative).group_by(MentionRow.source_id)))


def vm_steps(store: Store, call) -> int:
    """SQLite virtual-machine steps (in tens) the queries of ``call`` take: rows visited,
    not time."""
    steps = [0]

    def count():
        steps[0] += 1
        return 0

    def on_connect(dbapi_conn, _record):
        dbapi_conn.set_progress_handler(count, 10)

    store.engine.dispose()
    event.listen(store.engine, "connect", on_connect)
    try:
        call()
    finally:
        event.remove(store.engine, "connect", on_connect)
        store.engine.dispose()
    return steps[0]


class Delivered(Notifier):
    def send(self, url, title, body, body_format="text", notify_type="info"):
        return SendResult(True)


def app_for(tmp_path, store: Store, clock):
    from monitor.app import App
    from monitor.config import load_config
    from tests.conftest import write_config

    entities = "".join(f'[[entities]]\nid = "{e}"\nname = "名{e}"\n\n' for e in ENTITIES)
    cfg = write_config(tmp_path, f"""
        [storage]
        url = "sqlite:///{tmp_path / 'unused.db'}"

        [[sources]]
        id = "src0"
        type = "rss"
        url = "https://x.example/f"

        [[routes]]
        id = "crisis"
        notify = ["json://127.0.0.1:9/x"]
        matchers = ['severity=~".+"']

        [[rules]]
        id = "burst"
        min_negative = 3
        window = "1h"

        [[rules]]
        id = "spike"
        kind = "spike"
        window = "6h"
        baseline = "14d"
        min_negative = 3

        [[rules]]
        id = "severe"
        kind = "severe"
        min_score = 0.95
        terms = ["lawsuit"]
        """ + "\n" + "\n".join("        " + line for line in entities.splitlines()))
    return App(load_config(cfg), scorer=FakeScorer(), store=store, clock=clock, notifier=Delivered())


@pytest.fixture(scope="module")
def histories(tmp_path_factory) -> dict[int, object]:
    """The seeded SQLite files with 1,000 and 100,000 old mentions, written once; each test
    works on its own copy."""
    folder = tmp_path_factory.mktemp("histories")
    paths = {}
    for n in (1_000, 100_000):
        store = Store(f"sqlite:///{folder / f'{n}.db'}")
        seed(store)
        bulk_history(store, n)
        store.close()
        paths[n] = folder / f"{n}.db"
    return paths


@pytest.mark.parametrize("what", ["metrics", "process"])
def test_metrics_and_an_idle_process_cost_the_same_with_100_times_the_history(tmp_path, clock, what, histories):
    from monitor.metrics import metrics_payload

    costs, scans = [], []
    for n, template in histories.items():
        shutil.copy(template, tmp_path / f"{n}.db")
        store = Store(f"sqlite:///{tmp_path / f'{n}.db'}")
        (tmp_path / str(n)).mkdir()
        app = app_for(tmp_path / str(n), store, clock)
        app.process()  # the recent mentions are scored and alerted once
        run = (lambda: metrics_payload(app)) if what == "metrics" else app.process
        run()
        costs.append(vm_steps(store, run))
        scans.append(vm_steps(store, lambda: old_mention_counts(store)))
        app.close()
    assert scans[1] > 20 * scans[0]  # the measure sees a scan of the mentions (the old /metrics)
    assert 0 < costs[0] and costs[1] <= 1.2 * costs[0] + 10, costs
