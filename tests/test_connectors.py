"""Connectors against recorded payloads, with respx mocking httpx."""
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import respx

from connectors import registry
from connectors.base import FetchContext
from connectors.http import HttpPolicy
from connectors.google_alerts import GoogleAlertsConnector, unwrap_google_url
from connectors.rss import RssConnector
from monitor.config import Source
from tests.conftest import FIXTURES, T0

URL = "https://www.google.com/alerts/feeds/06849317459817632548/14262410562231736582"
ATOM = (FIXTURES / "google_alerts_dr_lin.xml").read_bytes()


def make(cls, sleeps, clock, **kw):
    source = Source(id="ga", type=cls.type, url=URL, **kw)
    client = httpx.Client(follow_redirects=True, max_redirects=3)
    return cls(source, client, clock, HttpPolicy(attempts=3, backoff=1.0, sleep=sleeps, rand=lambda: 0.5))


def test_registry_lists_builtins():
    assert {"rss", "google_alerts"} <= set(registry())


@respx.mock
def test_google_alerts_entries_are_unwrapped_stripped_and_utc(sleeps, clock):
    respx.get(URL).mock(return_value=httpx.Response(200, content=ATOM, headers={
        "Content-Type": "application/atom+xml; charset=utf-8", "ETag": '"abc"',
        "Last-Modified": "Sun, 22 Nov 2026 09:41:07 GMT"}))
    res = make(GoogleAlertsConnector, sleeps, clock).fetch(FetchContext())
    assert res.status == "ok" and len(res.mentions) == 4
    first = res.mentions[0]
    assert first.url == "https://forum.example.tw/thread/88123?page=2"
    assert first.title == "林志明醫師看診態度差 病患等兩小時 - 健康論壇"
    assert "<b>" not in first.text and first.text.startswith("預約了還是等了兩個小時,林志明醫師看診不到三分鐘")
    assert first.published_at == datetime(2026, 11, 22, 9, 41, 7, tzinfo=timezone.utc)
    assert first.guid is None  # per-alert ids are not identities; the article URL is
    english = res.mentions[2]
    assert english.title == "Patients praise Dr. Lin Chih-Ming for clear explanations"
    assert english.published_at.tzinfo is not None
    assert res.etag == '"abc"' and res.last_modified == "Sun, 22 Nov 2026 09:41:07 GMT"
    assert res.cursor == "2026-11-22T09:41:07+00:00"


def test_unwrap_leaves_ordinary_links():
    assert unwrap_google_url("https://example.com/a?url=https://x") == "https://example.com/a?url=https://x"
    assert unwrap_google_url("https://www.google.com/url?q=https://a.example/b&sa=D") == "https://a.example/b"


