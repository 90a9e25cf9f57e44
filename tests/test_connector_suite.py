"""Every connector against its recorded payloads (connectors/fixtures/<type>), with respx.

One parametrised suite runs the same scenarios for each connector: a normal page and
the next, a second poll with the cursor, an empty result, 304 where the platform has
it, 401, an anti-bot 403, 429 with Retry-After, 5xx, a changed schema, truncated JSON,
HTML where JSON was expected, a 10 MB body, a redirect loop, and a pagination token
that repeats. Platform-specific cases live in tests/test_connectors_platforms.py.
"""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
import respx

from connectors import registry
from connectors.base import FetchContext
from connectors.http import HttpPolicy
from monitor.config import load_config
from monitor.replay import REPLAY_ENTITIES, fixture_bytes, fixture_types, manifest
from tests.conftest import T0

TYPES = fixture_types()
JSON_TYPES = [t for t in TYPES if any(r["file"].endswith(".json") and r.get("main") for r in manifest(t)["routes"])]
FAKE_BASE = "https://replay.test"


def base_of(ctype: str) -> str:
    return registry()[ctype].default_url or FAKE_BASE


def make_connector(ctype: str, tmp_path, clock, sleeps, **extra):
    """A connector built from a real config file (so option checks and credentials run too)."""
    m, base = manifest(ctype), base_of(ctype)
    table = {"id": f"t-{ctype}", "type": ctype, "url": base + m.get("url_path", ""), **m["source"], **extra}
    table.update({k: base + v for k, v in m.get("url_options", {}).items()})
    from monitor.replay import _toml_value

    body = REPLAY_ENTITIES + "\n[[sources]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in table.items())
    path = tmp_path / f"{ctype}.toml"
    path.write_text(body, encoding="utf-8")
    source = load_config(path, env=m["env"]).sources[0]
    client = httpx.Client(follow_redirects=True, max_redirects=3)
    cls = registry()[ctype]
    return cls(source, client, clock, HttpPolicy(attempts=3, backoff=1.0, sleep=sleeps, rand=lambda: 0.5))


def mock_all(router: respx.Router, ctype: str, main=None, overrides: dict | None = None):
    """Register every recorded route; ``main`` replaces the main route's response and
    ``overrides`` maps a fixture file name to a replacement response."""
    m, base = manifest(ctype), base_of(ctype)
    parts = urlsplit(base)
    routes = {}
    for r in m["routes"]:
        body = fixture_bytes(ctype, r["file"])
        resp = httpx.Response(r.get("status", 200), content=body,
                              headers={"Content-Type": r.get("content_type", "application/json"), **r.get("headers", {})})
        if r.get("main") and main is not None:
            resp = main
        if overrides and r["file"] in overrides:
            resp = overrides[r["file"]]
        route = router.route(method=r["method"], scheme=parts.scheme, host=parts.hostname, path=r["path"],
                             params__contains=r.get("query", {}))
        route.side_effect = (lambda rr: (lambda request: rr))(resp) if not isinstance(resp, Exception) else resp
        routes[r["file"] if not r.get("main") else "main"] = route
    return routes


MULTI_EDGE = {"facebook_page"}  # reads two edges; one failing keeps the other's mentions


def assert_reported(ctype: str, res, status: str, needle: str) -> None:
    """The failure is the result, or (for a connector that reads several endpoints and got
    mentions from another) a warning naming it."""
    if ctype in MULTI_EDGE and res.status == "ok":
        assert res.mentions and any(needle in w for w in res.warnings), res.warnings
    else:
        assert res.status == status and needle in (res.error or ""), (res.status, res.error)


def main_body(ctype: str) -> bytes:
    r = next(r for r in manifest(ctype)["routes"] if r.get("main"))
    return fixture_bytes(ctype, r["file"])


def empty_response(ctype: str) -> httpx.Response:
    names = {"rss": None, "google_alerts": None}
    if ctype in names:
        feed = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
        return httpx.Response(200, content=feed, headers={"Content-Type": "application/rss+xml"})
    for name in ("empty.json", "empty.html"):
        try:
            body = fixture_bytes(ctype, name)
        except FileNotFoundError:
            continue
        ctype_header = "application/json" if name.endswith(".json") else "text/html; charset=utf-8"
        return httpx.Response(200, content=body, headers={"Content-Type": ctype_header})
    raise AssertionError(f"no empty fixture for {ctype}")


# ------------------------------------------------------------------ the suite


