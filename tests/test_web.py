"""The dashboard (issue 17, items 1-3 and the ack page of item 5), against the real app on a
real SQLite file through Starlette's TestClient (httpx, real HTTP parsing of the ASGI
answers): sign-in, roles, CSRF, login rate limit, the ack link without a login, escaping
and PHI masking, the CSV export, the JSON API, the filters and keyset pages, the viewer's
language and zone, the users file and ``repwatch user add``."""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import socket
import stat
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from monitor.app import App
from monitor.cli import main
from monitor.config import load_config
from monitor.matching import Match
from monitor.mention import Mention
from monitor.store import IncidentRow, MentionRow
from monitor.web import WebServer, create_app
from monitor.web.auth import LoginLimiter
from monitor.web.users import Users, users_file
from tests.conftest import write_config
from tests.test_workflow import ENV, config_text, step

PASSWORD = "correct horse battery"


@pytest.fixture
def app(tmp_path, clock, receiver, fake_scorer):
    path = write_config(tmp_path, config_text(tmp_path / "web.db", receiver))
    a = App(load_config(path, env=ENV), scorer=fake_scorer, clock=clock)
    users = Users(users_file(a.config), PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))  # quick
    users.add("viewer1", PASSWORD, "viewer")
    users.add("resp1", PASSWORD, "responder")
    yield a
    a.close()


def client(app, **kw) -> TestClient:
    return TestClient(create_app(app, **kw), base_url="http://127.0.0.1", follow_redirects=False)


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def sign_in(c: TestClient, name: str = "resp1", password: str = PASSWORD, next_: str = "/") -> TestClient:
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"csrf": token, "name": name, "password": password, "next": next_})
    assert r.status_code == 303, r.text
    return c


def mention(app, clock, title, text="", neg=0.9, entity="dr-lin", source="ga", rating=None, age=timedelta(0), n=[0]):
    n[0] += 1
    m = Mention(source, title, text or title, url=f"https://forum.example.tw/t/{n[0]}?tel=0912345678",
                published_at=clock.now() - age, rating=rating)
    ids = app.store.add_mentions([(m, [Match(entity, entity)])], clock.now())
    label = "negative" if neg >= 0.5 else "positive"
    app.store.save_scores([(ids[0], label, max(neg, 1 - neg), neg)], "test", clock.now())
    return ids[0]


def burst(app, clock, receiver) -> IncidentRow:
    for text in ("差", "很差", "非常差"):
        mention(app, clock, f"林志明 {text}")
    step(app, clock)
    step(app, clock, 30)
    assert receiver.wait_for(1, 5)
    return app.store.incidents(open_only=True)[0]


def test_pages_need_a_login_and_the_api_answers_401(app):
    c = client(app)
    r = c.get("/mentions?label=negative")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fmentions%3Flabel%3Dnegative"
    login = c.get(r.headers["location"])
    assert login.status_code == 200 and 'name="password"' in login.text and 'type="password"' in login.text
    for path in ("/", "/incidents/1", "/silences", "/sources", "/settings", "/mentions.csv"):
        assert c.get(path).status_code == 303, path
    r = c.get("/api/mentions")
    assert r.status_code == 401 and "error" in r.json()
    assert c.get("/healthz").status_code == 200  # the ops routes stay open


def test_sign_in_wrong_password_then_right_one(app):
    c = client(app)
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"csrf": token, "name": "resp1", "password": "wrong password!"})
    assert r.status_code == 401 and "Wrong user name or password" in r.text
    r = c.post("/login", data={"csrf": token, "name": "nobody", "password": PASSWORD})
    assert r.status_code == 401
    r = c.post("/login", data={"csrf": token, "name": "resp1", "password": PASSWORD, "next": "//evil.example/"})
    assert r.status_code == 303 and r.headers["location"] == "/"  # no open redirect
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # no TLS proxy configured
    page = c.get("/")
    assert page.status_code == 200 and "resp1 (responder)" in page.text
    c.post("/logout", data={"csrf": csrf_of(page.text)})
    assert c.get("/").status_code == 303


def test_login_attempts_are_rate_limited_per_address_and_user(app):
    c = client(app, login_limiter=LoginLimiter(max_failures=3, window=60))
    token = csrf_of(c.get("/login").text)
    for _ in range(3):
        assert c.post("/login", data={"csrf": token, "name": "resp1", "password": "guess....."}).status_code == 401
    r = c.post("/login", data={"csrf": token, "name": "resp1", "password": PASSWORD})  # right, but too late
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    sign_in(c, "viewer1")  # another user from the same address is not locked out


