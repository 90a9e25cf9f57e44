"""What each platform does differently, against recorded payloads (respx)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from connectors.base import FetchContext
from connectors.google_business import original_comment
from connectors.html import decode_html
from monitor.replay import fixture_bytes
from tests.conftest import T0
from tests.test_connector_suite import make_connector, mock_all

J = {"Content-Type": "application/json"}


def test_google_places_bad_key_is_auth_failed_and_rating_only_review_is_kept(router, tmp_path, clock, sleeps):
    mock_all(router, "google_places")
    res = make_connector("google_places", tmp_path, clock, sleeps).fetch(FetchContext())
    star_only = [m for m in res.mentions if not m.content.strip()]
    assert len(star_only) == 1 and star_only[0].rating is not None  # kept with its stars, for the verdict
    assert not any("rating only" in w for w in res.warnings)
    assert router.calls.last.request.headers["X-Goog-Api-Key"] == "fixture-places-key"
    assert "key=" not in str(router.calls.last.request.url)  # the key never goes into a URL
    mock_all(router, "google_places", main=httpx.Response(400, content=fixture_bytes("google_places", "error_key.json"),
                                                          headers=J))
    res = make_connector("google_places", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "auth_failed" and "api_key_invalid" in res.error


def test_google_business_refresh_token_and_translated_comments(router, tmp_path, clock, sleeps):
    routes = mock_all(router, "google_business")
    res = make_connector("google_business", tmp_path, clock, sleeps).fetch(FetchContext())
    token_req = routes["token.json"].calls[0].request
    assert b"grant_type=refresh_token" in token_req.content and b"refresh_token=1%2F%2Ffixture-refresh" in token_req.content
    assert routes["main"].calls[0].request.headers["Authorization"] == "Bearer ya29.a0AfB_byC-fixture"
    second = [m for m in res.mentions if m.guid.endswith("AbFvOq2")][0]
    assert second.text.startswith("安心診所收費不透明") and "Translated by Google" not in second.text
    assert {m.rating for m in res.mentions} == {1, 2, 5}
    assert original_comment("plain") == "plain"
    mock_all(router, "google_business", overrides={"token.json": httpx.Response(
        400, content=fixture_bytes("google_business", "error_grant.json"), headers=J)})
    res = make_connector("google_business", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "auth_failed" and "invalid_grant" in res.error


def test_yelp_pacific_time_unknown_date_and_spent_daily_budget(router, tmp_path, clock, sleeps):
    body = fixture_bytes("yelp", "page1.json")
    mock_all(router, "yelp", main=httpx.Response(200, content=body, headers={
        **J, "RateLimit-DailyLimit": "500", "RateLimit-Remaining": "0", "RateLimit-ResetTime": "2026-11-23T00:00:00+00:00"}))
    res = make_connector("yelp", tmp_path, clock, sleeps).fetch(FetchContext())
    first = res.mentions[0]
    assert first.published_at == datetime(2026, 11, 22, 7, 12, 45, tzinfo=timezone.utc)  # 23:12:45 PST
    assert any("unknown date format 'yesterday'" in w for w in res.warnings)
    assert res.status == "ok" and res.retry_after == datetime(2026, 11, 23, tzinfo=timezone.utc)


@pytest.mark.parametrize("fixture,status", [("error_token.json", "auth_failed"), ("error_rate.json", "rate_limited")])
def test_facebook_graph_errors_come_in_the_body(router, tmp_path, clock, sleeps, fixture, status):
    err = httpx.Response(400, content=fixture_bytes("facebook_page", fixture), headers=J)
    mock_all(router, "facebook_page", main=err, overrides={"posts.json": err})
    res = make_connector("facebook_page", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == status and "Graph error" in res.error


def test_reddit_user_agent_and_basic_auth(router, tmp_path, clock, sleeps):
    routes = mock_all(router, "reddit")
    make_connector("reddit", tmp_path, clock, sleeps).fetch(FetchContext())
    req = routes["main"].calls[0].request
    assert req.headers["User-Agent"].startswith("python:repwatch:") and "(by /u/anxin_ops)" in req.headers["User-Agent"]
    assert routes["token.json"].calls[0].request.headers["Authorization"].startswith("Basic ")


def test_bluesky_expired_token_opens_one_new_session(router, tmp_path, clock, sleeps):
    expired = httpx.Response(400, content=fixture_bytes("bluesky", "error_expired.json"), headers=J)
    ok = httpx.Response(200, content=fixture_bytes("bluesky", "page1.json"), headers=J)
    routes = mock_all(router, "bluesky")
    responses = iter([expired, ok])
    routes["main"].side_effect = lambda request: next(responses)
    res = make_connector("bluesky", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "ok" and routes["session.json"].call_count == 2
    assert res.mentions[0].url == "https://bsky.app/profile/mei.bsky.social/post/3lbx7qkz2ac2a"


def test_x_partial_errors_and_since_id(router, tmp_path, clock, sleeps):
    routes = mock_all(router, "x")
    conn = make_connector("x", tmp_path, clock, sleeps)
    res = conn.fetch(FetchContext())
    assert res.cursor == "1860001112223334445"
    assert any("Not Found Error" in w for w in res.warnings)
    assert res.mentions[0].url == "https://x.com/meimei_tw/status/1860001112223334445"
    conn.fetch(FetchContext(cursor=res.cursor))
    assert routes["main"].calls.last.request.url.params["since_id"] == "1860001112223334445"


def test_youtube_quota_is_rate_limited_until_pacific_midnight(router, tmp_path, clock, sleeps):
    mock_all(router, "youtube", main=httpx.Response(403, content=fixture_bytes("youtube", "error_quota.json"), headers=J))
    res = make_connector("youtube", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "rate_limited"
    assert res.retry_after == datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)  # 00:00 PST


def test_ptt_cookie_deleted_rows_article_text_and_age_gate(router, tmp_path, clock, sleeps):
    routes = mock_all(router, "ptt")
    res = make_connector("ptt", tmp_path, clock, sleeps).fetch(FetchContext())
    assert routes["main"].calls[0].request.headers["Cookie"] == "over18=1"
    first = res.mentions[-1]
    assert first.title == "[心得] 安心診所林志明醫師 看診經驗很差"
    assert "等了快兩小時" in first.text and "避雷了" not in first.text and "發信站" not in first.text
    assert first.published_at == datetime(2026, 11, 22, 8, 25, tzinfo=timezone.utc)
    assert res.cursor == "1795335900"
    gate = httpx.Response(200, content=fixture_bytes("ptt", "over18.html"), headers={"Content-Type": "text/html"})
    mock_all(router, "ptt", main=gate)
    res = make_connector("ptt", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "blocked" and "age gate" in res.error and res.retry_after > T0


def test_dcard_challenge_page_with_200_is_blocked(router, tmp_path, clock, sleeps):
    page = httpx.Response(200, content=fixture_bytes("dcard", "challenge.html"), headers={"Content-Type": "text/html"})
    mock_all(router, "dcard", main=page)
    res = make_connector("dcard", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "blocked"


def test_html_big5_page_ratings_dates_and_robots(router, tmp_path, clock, sleeps):
    routes = mock_all(router, "html")
    res = make_connector("html", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.mentions[0].title == "林志明醫師態度差" and "預約了還等兩個小時" in res.mentions[0].text
    assert res.mentions[0].rating == 1.0 and res.mentions[0].url == "https://replay.test/clinic/anxin/review/901"
    assert res.mentions[0].published_at == datetime(2026, 11, 22, 7, 20, tzinfo=timezone.utc)  # 15:20 Taipei
    assert res.mentions[1].published_at == datetime(2026, 11, 20, 16, 0, tzinfo=timezone.utc)  # 2026年11月21日
    # a relative date counts back from the injected clock (Sunday 22 Nov, 18:00 Taipei): Wednesday 11 Nov
    assert res.mentions[3].published_at == datetime(2026, 11, 11, 10, 0, tzinfo=timezone.utc)  # 上週三
    assert not any("unknown date format" in w for w in res.warnings)
    assert res.mentions[2].content == "" and res.mentions[2].rating is not None  # item #3: stars only, kept
    assert routes["robots.txt"].called
    assert decode_html("診所".encode("cp950"))[0] == "診所"
    # a site that disallows the path: the page is never fetched
    mock_all(router, "html", overrides={"robots.txt": httpx.Response(200, text="User-agent: *\nDisallow: /clinic/")})
    before = len(router.calls)
    res = make_connector("html", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "failed" and "robots.txt disallows" in res.error
    assert [c.request.url.path for c in router.calls[before:]] == ["/robots.txt"]  # the page itself: never
    res = make_connector("html", tmp_path, clock, sleeps, respect_robots=False).fetch(FetchContext())
    assert res.status == "ok"


# ------------------------------------------------------------------ one partial-failure policy (HttpConnector)


@pytest.mark.parametrize("ctype,page2", [("reddit", "page2.json"), ("youtube", "page2.json"), ("html", "page2.html"),
                                         ("facebook_page", "ratings2.json")])
def test_a_later_page_that_fails_keeps_what_was_read_and_the_old_cursor(ctype, page2, router, tmp_path, clock,
                                                                      sleeps):
    mock_all(router, ctype)
    whole = make_connector(ctype, tmp_path, clock, sleeps).fetch(FetchContext(cursor="2026-01-01T00:00:00+00:00"))
    mock_all(router, ctype, overrides={page2: httpx.Response(503, text="upstream connect error")})
    res = make_connector(ctype, tmp_path, clock, sleeps).fetch(FetchContext(cursor="2026-01-01T00:00:00+00:00"))
    assert res.status == "ok" and 0 < len(res.mentions) < len(whole.mentions)
    assert any("page 2 failed: HTTP 503" in w and "3 attempts" in w for w in res.warnings), res.warnings
    assert res.cursor == "2026-01-01T00:00:00+00:00"  # not moved past the page never read
    assert whole.cursor != res.cursor


@pytest.mark.parametrize("ctype,page2", [("reddit", "page2.json"), ("x", "page2.json"), ("html", "page2.html")])
def test_a_later_page_rate_limited_ends_the_fetch_with_its_retry_time_and_what_was_read(ctype, page2, router,
                                                                                      tmp_path, clock, sleeps):
    limited = httpx.Response(429, text="slow down", headers={"Retry-After": "120"})
    mock_all(router, ctype, overrides={page2: limited})
    res = make_connector(ctype, tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "rate_limited" and res.retry_after == T0 + timedelta(seconds=120)
    assert res.mentions  # page 1's mentions are not held back for the whole back-off


def test_dcard_and_ptt_follow_the_same_policy(router, tmp_path, clock, sleeps):
    mock_all(router, "ptt", overrides={"search2.html": httpx.Response(500, text="oops")})
    res = make_connector("ptt", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "ok" and res.mentions and any("page 2 failed" in w for w in res.warnings)
    assert res.cursor is None  # the first poll: the cursor stays unset until every page was read
    mock_all(router, "ptt", overrides={"search2.html": httpx.Response(429, headers={"Retry-After": "60"})})
    res = make_connector("ptt", tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "rate_limited" and res.retry_after == T0 + timedelta(seconds=60)
