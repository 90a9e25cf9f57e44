"""Replies as mentions of their own (PTT pushes, Dcard comments), linked to their thread by
``parent_url``; relative dates ("3 小時前", "上週三", "2 days ago") against an injected now."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import httpx
import pytest

import connectors.dates as dates
from connectors.base import FetchContext
from connectors.dates import chinese_number, parse_relative, parse_time
from connectors.html import parse_date
from connectors.ptt import article_pushes, push_time
from monitor.replay import fixture_bytes
from tests.test_connector_suite import make_connector, mock_all

UTC = timezone.utc
TPE = timezone(timedelta(hours=8))
J = {"Content-Type": "application/json"}
# the conftest clock: Sunday 22 November 2026, 18:00 in Taipei
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)

PTT = "https://www.ptt.cc"
A1 = f"{PTT}/bbs/Doctor-Info/M.1795335900.A.1F3.html"  # 2026-11-22 16:25 Taipei
A3 = f"{PTT}/bbs/Doctor-Info/M.1795172000.A.9C4.html"


# ------------------------------------------------------------------ PTT pushes


def test_ptt_pushes_are_mentions_linked_to_their_article(router, tmp_path, clock, sleeps):
    mock_all(router, "ptt")
    res = make_connector("ptt", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "ok", res.error
    articles = [m for m in res.mentions if m.parent_url is None]
    replies = [m for m in res.mentions if m.parent_url is not None]
    assert len(articles) == 3 and len(replies) == 8
    assert res.mentions[-1].url == A1 and res.mentions[-1].title.startswith("[心得]")  # the newest article stays last
    assert res.cursor == "1795335900"  # replies do not move the cursor

    by_guid = {m.guid: m for m in replies}
    first = by_guid[f"{A1}#push-1"]
    assert first.text == "林志明醫師 避雷了" and first.title == "" and first.url is None
    assert first.author == "user1" and first.parent_url == A1
    assert first.published_at == datetime(2026, 11, 22, 8, 50, tzinfo=UTC)  # 11/22 16:50 Taipei
    boo = by_guid[f"{A1}#push-3"]  # "1.160.22.5 11/22 17:02": the IP is not part of the time
    assert boo.text == "噓 林志明醫師明明很仔細 是你運氣不好吧" and boo.author == "docfan"
    assert boo.published_at == datetime(2026, 11, 22, 9, 2, tzinfo=UTC)
    arrow = by_guid[f"{A1}#push-4"]
    assert arrow.text == "回樓上 我去安心診所三次都等超過一小時"  # → keeps the content only
    assert by_guid[f"{A3}#push-1"].text.startswith("噓 安心診所")
    # an empty push is not a mention, but it still holds its number
    assert f"{A3}#push-2" in by_guid and f"{A3}#push-3" not in by_guid
    assert all(m.published_at.utcoffset() == timedelta(0) for m in replies)
    # the article text never carries its pushes
    assert all("避雷了" not in m.text for m in articles)
    # an article's replies come right before it (so the result still ends with the newest article)
    for i, m in enumerate(res.mentions):
        if m.parent_url:
            assert next(n for n in res.mentions[i:] if n.parent_url is None).url == m.parent_url


def test_ptt_max_replies_and_replies_off(router, tmp_path, clock, sleeps):
    mock_all(router, "ptt")
    res = make_connector("ptt", tmp_path, clock, sleeps, max_replies=2).fetch(FetchContext())
    replies = [m for m in res.mentions if m.parent_url]
    assert sorted(m.guid.rsplit("#", 1)[1] for m in replies if m.parent_url == A1) == ["push-1", "push-2"]
    assert len(replies) == 2 + 2 + 2  # article3's third push (the empty one) is past the cut
    cut = [w for w in res.warnings if "max_replies" in w]
    assert len(cut) == 1 and "2 article(s)" in cut[0] and "M.1795335900.A.1F3.html" in cut[0], res.warnings

    res = make_connector("ptt", tmp_path, clock, sleeps, replies=False).fetch(FetchContext())
    assert len(res.mentions) == 3 and all(m.parent_url is None for m in res.mentions)


def _ptt_thread(router, epoch: int, pushes: str) -> str:
    link = f"/bbs/Doctor-Info/M.{epoch}.A.5D2.html"
    search = (f'<html><body><div class="r-list-container"><div class="r-ent"><div class="title">'
              f'<a href="{link}">[心得] 林志明醫師 跨年夜急診</a></div><div class="meta"><div class="author">nightowl'
              f'</div><div class="date">12/31</div></div></div></div></body></html>')
    article = (f'<html><body><div id="main-content">跨年夜帶小孩去找林志明醫師\n--\n{pushes}</div></body></html>')
    html = {"Content-Type": "text/html; charset=utf-8"}
    router.route(method="GET", host="www.ptt.cc", path="/bbs/Doctor-Info/search", params__contains={"page": "1"}
                 ).mock(return_value=httpx.Response(200, content=search.encode(), headers=html))
    router.route(method="GET", host="www.ptt.cc", path="/bbs/Doctor-Info/search", params__contains={"page": "2"}
                 ).mock(return_value=httpx.Response(404, content=b"<html>404</html>", headers=html))
    router.route(method="GET", host="www.ptt.cc", path=link).mock(
        return_value=httpx.Response(200, content=article.encode(), headers=html))
    return PTT + link


def _push(tag: str, user: str, content: str, when: str) -> str:
    return (f'<div class="push"><span class="hl push-tag">{tag} </span><span class="push-userid">{user}</span>'
            f'<span class="push-content">: {content}</span><span class="push-ipdatetime"> {when}\n</span></div>')


def test_ptt_push_year_rolls_over_after_new_years_eve(router, tmp_path, clock, sleeps):
    posted = datetime(2026, 12, 31, 23, 30, tzinfo=TPE)
    pushes = (_push("推", "a", "林志明醫師新年快樂", "12/31 23:50") + _push("噓", "b", "跨年還在看診?", "01/01 00:10")
              + _push("→", "c", "1/1 也有開", "36.224.1.2 01/01 09:05"))
    link = _ptt_thread(router, int(posted.timestamp()), pushes)
    res = make_connector("ptt", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "ok", res.error
    replies = {m.guid: m for m in res.mentions if m.parent_url == link}
    assert replies[f"{link}#push-1"].published_at == datetime(2026, 12, 31, 15, 50, tzinfo=UTC)
    assert replies[f"{link}#push-2"].published_at == datetime(2026, 12, 31, 16, 10, tzinfo=UTC)  # 2027-01-01 00:10
    assert replies[f"{link}#push-2"].text == "噓 跨年還在看診?"
    assert replies[f"{link}#push-3"].published_at == datetime(2027, 1, 1, 1, 5, tzinfo=UTC)
    assert res.mentions[-1].url == link and res.mentions[-1].published_at == posted


def test_push_time_and_rows():
    posted = datetime(2026, 11, 22, 16, 25, tzinfo=TPE)
    assert push_time(" 11/22 16:50", posted) == datetime(2026, 11, 22, 8, 50, tzinfo=UTC)
    assert push_time("1.2.3.4 12/01 14:03", posted) == datetime(2026, 12, 1, 6, 3, tzinfo=UTC)
    assert push_time("11/22 16:20", posted) == datetime(2026, 11, 22, 8, 20, tzinfo=UTC)  # same day: same year
    assert push_time("03/05 08:00", posted) == datetime(2027, 3, 5, 0, 0, tzinfo=UTC)  # month before: next year
    assert push_time("12/01", posted) == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # old pushes lack the time
    assert push_time("02/29 10:00", posted) is None and push_time("", posted) is None  # 2027 has no 29 February
    from bs4 import BeautifulSoup

    soup = BeautifulSoup('<div id="main-content">' + _push("推", "u1", "好", "11/22 17:00")
                         + '<div class="push center warning-box">檔案過大!部分文章無法顯示</div>'
                         + _push("→", "u2", "對", "11/22 17:01") + "</div>", "html.parser")
    rows = article_pushes(soup)
    assert [(p.n, p.tag, p.user, p.content, p.when) for p in rows] == [
        (1, "推", "u1", "好", "11/22 17:00"), (2, "→", "u2", "對", "11/22 17:01")]


# ------------------------------------------------------------------ Dcard comments

POST3 = "https://www.dcard.tw/f/medical/p/257000003"
POST2 = "https://www.dcard.tw/f/medical/p/257000002"


def test_dcard_comments_are_mentions_linked_to_their_post(router, tmp_path, clock, sleeps):
    routes = mock_all(router, "dcard")
    res = make_connector("dcard", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "ok", res.error
    assert res.warnings == ("post 257000001 has no text; skipped",)  # hidden and deleted comments: silent
    assert [m.guid for m in res.mentions] == ["257000003", "257000003-c1", "257000003-c3", "257000003-c5",
                                              "257000002", "257000002-c1", "257000002-c2"]
    c1 = res.mentions[1]
    assert c1.parent_url == POST3 and c1.url == f"{POST3}/b/1" and c1.title == ""
    assert c1.text == "林志明醫師上次也對我很兇,問兩句就不耐煩"
    assert c1.published_at == datetime(2026, 11, 22, 8, 20, 11, tzinfo=UTC)
    assert res.mentions[5].parent_url == POST2 and res.mentions[0].parent_url is None
    assert res.cursor == "257000003"  # comments do not move the cursor
    req = routes["comments_257000003.json"].calls[0].request
    assert req.url.params["limit"] == "100"


def test_dcard_failed_comments_keep_the_post(router, tmp_path, clock, sleeps):
    routes = mock_all(router, "dcard", overrides={"comments_257000003.json": httpx.Response(500, text="oops")})
    res = make_connector("dcard", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "ok", res.error
    assert [m.guid for m in res.mentions] == ["257000003", "257000002", "257000002-c1", "257000002-c2"]
    assert any("post 257000003: comments not read: HTTP 500" in w for w in res.warnings), res.warnings
    assert routes["comments_257000003.json"].call_count == 3  # a 5xx is retried like any other request
    # a comments answer that is not a list: a warning too
    mock_all(router, "dcard", overrides={"comments_257000002.json": httpx.Response(
        200, json={"error": 1202, "message": "Post not found"})})
    res = make_connector("dcard", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "ok" and [m.guid for m in res.mentions][-1] == "257000002"
    assert any("expected a list of comments" in w and "Post not found" in w for w in res.warnings), res.warnings


def test_dcard_blocked_comments_stop_reading_comments(router, tmp_path, clock, sleeps):
    wall = httpx.Response(403, content=b"<html><title>Just a moment...</title>cf-chl</html>",
                          headers={"Content-Type": "text/html"})
    routes = mock_all(router, "dcard", overrides={"comments_257000003.json": wall})
    res = make_connector("dcard", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "ok" and res.retry_after is None
    assert [m.guid for m in res.mentions] == ["257000003", "257000002"]
    assert any("comments blocked" in w and "no more comments" in w for w in res.warnings), res.warnings
    assert routes["comments_257000002.json"].call_count == 0


def test_dcard_comment_options(router, tmp_path, clock, sleeps):
    routes = mock_all(router, "dcard")
    res = make_connector("dcard", tmp_path, clock, sleeps, comments=False).fetch(FetchContext())
    assert [m.guid for m in res.mentions] == ["257000003", "257000002"]
    assert routes["comments_257000003.json"].call_count == 0

    res = make_connector("dcard", tmp_path, clock, sleeps, max_comments=1).fetch(FetchContext())
    assert [m.guid for m in res.mentions] == ["257000003", "257000003-c1", "257000002", "257000002-c1"]
    assert routes["comments_257000003.json"].calls.last.request.url.params["limit"] == "1"
    assert any("max_comments" in w for w in res.warnings), res.warnings


def test_dcard_post_without_comments_asks_for_none(router, tmp_path, clock, sleeps):
    posts = json.loads(fixture_bytes("dcard", "page1.json"))
    for p in posts:
        p["commentCount"] = 0
    routes = mock_all(router, "dcard", main=httpx.Response(200, json=posts))
    res = make_connector("dcard", tmp_path, clock, sleeps).fetch(FetchContext())
    assert [m.guid for m in res.mentions] == ["257000003", "257000002"]
    assert not routes["comments_257000003.json"].called and not routes["comments_257000002.json"].called


# ------------------------------------------------------------------ relative dates


def tpe(*args) -> datetime:
    return datetime(*args, tzinfo=TPE).astimezone(UTC)


RELATIVE = [
    ("剛剛", NOW), ("剛才", NOW), ("刚刚", NOW), ("just now", NOW), ("Just now", NOW),
    ("30 秒前", NOW - timedelta(seconds=30)),
    ("5 分鐘前", NOW - timedelta(minutes=5)), ("5分鐘前", NOW - timedelta(minutes=5)),
    ("5分前", NOW - timedelta(minutes=5)), ("五分鐘前", NOW - timedelta(minutes=5)),
    ("十五分鐘前", NOW - timedelta(minutes=15)), ("二十分钟前", NOW - timedelta(minutes=20)),
    ("5 分钟前", NOW - timedelta(minutes=5)), ("５分鐘前", NOW - timedelta(minutes=5)),
    ("3 小時前", NOW - timedelta(hours=3)), ("三小時前", NOW - timedelta(hours=3)),
    ("兩小時前", NOW - timedelta(hours=2)), ("两小时前", NOW - timedelta(hours=2)),
    ("半小時前", NOW - timedelta(minutes=30)), ("一個半小時前", NOW - timedelta(minutes=90)),
    ("2 天前", NOW - timedelta(days=2)), ("十天前", NOW - timedelta(days=10)),
    ("1 週前", NOW - timedelta(weeks=1)), ("2周前", NOW - timedelta(weeks=2)),
    ("兩個星期前", NOW - timedelta(weeks=2)),
    ("3 個月前", tpe(2026, 8, 22, 18, 0)), ("3个月前", tpe(2026, 8, 22, 18, 0)),
    ("半個月前", NOW - timedelta(days=15)),
    ("1 年前", tpe(2025, 11, 22, 18, 0)), ("一年前", tpe(2025, 11, 22, 18, 0)), ("半年前", tpe(2026, 5, 22, 18, 0)),
    ("今天", NOW), ("今天 09:30", tpe(2026, 11, 22, 9, 30)),
    ("昨天", tpe(2026, 11, 21, 18, 0)), ("昨天 23:10", tpe(2026, 11, 21, 23, 10)),
    ("昨天 下午3:04", tpe(2026, 11, 21, 15, 4)), ("前天", tpe(2026, 11, 20, 18, 0)),
    ("上週三", tpe(2026, 11, 11, 18, 0)), ("上周三", tpe(2026, 11, 11, 18, 0)),
    ("上星期三", tpe(2026, 11, 11, 18, 0)), ("上週日", tpe(2026, 11, 15, 18, 0)),
    ("上週一 14:00", tpe(2026, 11, 9, 14, 0)),
    ("5 minutes ago", NOW - timedelta(minutes=5)), ("1 minute ago", NOW - timedelta(minutes=1)),
    ("2 hours ago", NOW - timedelta(hours=2)), ("an hour ago", NOW - timedelta(hours=1)),
    ("3 days ago", NOW - timedelta(days=3)), ("a day ago", NOW - timedelta(days=1)),
    ("2 weeks ago", NOW - timedelta(weeks=2)), ("a month ago", tpe(2026, 10, 22, 18, 0)),
    ("5 min ago", NOW - timedelta(minutes=5)), ("2h ago", NOW - timedelta(hours=2)),
    ("half an hour ago", NOW - timedelta(minutes=30)),
    ("yesterday", tpe(2026, 11, 21, 18, 0)), ("Yesterday at 3:04 PM", tpe(2026, 11, 21, 15, 4)),
    ("today", NOW),
]


@pytest.mark.parametrize("text,expected", RELATIVE, ids=[t for t, _ in RELATIVE])
def test_parse_relative(text, expected):
    got = parse_relative(text, NOW)
    assert got == expected and got.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["", "  ", "下週三", "3月前", "3 天後", "昨天 25:00", "sometime", "a few minutes ago",
                                  "2026/11/20", "in 3 days", "上週八"])
def test_parse_relative_unknown_is_none(text):
    assert parse_relative(text, NOW) is None


def test_parse_relative_local_day_zone_and_month_ends():
    late = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)  # already Monday 23 November, 01:00, in Taipei
    assert parse_relative("昨天", late) == tpe(2026, 11, 22, 1, 0)
    assert parse_relative("上週三", late) == tpe(2026, 11, 18, 1, 0)  # a new week began
    assert parse_relative("昨天 09:00", NOW, tz="UTC") == datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    assert parse_relative("3 個月前", tpe(2026, 5, 31, 12, 0)) == tpe(2026, 2, 28, 12, 0)  # clamped
    assert parse_relative("2 小時前", NOW.astimezone(TPE)) == NOW - timedelta(hours=2)  # any aware now
    assert [chinese_number(x) for x in ("三", "十", "十五", "二十", "二十三", "兩", "半", "12", "十十", "x")] == [
        3, 10, 15, 20, 23, 2, 0.5, 12, None, None]


def test_parse_time_falls_back_to_relative_only_with_now(monkeypatch):
    monkeypatch.setattr(dates, "_dateparser", lambda: None)
    assert parse_time("3 小時前") is None  # unchanged without now
    assert parse_time("3 小時前", now=NOW) == NOW - timedelta(hours=3)
    assert parse_time("yesterday", now=NOW) == tpe(2026, 11, 21, 18, 0)
    assert parse_time("昨天 09:00", now=NOW, tz="UTC") == datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    assert parse_time("2026-11-20T08:00:00Z", now=NOW) == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert parse_time(1795335900, now=NOW) == datetime(2026, 11, 22, 8, 25, tzinfo=UTC)
    assert parse_time("2026-11-20 08:00", now=NOW) is None  # a naive time stays ambiguous
    assert parse_time("not a date", now=NOW) is None
    assert parse_time("3 小時前", now=NOW, tz="Nowhere/Atlantis") is None


def test_parse_time_uses_dateparser_last_when_installed(monkeypatch):
    seen = []

    def fake_parse(text, settings):
        seen.append((text, settings))
        return datetime(2026, 11, 3, 9, 0, tzinfo=TPE) if text == "3 Nov" else None

    monkeypatch.setattr(dates, "_dateparser", lambda: SimpleNamespace(parse=fake_parse))
    assert parse_time("3 Nov", now=NOW) == datetime(2026, 11, 3, 1, 0, tzinfo=UTC)
    assert seen[0][1]["RELATIVE_BASE"] == datetime(2026, 11, 22, 18, 0) and seen[0][1]["TIMEZONE"] == "Asia/Taipei"
    assert parse_time("3 小時前", now=NOW) == NOW - timedelta(hours=3) and len(seen) == 1  # relative first
    assert parse_time("3 Nov") is None and len(seen) == 1  # never without now
    assert parse_time("gibberish", now=NOW) is None

    def broken(text, settings):
        raise RuntimeError("dateparser bug")

    monkeypatch.setattr(dates, "_dateparser", lambda: SimpleNamespace(parse=broken))
    assert parse_time("3 Nov", now=NOW) is None


def test_html_dates_count_back_from_the_clock(monkeypatch):
    monkeypatch.setattr(dates, "_dateparser", lambda: None)
    assert parse_date("3 小時前", None, "Asia/Taipei", now=NOW) == NOW - timedelta(hours=3)
    assert parse_date("昨天 14:03", None, "Asia/Taipei", now=NOW) == tpe(2026, 11, 21, 14, 3)
    assert parse_date("2026/11/22 15:20", None, "Asia/Taipei", now=NOW) == tpe(2026, 11, 22, 15, 20)
    assert parse_date("上週三", None, "Asia/Taipei") is None  # without a clock, as before


def test_dcard_more_than_100_comments_are_paged_by_floor(router, tmp_path, clock, sleeps):
    def page(request):
        after = int(request.url.params.get("after", 0))
        floors = range(after + 1, min(after + int(request.url.params["limit"]), 120) + 1)
        return httpx.Response(200, json=[{"id": f"c{f}", "postId": 257000003, "floor": f, "content": f"林志明醫師 {f} 樓",
                                          "createdAt": "2026-11-22T09:00:00.000Z", "hidden": False} for f in floors])

    routes = mock_all(router, "dcard", overrides={"comments_257000002.json": httpx.Response(200, json=[])})
    routes["comments_257000003.json"].side_effect = page
    res = make_connector("dcard", tmp_path, clock, sleeps, max_comments=150).fetch(FetchContext())
    asked = [dict(c.request.url.params) for c in routes["comments_257000003.json"].calls]
    assert asked == [{"limit": "100"}, {"limit": "50", "after": "100"}]
    comments = [m for m in res.mentions if m.parent_url == POST3]
    assert len(comments) == 120 and comments[-1].guid == "257000003-c120"
    assert not any("max_comments" in w for w in res.warnings)  # all 120 were read