def test_every_state_changing_post_needs_the_csrf_token(app, clock, receiver):
    inc = burst(app, clock, receiver)
    c = sign_in(client(app))
    web = c.app
    posts = sorted({r.path for r in web.routes if "POST" in (r.methods or ()) and not r.path.startswith("/ack/")})
    assert posts == ["/incidents/{id:int}/{action:str}", "/login", "/logout", "/mentions/{id:int}/label",
                     "/mentions/{id:int}/reply", "/mentions/{id:int}/reply/check", "/settings",
                     "/silences", "/silences/{id:int}/expire"]
    for path in (f"/incidents/{inc.id}/ack", f"/incidents/{inc.id}/resolve", "/login", "/logout", "/settings",
                 "/silences", "/silences/1/expire", "/mentions/1/label", "/mentions/1/reply", "/mentions/1/reply/check"):
        r = c.post(path, data={"by": "x", "matchers": 'entity="dr-lin"', "duration": "1h", "label": "positive"})
        assert r.status_code == 403, path
        r = c.post(path, data={"csrf": "forged-token"})
        assert r.status_code == 403, path
    assert app.store.incident(inc.id).status == "open" and app.store.silences() == []
    assert app.store.get_mentions([1])[0].label == "negative"
    assert c.get("/").status_code == 200  # still signed in: /logout without the token did nothing