@pytest.mark.parametrize("ctype", TYPES)
def test_normal_page_and_next_page(ctype, router, tmp_path, clock, sleeps):
    routes = mock_all(router, ctype)
    res = make_connector(ctype, tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "ok", res.error
    assert len(res.mentions) == manifest(ctype)["expect_mentions"], [m.title or m.text[:30] for m in res.mentions]
    for m in res.mentions:
        assert m.source_id == f"t-{ctype}"
        assert m.content.strip() or m.rating is not None  # a star-only review keeps its stars
        assert m.published_at is None or m.published_at.utcoffset() == timedelta(0)
        assert m.fingerprint
    assert len({m.fingerprint for m in res.mentions}) == len(res.mentions)
    assert not any("repeated" in w or "max_pages" in w for w in res.warnings), res.warnings
    uncalled = [name for name, route in routes.items() if not route.called]
    assert uncalled == [], "every recorded request (token, next page, article) is made"
    assert res.cursor or res.etag, "a connector must keep a cursor (or a validator) for the next poll"


@pytest.mark.parametrize("ctype", [t for t in TYPES if t not in ("rss", "google_alerts")])
def test_second_poll_with_cursor_returns_only_new(ctype, router, tmp_path, clock, sleeps):
    routes = mock_all(router, ctype)
    conn = make_connector(ctype, tmp_path, clock, sleeps)
    first = conn.fetch(FetchContext())
    calls_first = sum(r.call_count for r in routes.values())
    second = conn.fetch(FetchContext(cursor=first.cursor))
    calls_second = sum(r.call_count for r in routes.values()) - calls_first
    assert second.status == "ok", second.error
    # the same payload again yields nothing new; an item without a readable date cannot be
    # placed against the cursor and comes back (storage keeps it once)
    assert all(m.published_at is None for m in second.mentions), "the same payload again must yield nothing new"
    assert second.cursor == first.cursor
    assert calls_second <= calls_first


@pytest.mark.parametrize("ctype", TYPES)
def test_empty_result(ctype, router, tmp_path, clock, sleeps):
    others = {"posts.json": empty_response(ctype)} if ctype == "facebook_page" else None
    mock_all(router, ctype, main=empty_response(ctype), overrides=others)
    res = make_connector(ctype, tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "ok", res.error
    assert res.mentions == ()


@pytest.mark.parametrize("ctype", [t for t in TYPES if registry()[t].supports_304])
def test_not_modified(ctype, router, tmp_path, clock, sleeps):
    routes = mock_all(router, ctype, main=httpx.Response(304, headers={"ETag": '"v1"'}))
    res = make_connector(ctype, tmp_path, clock, sleeps).fetch(FetchContext(etag='"v1"'))
    assert res.status == "not_modified"
    assert routes["main"].calls.last.request.headers["If-None-Match"] == '"v1"'


@pytest.mark.parametrize("ctype", TYPES)
def test_401_is_auth_failed(ctype, router, tmp_path, clock, sleeps):
    mock_all(router, ctype, main=httpx.Response(401, json={"error": "unauthorized"}))
    res = make_connector(ctype, tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "auth_failed", res.error
    assert sleeps == [], "an auth failure is not retried"


CHALLENGE = (b'<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>'
             b'<script src="/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1"></script></body></html>')


@pytest.mark.parametrize("ctype", TYPES)
def test_antibot_403_is_blocked_not_error(ctype, router, tmp_path, clock, sleeps):
    mock_all(router, ctype, main=httpx.Response(403, content=CHALLENGE, headers={"Content-Type": "text/html"}))
    res = make_connector(ctype, tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "blocked", res.error
    assert res.retry_after is not None and res.retry_after > T0  # the source backs off


@pytest.mark.parametrize("ctype", TYPES)
def test_429_honours_retry_after(ctype, router, tmp_path, clock, sleeps):
    mock_all(router, ctype, main=httpx.Response(429, headers={"Retry-After": "120"}, json={"error": "slow down"}))
    res = make_connector(ctype, tmp_path, clock, sleeps).fetch(FetchContext())
    assert res.status == "rate_limited"
    assert res.retry_after == T0 + timedelta(seconds=120)


@pytest.mark.parametrize("ctype", TYPES)
def test_5xx_is_retried_then_failed(ctype, router, tmp_path, clock, sleeps):
    routes = mock_all(router, ctype, main=httpx.Response(503, text="upstream connect error"))
    res = make_connector(ctype, tmp_path, clock, sleeps).fetch(FetchContext())
    assert_reported(ctype, res, "failed", "503")
    assert_reported(ctype, res, "failed", "3 attempts")
    assert routes["main"].call_count == 3 and sleeps == [0.75, 1.5]


def changed_response(ctype: str) -> httpx.Response:
    for name, ct in (("changed.json", "application/json"), ("changed.html", "text/html; charset=utf-8")):
        try:
            return httpx.Response(200, content=fixture_bytes(ctype, name), headers={"Content-Type": ct})
        except FileNotFoundError:
            continue
    # feeds: a site that replaced its feed with an HTML page
    return httpx.Response(200, content=b"<html><body><h1>New site!</h1></body></html>", headers={"Content-Type": "text/html"})


@pytest.mark.parametrize("ctype", TYPES)
def test_changed_layout_or_schema_is_reported(ctype, router, tmp_path, clock, sleeps):
    mock_all(router, ctype, main=changed_response(ctype))
    res = make_connector(ctype, tmp_path, clock, sleeps).fetch(FetchContext())
    if ctype in MULTI_EDGE:
        assert_reported(ctype, res, "failed", "format")
        return
    assert res.mentions == ()
    if res.status == "ok":  # a page that still parses but where nothing matches: a warning that says so
        assert any("layout" in w or "format" in w for w in res.warnings), res.warnings
    else:
        assert res.status == "failed"
        assert any(k in res.error for k in ("format", "layout", "expected", "changed")), res.error


@pytest.mark.parametrize("ctype", JSON_TYPES)
def test_truncated_json(ctype, router, tmp_path, clock, sleeps):
    body = main_body(ctype)
    mock_all(router, ctype, main=httpx.Response(200, content=body[: len(body) // 2],
                                                headers={"Content-Type": "application/json"}))
    res = make_connector(ctype, tmp_path, clock, sleeps).fetch(FetchContext())
    assert_reported(ctype, res, "failed", "truncated JSON")


@pytest.mark.parametrize("ctype", JSON_TYPES)
def test_html_where_json_was_expected(ctype, router, tmp_path, clock, sleeps):
    page = b"<!DOCTYPE html><html><body><h1>Scheduled maintenance</h1></body></html>"
    mock_all(router, ctype, main=httpx.Response(200, content=page, headers={"Content-Type": "text/html"}))
    res = make_connector(ctype, tmp_path, clock, sleeps).fetch(FetchContext())
    assert_reported(ctype, res, "failed", "expected JSON")
    assert_reported(ctype, res, "failed", "text/html")


@pytest.mark.parametrize("ctype", TYPES)
def test_10mb_page_is_refused(ctype, router, tmp_path, clock, sleeps):
    big = b"x" * (10 * 1024 * 1024)
    mock_all(router, ctype, main=httpx.Response(200, content=big, headers={"Content-Type": "application/json"}))
    res = make_connector(ctype, tmp_path, clock, sleeps).fetch(FetchContext())
    assert_reported(ctype, res, "failed", "max_bytes")


@pytest.mark.parametrize("ctype", TYPES)
def test_redirect_loop(ctype, router, tmp_path, clock, sleeps):
    conn = make_connector(ctype, tmp_path, clock, sleeps)
    routes = mock_all(router, ctype)
    main = next(r for r in manifest(ctype)["routes"] if r.get("main"))
    loop_to = base_of(ctype) + main["path"]
    routes["main"].side_effect = lambda request: httpx.Response(302, headers={"Location": loop_to})
    res = conn.fetch(FetchContext())
    assert_reported(ctype, res, "failed", "redirect")


PAGED = [t for t in TYPES if any(r.get("query") and r["method"] == "GET" and r.get("status", 200) == 200
                                 and not r["file"].startswith("search2") for r in manifest(t)["routes"])]


@pytest.mark.parametrize("ctype", PAGED)
def test_repeating_pagination_token_stops(ctype, router, tmp_path, clock, sleeps):
    """The "next page" answers with the first page again (same token): stop, keep what was read."""
    m = manifest(ctype)
    nxt = next(r for r in m["routes"] if r.get("query") and r["method"] == "GET")
    first = next(r for r in m["routes"] if r.get("main"))
    again = httpx.Response(200, content=fixture_bytes(ctype, first["file"]),
                           headers={"Content-Type": first.get("content_type", "application/json")})
    mock_all(router, ctype, overrides={nxt["file"]: again})
    res = make_connector(ctype, tmp_path, clock, sleeps, max_pages=6).fetch(FetchContext())
    assert res.status == "ok", res.error
    assert any("repeated" in w for w in res.warnings), res.warnings
    assert res.mentions  # what was read is kept