@respx.mock
def test_rss_keeps_guid_as_identity(sleeps, clock):
    rss = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>News</title>
    <item><title>Clinic opens</title><link>https://n.example/1?utm_source=x</link><guid>n-1</guid>
    <pubDate>Sun, 22 Nov 2026 08:00:00 +0800</pubDate><description>&lt;p&gt;Renxin Clinic opens&lt;/p&gt;</description></item>
    </channel></rss>"""
    respx.get(URL).mock(return_value=httpx.Response(200, content=rss, headers={"Content-Type": "application/rss+xml"}))
    res = make(RssConnector, sleeps, clock).fetch(FetchContext())
    m = res.mentions[0]
    assert m.guid == "n-1" and m.text == "Renxin Clinic opens"
    assert m.published_at == datetime(2026, 11, 22, 0, 0, tzinfo=timezone.utc)


@respx.mock
def test_conditional_get_and_304(sleeps, clock):
    route = respx.get(URL).mock(return_value=httpx.Response(304))
    res = make(GoogleAlertsConnector, sleeps, clock).fetch(FetchContext(etag='"abc"', last_modified="Sun, 22 Nov 2026 09:41:07 GMT"))
    assert res.status == "not_modified" and res.ok and not res.mentions
    sent = route.calls.last.request.headers
    assert sent["If-None-Match"] == '"abc"' and sent["If-Modified-Since"] == "Sun, 22 Nov 2026 09:41:07 GMT"
    assert "repwatch" in sent["User-Agent"]


@respx.mock
def test_5xx_is_retried_with_backoff_and_jitter(sleeps, clock):
    respx.get(URL).mock(side_effect=[httpx.Response(503), httpx.Response(502),
                                     httpx.Response(200, content=ATOM, headers={"Content-Type": "application/atom+xml"})])
    res = make(GoogleAlertsConnector, sleeps, clock).fetch(FetchContext())
    assert res.status == "ok" and len(res.mentions) == 4
    assert sleeps == [0.75, 1.5]  # 1 s then 2 s, times the jitter factor 0.5 + 0.5/2


@respx.mock
def test_persistent_500_fails_after_attempts(sleeps, clock):
    respx.get(URL).mock(return_value=httpx.Response(500))
    res = make(GoogleAlertsConnector, sleeps, clock).fetch(FetchContext())
    assert res.status == "failed" and "HTTP 500" in res.error and "after 3 attempts" in res.error
    assert res.http_status == 500


@respx.mock
def test_timeout_is_a_failure_not_an_exception(sleeps, clock):
    respx.get(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    res = make(GoogleAlertsConnector, sleeps, clock, timeout=timedelta(seconds=7)).fetch(FetchContext())
    assert res.status == "failed" and "timed out after 7s" in res.error and len(sleeps) == 2


@respx.mock
@pytest.mark.parametrize("header,expected", [
    ("120", T0 + timedelta(seconds=120)),
    ("Sun, 22 Nov 2026 11:30:00 GMT", datetime(2026, 11, 22, 11, 30, tzinfo=timezone.utc)),
    (None, T0 + timedelta(minutes=5)),
])
def test_429_honours_retry_after(sleeps, clock, header, expected):
    headers = {"Retry-After": header} if header else {}
    respx.get(URL).mock(return_value=httpx.Response(429, headers=headers))
    res = make(GoogleAlertsConnector, sleeps, clock).fetch(FetchContext())
    assert res.status == "rate_limited" and res.retry_after == expected and sleeps == []


@respx.mock
def test_html_page_where_a_feed_was_expected(sleeps, clock):
    html = "<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please sign in</body></html>"
    respx.get(URL).mock(return_value=httpx.Response(200, text=html, headers={"Content-Type": "text/html"}))
    res = make(GoogleAlertsConnector, sleeps, clock).fetch(FetchContext())
    assert res.status == "failed" and "expected a feed, got an HTML page" in res.error


@respx.mock
def test_malformed_feed_keeps_good_entries_or_fails_cleanly(sleeps, clock):
    truncated = ATOM[: ATOM.index(b"</entry>") + len(b"</entry>") + 40]
    respx.get(URL).mock(return_value=httpx.Response(200, content=truncated, headers={"Content-Type": "application/atom+xml"}))
    res = make(GoogleAlertsConnector, sleeps, clock).fetch(FetchContext())
    assert res.status == "ok" and len(res.mentions) >= 1 and any("not well-formed" in w for w in res.warnings)
    respx.get(URL).mock(return_value=httpx.Response(200, content=b"\x00\x01garbage{", headers={"Content-Type": "application/xml"}))
    res = make(GoogleAlertsConnector, sleeps, clock).fetch(FetchContext())
    assert res.status == "failed" and "expected a feed" in res.error


@respx.mock
def test_body_over_the_cap_is_refused_while_streaming(sleeps, clock):
    def chunks():
        for _ in range(50):
            yield b"x" * 1_000_000  # 50 MB if read to the end

    respx.get(URL).mock(return_value=httpx.Response(200, content=chunks(), headers={"Content-Type": "application/atom+xml"}))
    res = make(GoogleAlertsConnector, sleeps, clock, max_bytes=2_000_000).fetch(FetchContext())
    assert res.status == "failed" and "exceeds max_bytes=2,000,000" in res.error


@respx.mock
def test_declared_length_over_the_cap(sleeps, clock):
    respx.get(URL).mock(return_value=httpx.Response(200, content=b"x" * 5000,
                                                    headers={"Content-Length": "50000000"}))
    res = make(GoogleAlertsConnector, sleeps, clock, max_bytes=10_000).fetch(FetchContext())
    assert res.status == "failed" and "50,000,000 bytes exceeds" in res.error


@respx.mock
def test_auth_and_block_pages(sleeps, clock):
    respx.get(URL).mock(return_value=httpx.Response(401))
    assert make(GoogleAlertsConnector, sleeps, clock).fetch(FetchContext()).status == "auth_failed"
    respx.get(URL).mock(return_value=httpx.Response(403, text="<html><title>Just a moment...</title>cf-challenge</html>"))
    res = make(GoogleAlertsConnector, sleeps, clock).fetch(FetchContext())
    assert res.status == "blocked" and res.retry_after == T0 + timedelta(hours=1)


@respx.mock
def test_redirect_loop(sleeps, clock):
    respx.get(URL).mock(return_value=httpx.Response(302, headers={"Location": URL}))
    res = make(GoogleAlertsConnector, sleeps, clock).fetch(FetchContext())
    assert res.status == "failed" and "redirect" in res.error


def test_a_broken_plugin_is_logged_and_left_out(monkeypatch, caplog):
    """An entry point whose module fails to import is named in a warning; the built-ins stay."""
    from importlib.metadata import EntryPoint

    import connectors

    broken = EntryPoint(name="clinicboard", value="repwatch_no_such_plugin:Board", group="repwatch.connectors")
    monkeypatch.setattr(connectors, "entry_points", lambda group: [broken] if group == "repwatch.connectors" else [])
    connectors.plugins.cache_clear()  # plugins are looked up once per process: look again
    try:
        with caplog.at_level("WARNING", logger="connectors"):
            found = registry()
            assert registry() == found  # the second lookup is the cached one: no second warning
    finally:
        connectors.plugins.cache_clear()
    assert "clinicboard" not in found and {"rss", "reddit", "dcard"} <= set(found)
    [record] = [r for r in caplog.records if "clinicboard" in r.getMessage()]
    assert record.levelname == "WARNING"
    assert "repwatch_no_such_plugin" in record.getMessage() and "ModuleNotFoundError" in record.getMessage()


# ------------------------------------------------------------------ packaging


def _build_wheel(tmp_path):
    """A wheel built from a copy of the checkout (so the build leaves nothing in it), offline."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("setuptools", reason="building a wheel offline needs setuptools in this environment")
    root = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(root / name, src / name)
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for pkg in ("monitor", "connectors"):
        shutil.copytree(root / pkg, src / pkg, ignore=junk)
    out = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "-w", str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    [wheel] = out.glob("repwatch-*.whl")
    return wheel


