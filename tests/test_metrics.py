"""/metrics on prometheus_client (issue 17): both of prometheus_client's parsers read it, its
figures equal what the database holds, and a scrape's work does not grow with history (SQL
statements, ORM rows loaded and SQLite VM steps counted, not timed)."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import sqlalchemy as sa
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text
from sqlalchemy import event
from sqlalchemy.orm import Mapper

from monitor.metrics import LATENCY_BUCKETS, metrics_payload
from monitor.store import DeliveryRow, IncidentRow, MentionRow, NotificationRow, Store
from tests.conftest import T0
from tests.test_window_queries import ENTITIES, app_for, bulk_history, seed, vm_steps

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def bulk_incidents(store: Store, n: int) -> None:
    """``n`` incidents in every state (acked in time, acked late, open past or inside their
    deadline, resolved), each with a page delivered 3 to 3,000 s after detection."""
    incidents, notes, deliveries = [], [], []
    for i in range(n):
        opened = T0 - timedelta(days=30, minutes=i)
        deadline = opened + timedelta(hours=1)
        kind = i % 5
        acked = {0: opened + timedelta(minutes=20), 1: opened + timedelta(hours=2), 4: opened + timedelta(minutes=5)}
        status = {0: "acked", 1: "acked", 2: "open", 3: "open", 4: "resolved"}[kind]
        if kind == 3:
            opened, deadline = T0 - timedelta(minutes=10), T0 + timedelta(minutes=50)
        incidents.append({"route_id": "crisis", "entity_id": ENTITIES[i % 3], "status": status, "opened_at": opened,
                          "first_detected_at": opened, "deadline": deadline, "acked_at": acked.get(kind), "labels": "{}",
                          "summary": "", "paged_routes": "[]", "mention_ids": "[]"})
        notes.append({"route_id": "crisis", "kind": "page", "created_at": opened, "detected_at": opened,
                      "title": "", "text": "", "markdown": "", "html": ""})
        sent = opened + timedelta(seconds=3 * 10 ** (i % 4))
        deliveries.append({"route_id": "crisis", "target_index": 0, "target": "json://x", "status": "sent",
                           "created_at": opened, "sent_at": sent})
    with store.session() as s:
        s.execute(sa.insert(IncidentRow), incidents)
        first = s.execute(sa.select(sa.func.coalesce(sa.func.max(NotificationRow.id), 0))).scalar_one()
        s.execute(sa.insert(NotificationRow), notes)
        for k, d in enumerate(deliveries):
            d["notification_id"] = first + k + 1
        s.execute(sa.insert(DeliveryRow), deliveries)
        s.commit()


def samples(families) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in families:
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in out, key  # every sample once
            out[key] = sample.value
    return out


def expected(store: Store, now) -> dict[tuple[str, frozenset], float]:
    """The figures worked out here from the rows themselves (the test may load them)."""
    out: dict[tuple[str, frozenset], float] = {}
    mentions = store.rows(MentionRow)
    for source, n in Counter(m.source_id for m in mentions).items():
        out[("repwatch_mentions_total", frozenset({"source": source}.items()))] = n
        neg = sum(1 for m in mentions if m.source_id == source and m.sentiment_label == "negative")
        out[("repwatch_mentions_negative_total", frozenset({"source": source}.items()))] = neg
    out[("repwatch_mentions_unscored", frozenset())] = sum(1 for m in mentions if m.sentiment_label is None)
    incidents = store.rows(IncidentRow)
    for status in ("open", "acked", "resolved"):
        out[("repwatch_incidents", frozenset({"status": status}.items()))] = sum(
            1 for i in incidents if i.status == status)
    met = sum(1 for i in incidents if i.acked_at and i.acked_at <= i.deadline)
    missed = sum(1 for i in incidents if (i.acked_at and i.acked_at > i.deadline)
                 or (i.acked_at is None and i.deadline < now))
    out[("repwatch_incidents_golden_hour_total", frozenset({"result": "met"}.items()))] = met
    out[("repwatch_incidents_golden_hour_total", frozenset({"result": "missed"}.items()))] = missed
    notes = {n.id: n for n in store.rows(NotificationRow)}
    latencies = [max(0.0, (d.sent_at - notes[d.notification_id].detected_at).total_seconds())
                 for d in store.rows(DeliveryRow) if d.status == "sent" and d.notification_id
                 and notes[d.notification_id].kind == "page" and notes[d.notification_id].detected_at]
    for le in LATENCY_BUCKETS:
        out[("repwatch_page_latency_seconds_bucket", frozenset({"le": f"{float(le)}"}.items()))] = sum(
            1 for x in latencies if x <= le)
    out[("repwatch_page_latency_seconds_bucket", frozenset({"le": "+Inf"}.items()))] = len(latencies)
    out[("repwatch_page_latency_seconds_count", frozenset())] = len(latencies)
    out[("repwatch_page_latency_seconds_sum", frozenset())] = sum(latencies)
    return out


def test_both_parsers_read_it_and_its_figures_are_the_databases(tmp_path, clock):
    store = Store(f"sqlite:///{tmp_path / 'm.db'}")
    seed(store)
    bulk_incidents(store, 40)
    app = app_for(tmp_path, store, clock)
    app.process()  # scores, alerts, pages (delivered at once)
    body, content_type = metrics_payload(app)
    assert content_type.startswith("text/plain; version=0.0.4")
    text_families = list(parse_text(body.decode()))
    om_body, om_type = metrics_payload(app, accept=OPENMETRICS)
    assert om_type.startswith("application/openmetrics-text") and om_body.endswith(b"# EOF\n")
    om_families = list(parse_openmetrics(om_body.decode()))  # raises on "Clashing name", a TYPE on _bucket...
    types = {f.name: f.type for f in text_families}
    assert types["repwatch_page_latency_seconds"] == "histogram"  # declared on the base name
    assert types["repwatch_mentions"] == types["repwatch_mentions_negative"] == "counter"
    assert {f.name: f.type for f in om_families} == types
    got, want = samples(text_families), expected(store, clock.now())
    assert {k: got[k] for k in want} == want
    assert want[("repwatch_incidents", frozenset({"status": "acked"}.items()))] >= 16
    assert want[("repwatch_incidents_golden_hour_total", frozenset({"result": "missed"}.items()))] >= 8
    assert 0 < want[("repwatch_page_latency_seconds_bucket", frozenset({"le": "30.0"}.items()))] < want[
        ("repwatch_page_latency_seconds_count", frozenset())]
    om = {(name.removesuffix("_total") if name.endswith("_total") else name, labels): v
          for (name, labels), v in samples(om_families).items()}
    assert all(om[(n.removesuffix("_total"), labels)] == v for (n, labels), v in want.items())
    healthy = {dict(labels)["source"] for (name, labels) in got if name == "repwatch_source_healthy"}
    assert healthy == {s.id for s in app.config.sources}
    # /metrics is Prometheus text in order: one family's lines together, each declared once
    names = [line.split()[2] for line in body.decode().splitlines() if line.startswith("# TYPE")]
    assert len(names) == len(set(names))
    app.close()


def scrape_cost(store: Store, app) -> tuple[int, Counter, int]:
    """SQL statements, ORM rows loaded (by table) and SQLite VM steps of one scrape."""
    statements, loaded = [0], Counter()

    def on_execute(*_args):
        statements[0] += 1

    def on_load(target, _context):
        loaded[type(target).__tablename__] += 1

    event.listen(store.engine, "before_cursor_execute", on_execute)
    event.listen(Mapper, "load", on_load)
    try:
        metrics_payload(app)
    finally:
        event.remove(store.engine, "before_cursor_execute", on_execute)
        event.remove(Mapper, "load", on_load)
    return statements[0], loaded, vm_steps(store, lambda: metrics_payload(app))


def test_a_scrape_with_100k_mentions_and_many_incidents_loads_no_rows_and_costs_what_1k_does(tmp_path, clock):
    costs = []
    for n in (1_000, 100_000):
        store = Store(f"sqlite:///{tmp_path / f'{n}.db'}")
        seed(store)
        bulk_history(store, n)
        bulk_incidents(store, 2_000)
        (tmp_path / str(n)).mkdir()
        app = app_for(tmp_path / str(n), store, clock)
        app.process()
        costs.append(scrape_cost(store, app))
        app.close()
    (few, few_loaded, few_steps), (many, many_loaded, many_steps) = costs
    assert few == many and few <= 10, costs  # the same statements, whatever the history
    for table in ("mentions", "mention_entities", "incidents", "notifications", "deliveries", "alerts"):
        assert few_loaded[table] == many_loaded[table] == 0, costs  # aggregates, no row is loaded
    assert 0 < few_steps and many_steps <= 1.2 * few_steps + 10, costs