def test_roles_viewer_reads_responder_acknowledges(app, clock, receiver):
    inc = burst(app, clock, receiver)
    viewer = sign_in(client(app), "viewer1")
    page = viewer.get(f"/incidents/{inc.id}")
    assert page.status_code == 200 and 'id="ack"' not in page.text
    r = viewer.post(f"/incidents/{inc.id}/ack", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 403 and app.store.incident(inc.id).status == "open"
    responder = sign_in(client(app))
    clock.advance(timedelta(minutes=7))
    page = responder.get(f"/incidents/{inc.id}")
    assert 'id="ack"' in page.text
    r = responder.post(f"/incidents/{inc.id}/ack", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303
    row = app.store.incident(inc.id)
    assert row.status == "acked" and row.acked_by == "resp1" and row.ack_via == "web"
    page = responder.get(f"/incidents/{inc.id}").text
    minutes = int((row.acked_at - row.first_detected_at).total_seconds() // 60)
    assert f'id="time-to-ack" class="ok" data-minutes="{minutes}"' in page and minutes == 7
    kinds = re.findall(r'data-kind="([^"]+)"', page)
    assert kinds[0] == "ev.detected" and kinds[-1] == "ev.acked"
    assert {"ev.alert", "ev.opened", "ev.note", "ev.delivery"} <= set(kinds)
    assert kinds.index("ev.alert") < kinds.index("ev.opened") < kinds.index("ev.delivery")


def test_ack_link_works_without_login_in_the_paged_routes_language_and_zone(app, clock, receiver):
    inc = burst(app, clock, receiver)
    link = next(w for w in receiver.at("/crisis")[0]["message"].split() if "/ack/" in w)
    path = "/ack/" + link.rsplit("/ack/", 1)[1]
    c = client(app)
    page = c.get(path)
    assert page.status_code == 200 and 'lang="zh-TW"' in page.text
    assert "林志明醫師" in page.text and "dr-lin" not in page.text  # the name, not the id
    deadline = inc.deadline.astimezone(ZoneInfo("Asia/Taipei"))
    assert f"{deadline:%Y-%m-%d %H:%M} (UTC+08:00)" in page.text and "剩 59 分鐘" in page.text
    assert "對象：林志明醫師" in page.text and "嚴重度：緊急" in page.text
    assert "set-cookie" not in page.headers  # no session for the ack link
    r = c.post(path, data={"by": "王<b>小明</b>"})
    assert r.status_code == 200 and "已認領" in r.text and "<b>小明" not in r.text and "&lt;b&gt;" in r.text
    assert app.store.incident(inc.id).ack_via == "link"
    en = client(app).get("/ack/1.1.x", headers={"accept-language": "en-US"})
    assert en.status_code == 403 and "Invalid link" in en.text


def test_untrusted_text_is_escaped_and_phi_masked(app, clock):
    mention(app, clock, "<script>alert(1)</script> 林志明", text="打 0912-345-678 找我 <img src=x onerror=alert(2)>")
    page = sign_in(client(app)).get("/mentions").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "0912" not in page and "[phone]" in page
    assert "tel=%5Bphone%5D" in page or "tel=[phone]" in page  # the link's query is masked too


def test_links_headers_and_label_correction(app, clock):
    bad = mention(app, clock, "林志明 很差")
    with app.store.session() as s:  # a hostile feed's link
        row = s.get(MentionRow, bad)
        row.url = "javascript:alert(document.cookie)"
        s.add(row)
        s.commit()
    responder = sign_in(client(app))
    page = responder.get("/mentions?label=negative")
    assert "javascript:" not in page.text.split("<table", 1)[1]  # shown, never a link
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and page.headers["x-frame-options"] == "DENY"
    token = csrf_of(page.text)
    viewer = sign_in(client(app), "viewer1")
    assert 'action="/mentions/' not in viewer.get("/mentions").text
    assert viewer.post(f"/mentions/{bad}/label", data={"csrf": csrf_of(viewer.get("/mentions").text),
                                                        "label": "positive"}).status_code == 403
    r = responder.post(f"/mentions/{bad}/label", data={"csrf": token, "label": "positive",
                                                        "next": "/mentions?label=negative"})
    assert r.status_code == 303 and r.headers["location"] == "/mentions?label=negative"
    row = app.store.get(MentionRow, bad)
    assert row.human_label == "positive" and row.labelled_by == "resp1" and row.negative_score == 0.0
    assert f'data-mention="{bad}"' not in responder.get("/mentions?label=negative").text
    assert responder.post(f"/mentions/{bad}/label", data={"csrf": token, "label": "positive",
                                                           "cause": "billing"}).status_code == 400


def test_chunked_body_gets_411_big_headers_431_and_stop_is_quick(app):
    server = WebServer(app, "127.0.0.1:0").start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(b"POST /login HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
            assert s.recv(65536).startswith(b"HTTP/1.1 411 ")
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n")
            assert s.recv(65536).startswith(b"HTTP/1.1 431 ")
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        idle.sendall(b"GET /healthz HTTP/1.1\r\n")  # half a request, still open at the stop
    finally:
        started = time.monotonic()
        server.stop()
    assert time.monotonic() - started < 3 and not server.thread.is_alive()
    assert idle.recv(65536) == b""  # closed by the stop, not left hanging
    idle.close()


def test_csv_export_is_masked_and_formula_safe(app, clock):
    mention(app, clock, "=HYPERLINK(\"http://evil.example\",\"click\")", text="@SUM(1+1) 0912-345-678")
    mention(app, clock, "fine", neg=0.1)
    c = sign_in(client(app))
    r = c.get("/mentions.csv?label=negative")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert len(rows) == 1 and rows[0]["label"] == "negative"
    assert rows[0]["title"].startswith("'=HYPERLINK") and rows[0]["text"].startswith("'@SUM")
    assert "0912" not in r.text and rows[0]["entities"] == "dr-lin"


def test_json_api_filters_and_keyset_pages(app, clock, monkeypatch):
    ids = [mention(app, clock, f"林志明 第{i}則", neg=0.9 if i % 2 else 0.1, rating=float(i % 5 + 1),
                   age=timedelta(hours=i)) for i in range(30)]
    mention(app, clock, "仁心診所 很差", entity="renxin")
    c = sign_in(client(app), "viewer1")
    seen, after = [], None
    while True:
        r = c.get("/api/mentions", params={"entity": "dr-lin", "limit": 7, **({"after": after} if after else {})})
        body = r.json()
        seen += [m["id"] for m in body["mentions"]]
        after = body["next"]
        if after is None:
            break
    assert seen == ids  # newest first (by event time: the i-th is i hours old), each once
    neg = c.get("/api/mentions", params={"entity": "dr-lin", "label": "negative", "limit": 500}).json()["mentions"]
    assert {m["id"] for m in neg} == {i for n, i in enumerate(ids) if n % 2}
    rated = c.get("/api/mentions", params={"min_rating": 4, "max_rating": 4, "limit": 500}).json()["mentions"]
    assert rated and all(m["rating"] == 4 for m in rated) and len(rated) == 6
    today = clock.now().date().isoformat()
    recent = c.get("/api/mentions", params={"since": today, "entity": "dr-lin", "limit": 500}).json()["mentions"]
    assert 0 < len(recent) < 30 and all(m["event_at"][:10] >= today for m in recent)
    assert c.get("/api/mentions", params={"label": "evil"}).status_code == 400
    assert c.get("/api/mentions", params={"entity": "nobody"}).status_code == 400
    monkeypatch.setenv("REPWATCH_API_TOKEN", "api-token-0123456789")
    anon = client(app)
    assert anon.get("/api/incidents", headers={"authorization": "Bearer wrong"}).status_code == 401
    r = anon.get("/api/incidents", headers={"authorization": "Bearer api-token-0123456789"})
    assert r.status_code == 200 and r.json() == {"incidents": []}


def test_incident_api_and_overview(app, clock, receiver):
    inc = burst(app, clock, receiver)
    c = sign_in(client(app))
    body = c.get("/api/incidents?status=open").json()["incidents"]
    assert [i["id"] for i in body] == [inc.id] and body[0]["entity_name"] == "林志明醫師"
    assert body[0]["minutes_left"] == 59 and body[0]["time_to_ack_minutes"] is None
    detail = c.get(f"/api/incidents/{inc.id}").json()
    assert detail["alerts"][0]["rule"] == "negative-burst" and detail["deliveries"][0]["status"] == "sent"
    page = c.get("/").text
    assert f'data-incident="{inc.id}"' in page and "59 min left" in page
    assert 'data-entity="dr-lin" data-week="3" data-month="3"' in page
    svg = re.search(r'<section class="entity" data-entity="dr-lin".*?</section>', page, re.S).group(0)
    assert svg.count("<svg") == 2 and 'data-y="3"' in svg  # the three negatives in one hour


def test_language_and_zone_follow_the_viewer(app, clock, receiver):
    burst(app, clock, receiver)
    c = sign_in(client(app))
    zh = c.get("/", headers={"accept-language": "zh-TW,zh;q=0.9"}).text
    assert 'lang="zh-TW"' in zh and "未結事件" in zh and "(UTC+08:00)" in zh
    en = c.get("/", headers={"accept-language": "en"}).text
    assert 'lang="en"' in en and "Open incidents" in en and "(UTC+00:00)" in en
    token = csrf_of(en)
    assert c.post("/settings", data={"csrf": token, "language": "en", "zone": "America/New_York"}).status_code == 303
    page = c.get("/", headers={"accept-language": "zh-TW"}).text  # the stored choice wins
    assert 'lang="en"' in page and "(UTC-05:00)" in page


def test_silences_from_the_web(app):
    c = sign_in(client(app))
    page = c.get("/silences").text
    r = c.post("/silences", data={"csrf": csrf_of(page), "matchers": 'entity="dr-lin"', "duration": "2h",
                                  "comment": "<b>PR</b>"})
    assert r.status_code == 303
    (row,) = app.store.silences()
    assert row.matcher_list == ['entity="dr-lin"'] and row.created_by == "resp1"
    page = c.get("/silences").text
    assert "&lt;b&gt;PR&lt;/b&gt;" in page
    bad = c.post("/silences", data={"csrf": csrf_of(page), "matchers": "", "duration": "2h"})
    assert bad.status_code == 400
    assert c.post(f"/silences/{row.id}/expire", data={"csrf": csrf_of(page)}).status_code == 303
    assert app.store.silences()[0].ends_at <= app.clock.now()


def test_users_file_secret_and_user_add_command(tmp_path, app, monkeypatch, capsys):
    path = users_file(app.config)
    assert path.parent == tmp_path and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["users"]["resp1"]["hash"].startswith("$argon2") and PASSWORD not in path.read_text()
    create_app(app)
    secret = tmp_path / "repwatch-web-secret"
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600 and len(secret.read_text().strip()) >= 32
    monkeypatch.setattr("sys.stdin", io.StringIO("another long password\n"))
    assert main(["user", "add", "chen", "--role", "admin", "--config", app.config.path]) == 0
    assert "user chen (admin)" in capsys.readouterr().out
    assert Users(path).verify("chen", "another long password").role == "admin"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["user", "add", "lee", "--config", app.config.path]) == 2
    sign_in(client(app), "chen", "another long password")  # the running app sees the new user


def test_non_loopback_listen_is_a_logged_choice(app, caplog):
    caplog.set_level(logging.WARNING, logger="repwatch.http")
    server = WebServer(app, "0.0.0.0:0").start()
    try:
        assert "not a loopback address" in caplog.text and "behind_tls_proxy" in caplog.text
    finally:
        server.stop()
    caplog.clear()
    server = WebServer(app, "127.0.0.1:0").start()
    server.stop()
    assert "not a loopback address" not in caplog.text


def _plans(store, call) -> list[str]:
    """SQLite's query plan of each statement ``call`` runs."""
    seen = []

    def hook(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", hook)
    try:
        call()
    finally:
        event.remove(store.engine, "before_cursor_execute", hook)
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("ANALYZE")
        plans = []
        for statement, parameters in seen:
            cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            plans.append("\n".join(str(row[-1]) for row in cur.fetchall()))
        return plans
    finally:
        raw.close()


def test_dashboard_queries_read_their_window_through_indexes(app, clock):
    for i in range(40):
        mention(app, clock, f"林志明 {i}", neg=0.9 if i % 3 else 0.2, age=timedelta(days=i), entity="dr-lin")
        mention(app, clock, f"仁心 {i}", neg=0.9, age=timedelta(days=i), entity="renxin", source="other")
    store, now = app.store, clock.now()
    since = now - timedelta(days=30)
    (plan,) = _plans(store, lambda: store.negative_totals(["dr-lin", "renxin"], since, now - timedelta(days=7), now,
                                                          0.5))
    assert "COVERING INDEX ix_mention_entities_entity_event" in plan and "SCAN" not in plan, plan
    (plan,) = _plans(store, lambda: store.negative_by_hour(["dr-lin"], since, now, 0.5))
    assert "COVERING INDEX ix_mention_entities_entity_event" in plan and "SCAN" not in plan, plan
    assert store.negative_totals(["dr-lin", "renxin"], since, now - timedelta(days=7), now, 0.5) == {
        "dr-lin": (5, 20), "renxin": (8, 30)}  # [7 days ago, now]: ages 0-7; (30 days ago, now]: 0-29
    from monitor.store.dashboard import MentionFilter

    page, links = _plans(store, lambda: store.mention_page(MentionFilter(entity="dr-lin", label="negative"), 10))
    assert "ix_mention_entities_entity_event" in page and "SCAN mention" not in page, page
    assert "TEMP B-TREE FOR ORDER BY" not in page, page  # walks the index newest first, stops after the page
    (page, links) = _plans(store, lambda: store.mention_page(MentionFilter(label="negative"), 10))
    assert "SCAN mentions" not in page and "TEMP B-TREE FOR ORDER BY" not in page, page


def test_a_read_only_folder_keeps_the_app_up(tmp_path, app, caplog, monkeypatch):
    """The container mounts the config read-only: the session key then lives in memory, and
    the app (with /healthz) still starts."""
    import errno

    def read_only(path, text):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr("monitor.web.users.write_private", read_only)
    monkeypatch.delenv("REPWATCH_WEB_SECRET", raising=False)
    (tmp_path / "repwatch-web-secret").unlink(missing_ok=True)
    caplog.set_level(logging.WARNING, logger="repwatch.http")
    c = client(app)
    assert "sessions end when the daemon restarts" in caplog.text
    assert c.get("/healthz").status_code == 200 and not (tmp_path / "repwatch-web-secret").exists()
    sign_in(c)  # signed with the key in memory
    assert c.get("/").status_code == 200


def test_a_pipelined_request_with_a_huge_body_is_refused_too(app):
    server = WebServer(app, "127.0.0.1:0").start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
                      b"POST /ack/x HTTP/1.1\r\nHost: t\r\nContent-Length: 999999999\r\n\r\nby=a")
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 413 " in answer
    finally:
        server.stop()
    server = WebServer(app, "127.0.0.1:0", read_timeout=1.0).start()
    try:  # a pipelined request whose body never comes is cut at its own deadline
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            started = time.monotonic()
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
                      b"POST /ack/x HTTP/1.1\r\nHost: t\r\nContent-Length: 40\r\n\r\nby=a")
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 408 " in answer and time.monotonic() - started < 3
    finally:
        server.stop()