def test_the_wheel_carries_the_fixtures_and_replay_runs_from_it(tmp_path):
    """`repwatch replay` from an installed wheel, run outside the checkout, serves every
    connector's recordings (they are package data, found through the package)."""
    import os
    import subprocess
    import sys
    import sysconfig
    import zipfile
    from pathlib import Path

    from monitor.replay import FIXTURES, fixture_types

    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    recorded = {f"connectors/fixtures/{p.relative_to(FIXTURES).as_posix()}" for p in FIXTURES.rglob("*") if p.is_file()}
    assert recorded and recorded <= names, sorted(recorded - names)[:5]

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True,
                   timeout=120)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    if sys.prefix != sys.base_prefix:  # the dependencies live in this virtualenv, not the system's
        # a plain path: this virtualenv's .pth files (the checkout's editable install) are not read from it
        Path(site, "repwatch-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    where = subprocess.run([str(py), "-c", "import monitor.replay as r; print(r.FIXTURES)"], cwd=elsewhere, env=env,
                           capture_output=True, text=True, timeout=120)
    assert where.returncode == 0 and where.stdout.strip().startswith(site), (where.stdout, where.stderr)

    cfg = elsewhere / "replay.toml"
    run = subprocess.run([str(venv / "bin" / "repwatch"), "replay", "--write-config", str(cfg), "--storage",
                          f"sqlite:///{elsewhere / 'r.db'}", "--seconds", "0.2"], cwd=elsewhere, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    types = fixture_types()
    assert f"serving recorded payloads for {len(types)} connectors on 127.0.0.1" in run.stdout
    assert all(f"  {t:<16} http://127.0.0.1:" in run.stdout for t in types), run.stdout
    assert "then: repwatch poll --config" in run.stdout
    text = cfg.read_text(encoding="utf-8")
    assert all(f'id = "replay-{t}"' in text for t in types)
