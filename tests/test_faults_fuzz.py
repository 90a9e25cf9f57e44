"""Property-based fuzzing of every connector's recorded payloads (issue 14).

For each connector type the main recorded payload (connectors/fixtures/<type>/, see
``replay.json``) is mutated by hypothesis: JSON values at random paths replaced by
wrong types (int <-> str, objects, lists, null, booleans, NaN/Infinity, huge ints),
keys and items deleted, items duplicated, 200 KB strings, junk nested thousands deep;
HTML and XML truncated, spliced with random bytes, re-encoded in the wrong charset,
attributes and text nodes replaced, elements duplicated or nested deep. The answer
around it is fuzzed too: the Content-Type (including a charset no codec knows), junk
rate-limit headers, validators and Retry-After, a 304/429/503 status, and each
recorded error body (``error_*.json``) mutated and served with a 4xx/5xx. For PTT and
Dcard the second-level page (an article, a post's comments) and for Facebook the posts
edge are fuzzed as well, since their parsing is separate.

The mutated payload is served by respx (every other recorded route unchanged) to the
real connector, polled through :meth:`monitor.app.App.poll_source` with a real SQLite
file and a fixed scorer, twice. Properties:

* ``poll_source`` never raises, and a connector never raises out of its poll either
  (errors are data: no "connector error:"/"poll error:" result);
* the status is ok / failed / blocked / rate_limited / auth_failed / not_modified, and a
  failed one says why;
* every mention (as fetched, and as stored) has str title and text, a rating that is
  None or a finite 1..5, a published_at that is None or aware UTC, and every mention
  handed on can be stored (no "not stored" item);
* no request carrying the source's credentials leaves its host (a junk "next" link);
* a second poll of the same payload stores nothing new.

The defects this found are pinned as plain examples at the end of the file.

Runs are reproducible (``derandomize=True``, no example database).
``REPWATCH_FUZZ_EXAMPLES`` overrides the examples per target (default below) to hunt
longer locally.
"""
from __future__ import annotations

import copy
import json
import math
import os
import re
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.http import HttpPolicy
from monitor.app import App
from monitor.clock import ManualClock
from monitor.config import load_config
from monitor.replay import FIXTURES, REPLAY_ENTITIES, _toml_value, fixture_bytes, manifest
from monitor.store import MentionRow, Store
from tests.conftest import T0, Sleeps
from tests.test_connector_suite import TYPES, base_of, mock_all
from tests.test_judgment import FixedScorer

EXAMPLES = int(os.environ.get("REPWATCH_FUZZ_EXAMPLES", "0")) or None
STATUSES = {"ok", "failed", "blocked", "rate_limited", "auth_failed", "not_modified"}
MARKUP = {"html", "ptt", "rss", "google_alerts"}
CREDENTIAL_HEADERS = ("authorization", "x-goog-api-key")

# (type, fixture file fuzzed): each type's main payload, and the second-level pages
# whose parsing is separate code
TARGETS = [(t, next(r["file"] for r in manifest(t)["routes"] if r.get("main"))) for t in TYPES]
TARGETS += [("ptt", "article1.html"), ("dcard", "comments_257000003.json"), ("facebook_page", "posts.json")]


# --------------------------------------------------------------------------- mutations

HUGE = "林志明" * 23_000  # about 200 KB of UTF-8, on one field
DEEP = "__fuzz_deep__"  # a placeholder, replaced by nested arrays when serialised


def _deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 2**63, -(2**63) - 1, 10**30, 99_999_999_999_999, 1e308, -1e-308]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=24),
    st.sampled_from(["", "   ", "\ud83d", "NaN", "null", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
                     "2026-02-30T10:00:00Z", "2026-11-22 25:61:00", "1e999", "-5", "4.5", "<b>x</b>&amp;",
                     "\x00\x1f\x7f", "at://did:plc:x/app.bsky.feed.post", "javascript:alert(1)", "http://[::1"]),
    st.just(HUGE),
    st.tuples(st.just(DEEP), st.sampled_from([40, 3_000, 100_000])),
    st.lists(st.one_of(st.integers(), st.text(max_size=6), st.none()), max_size=3),
    st.dictionaries(st.text(max_size=6), st.one_of(st.integers(), st.text(max_size=6), st.none()), max_size=3),
)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


def _flip(value):
    """The same value in the wrong type."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        digits = re.sub(r"\D", "", value)[:30]
        return int(digits) if digits else len(value)
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if isinstance(value, dict):
        return list(value.values())
    return {}


@st.composite
def mutated_json(draw, doc):
    """The recorded document with 1-4 structural mutations; returns (bytes, mutations)."""
    doc = copy.deepcopy(doc)
    done = []
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(list(_paths(doc))))
        op = draw(st.sampled_from(["junk", "flip", "delete", "duplicate", "wrap", "huge"]))
        if not path:  # the document itself
            doc = draw(JUNK) if op != "flip" else _flip(doc)
            done.append(f"{op} <root>")
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key, value = path[-1], parent[path[-1]]
        if op == "junk":
            parent[key] = draw(JUNK)
        elif op == "flip":
            parent[key] = _flip(value)
        elif op == "huge":
            parent[key] = HUGE
        elif op == "wrap":
            parent[key] = [value] if draw(st.booleans()) else {"value": value}
        elif op == "delete":
            del parent[key]
        elif op == "duplicate":
            if isinstance(parent, list):
                parent.insert(key, copy.deepcopy(value))
            else:  # an object: the value again, under another key
                parent[f"{key}_2"] = copy.deepcopy(value)
        done.append(f"{op} {'.'.join(map(str, path))}")
    ascii_only = draw(st.booleans())
    text = json.dumps(doc, ensure_ascii=ascii_only, allow_nan=True)  # NaN/Infinity: Python's json reads them
    for depth in (40, 3_000, 100_000):
        text = text.replace(f'["{DEEP}", {depth}]', _deep_json(depth))
    return text.encode("utf-8", "surrogatepass"), done


def _tag_starts(text: str) -> list[int]:
    return [m.start() for m in re.finditer(r"<(?=[A-Za-z/!?])", text)] or [0]


ATTR_JUNK = st.sampled_from(["", "NaN", "1e309", "99999999999999999999", "-3", "★" * 400, "javascript:alert(1)",
                             "/bbs/x/M.99999999999.A.FFF.html", "2026/02/30", "9999年99月99日", "&#0;", "%%%",
                             "http://[::1", "99/99 99:99"])
TEXT_JUNK = st.one_of(st.text(max_size=40), st.just(HUGE), ATTR_JUNK,
                      st.sampled_from(["&bogus;", "&#xD800;", "&#55357;&#56832;", "<![CDATA[", "]]>", "<script>",
                                       "</div></div></body>",
                                       "\x00\x01\x1b", "推 ", "噓 ", "→ ", "--\n", "\ufeff"]))


@st.composite
def mutated_markup(draw, raw: bytes, charset: str):
    """An HTML page or XML feed with 1-4 text-level mutations; returns (bytes, mutations)."""
    text = raw.decode(charset, "replace")
    done = []
    for _ in range(draw(st.integers(1, 4))):
        starts = _tag_starts(text)
        op = draw(st.sampled_from(["attr", "text", "duplicate", "delete", "nest", "insert_bytes", "truncate"]))
        if op == "attr":
            attrs = [m.span(1) for m in re.finditer(r'=\s*"([^"]*)"', text)]
            if attrs:
                a, b = draw(st.sampled_from(attrs))
                text = text[:a] + draw(ATTR_JUNK).replace('"', "") + text[b:]
        elif op == "text":
            nodes = [m.span(1) for m in re.finditer(r">([^<]+)<", text)]
            if nodes:
                a, b = draw(st.sampled_from(nodes))
                text = text[:a] + draw(TEXT_JUNK) + text[b:]
        elif op in ("duplicate", "delete"):
            i = draw(st.integers(0, len(starts) - 1))
            j = draw(st.integers(i, min(i + 40, len(starts) - 1)))
            a, b = starts[i], starts[j] if j > i else len(text)
            text = text[:b] + text[a:b] + text[b:] if op == "duplicate" else text[:a] + text[b:]
        elif op == "nest":
            at = draw(st.sampled_from(starts))
            depth = draw(st.sampled_from([30, 5_000]))
            tag = draw(st.sampled_from(["div", "b", "item", "span"]))
            text = text[:at] + f"<{tag}>" * depth + "junk" + text[at:]
        elif op == "insert_bytes":  # kept as text here; undecodable bytes come with the encoding step
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.binary(max_size=32)).decode("latin-1") + text[at:]
        elif op == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
        done.append(op)
    encoding = draw(st.sampled_from([charset, charset, "utf-8", "utf-16", "big5", "latin-1", "gb18030"]))
    body = text.encode(encoding, "replace")
    if draw(st.integers(0, 4)) == 0:  # raw random bytes spliced in after encoding
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.binary(min_size=1, max_size=64)) + body[at:]
        done.append("random bytes")
    return body, done + [f"encoded {encoding}"]


@st.composite
def mutated_bytes(draw, raw: bytes):
    """Byte-level damage to any payload: cut, spliced, re-encoded, emptied."""
    op = draw(st.sampled_from(["truncate", "splice", "utf16", "bom", "empty", "garbage"]))
    if op == "truncate":
        return raw[: draw(st.integers(0, len(raw)))], [op]
    if op == "splice":
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.binary(min_size=1, max_size=64)) + raw[at:], [op]
    if op == "utf16":
        return raw.decode("utf-8", "replace").encode("utf-16"), [op]
    if op == "bom":
        return b"\xef\xbb\xbf" + raw, [op]
    if op == "empty":
        return draw(st.sampled_from([b"", b" ", b"null", b"[]", b"{}", b"0", b'""'])), [op]
    return draw(st.binary(max_size=256)), [op]


CONTENT_TYPES = st.sampled_from([None, None, None, "application/json", "text/html; charset=utf-8", "text/plain",
                                 "application/json; charset=utf8mb4", "text/html; charset=no-such-codec",
                                 "application/xml; charset=big5", ""])
# rate-limit headers, validators and Retry-After with junk in them (a header is Latin-1: b"\xb2" is "²")
HEADER_NAMES = ["X-RateLimit-Remaining", "X-RateLimit-Reset", "x-rate-limit-reset", "RateLimit-Remaining",
                "RateLimit-ResetTime", "Retry-After", "ETag", "Last-Modified"]
HEADER_JUNK = st.sampled_from([b"0", b"-1", b"inf", b"nan", b"1e400", b"-1e20", b"99999999999999999999", b"", b"abc",
                               b"2026-13-45T99:99:99Z", b"Tue, 99 Foo 2026 99:99:99 GMT", b"\xb2", b"1.5", b"0.0"])
HEADERS = st.one_of(st.just({}), st.dictionaries(st.sampled_from(HEADER_NAMES), HEADER_JUNK, max_size=3))
OK_STATUSES = st.sampled_from([200, 200, 200, 200, 200, 203, 304, 429, 503])
ERROR_STATUSES = st.sampled_from([400, 401, 403, 404, 429, 500])


def payloads(ctype: str, file: str):
    """(status, body, Content-Type or None for the recorded one, extra headers, mutations)
    for one target: its recorded payload mutated, or (main payloads) a recorded error body
    mutated and served with an error status, so each connector's error reading is fuzzed too."""
    raw = fixture_bytes(ctype, file)
    if file.endswith(".json"):
        doc = json.loads(raw)
        body = st.one_of(mutated_json(doc), mutated_json(doc), mutated_json(doc), mutated_bytes(raw))
    else:
        charset = "cp950" if b"charset=big5" in raw[:400].lower() else "utf-8"
        body = st.one_of(mutated_markup(raw, charset), mutated_markup(raw, charset), mutated_bytes(raw))
    answers = [st.tuples(OK_STATUSES, body, CONTENT_TYPES, HEADERS)] * 3
    main = next(r["file"] for r in manifest(ctype)["routes"] if r.get("main"))
    errors = sorted(p.name for p in (FIXTURES / ctype).glob("error_*.json")) if file == main else []
    if errors:
        error_body = st.one_of(*(mutated_json(json.loads(fixture_bytes(ctype, name))) for name in errors))
        answers.append(st.tuples(ERROR_STATUSES, error_body, CONTENT_TYPES, HEADERS))
    return st.one_of(*answers)


# --------------------------------------------------------------------------- the poll


class Recorded:
    """The real connector, keeping what its poll returned (before the app's checks)."""

    def __init__(self, connector):
        self.connector = connector
        self.results = []

    def poll(self, ctx):
        result = self.connector.poll(ctx)
        self.results.append(result)
        return result


def config_text(ctype: str, db: str) -> str:
    m, base = manifest(ctype), base_of(ctype)
    table = {"id": f"fz-{ctype}", "type": ctype, "url": base + m.get("url_path", ""), **m["source"]}
    table.update({k: base + v for k, v in m.get("url_options", {}).items()})
    # PTT and Dcard have polite default host limits (1 request / 2 s): the fuzzer is not a crawler
    return (f'[storage]\nurl = {_toml_value("sqlite:///" + db)}\n\n[daemon]\n'
            '[daemon.rate_limits]\n"www.ptt.cc" = "1000/1s"\n"www.dcard.tw" = "1000/1s"\n\n'
            + REPLAY_ENTITIES + "\n[[sources]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in table.items()))


def check_mention(m, where: str) -> None:
    assert isinstance(m.title, str) and isinstance(m.text, str), where
    assert m.rating is None or (isinstance(m.rating, float) and math.isfinite(m.rating) and 1 <= m.rating <= 5), \
        (where, m.rating)
    assert m.published_at is None or m.published_at.utcoffset() == timedelta(0), (where, m.published_at)


class Harness:
    """One connector type behind respx; each example gets a fresh SQLite file and App."""

    def __init__(self, ctype: str, file: str, tmp_path, router: respx.Router):
        self.ctype, self.tmp_path, self.n = ctype, tmp_path, 0
        m = manifest(ctype)
        route = next(r for r in m["routes"] if r["file"] == file)
        self.headers = dict(route.get("headers", {}))
        self.recorded_type = route.get("content_type", "application/json")
        self.current: tuple[int, bytes, str | None, dict] = (200, b"", None, {})
        routes = mock_all(router, ctype)
        routes["main" if route.get("main") else file].side_effect = self._serve
        # anything else (a junk id in a path, a junk "next" link) gets what a server says about a
        # page it lacks; a request that leaves the source's host carrying its credentials is a leak
        self.host = urlsplit(base_of(ctype)).hostname
        self.leaks: list[str] = []
        router.route().side_effect = self._elsewhere
        self.env = m["env"]
        self.client = httpx.Client(follow_redirects=True, max_redirects=3)

    def _serve(self, request):
        status, body, ctype_header, extra = self.current
        headers = {**self.headers, "Content-Type": self.recorded_type if ctype_header is None else ctype_header}
        return httpx.Response(status, content=body, headers={**headers, **extra})

    def _elsewhere(self, request):
        if request.url.host != self.host and any(h in request.headers for h in CREDENTIAL_HEADERS):
            self.leaks.append(str(request.url)[:200])
        return httpx.Response(404, json={"error": "not found"})

    def run(self, status: int, body: bytes, content_type: str | None, headers: dict, mutations: list[str]) -> tuple:
        """Poll twice through the app and check every property; return the two reports and
        the stored rows."""
        self.n += 1
        self.current, self.leaks = (status, body, content_type, headers), []
        db = self.tmp_path / f"fuzz-{self.n}.db"
        path = self.tmp_path / f"fuzz-{self.n}.toml"
        path.write_text(config_text(self.ctype, str(db)), encoding="utf-8")
        cfg = load_config(path, env=self.env)
        source_id = cfg.sources[0].id
        store = Store(cfg.storage.url)
        app = App(cfg, scorer=FixedScorer(), store=store, clock=ManualClock(T0), client=self.client,
                  policy=HttpPolicy(attempts=3, backoff=1.0, sleep=Sleeps(), rand=lambda: 0.5))
        recorded = app.connectors[source_id] = Recorded(app.connectors[source_id])
        why = f"{self.ctype}: HTTP {status} {mutations} Content-Type={content_type!r} headers={headers}"
        try:
            first = app.poll_source(source_id)
            stored = store.count_mentions()
            second = app.poll_source(source_id)
            rows = store.rows(MentionRow)
        finally:
            app.close()
            db.unlink(missing_ok=True)
        for report in (first, second):
            assert report.status in STATUSES or (report is second and report.status == "skipped"), \
                (why, report.status, report.error)
            if report.status == "failed":
                assert isinstance(report.error, str) and report.error.strip(), (why, report)
            assert not (report.error or "").startswith(("connector error", "poll error")), (why, report.error)
            assert all(isinstance(w, str) for w in report.warnings), why
            # every mention a connector hands on can be stored (a bad field is dropped, not the item)
            assert not any("not stored:" in w for w in report.warnings), (why, report.warnings)
        for result in recorded.results:
            for m in result.mentions:
                check_mention(m, why)
        for row in rows:
            check_mention(row, why)
        assert self.leaks == [], (why, "credentials sent to another host", self.leaks)
        assert second.new == 0 and len(rows) == stored, (why, "the same payload again stored something", second)
        return first, second, rows


@pytest.mark.parametrize("ctype,file", TARGETS, ids=[f"{t}-{f}" for t, f in TARGETS])
def test_fuzzed_payload_never_breaks_a_poll(ctype, file, tmp_path):
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        harness = Harness(ctype, file, tmp_path, router)

        @settings(max_examples=EXAMPLES or (20 if ctype in MARKUP else 30), deadline=None, derandomize=True,
                  database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                        HealthCheck.filter_too_much])
        @given(payload=payloads(ctype, file))
        def fuzz(payload):
            status, (body, mutations), content_type, headers = payload
            harness.run(status, body, content_type, headers, mutations)

        try:
            fuzz()
        finally:
            harness.client.close()


# --------------------------------------------------------------------------- what the fuzzer found, pinned

def edit_json(changes: dict):
    """A body maker: the recorded JSON with ``{"a.0.b": value}`` set."""
    def make(raw: bytes) -> bytes:
        doc = json.loads(raw)
        for path, value in changes.items():
            *parents, last = [int(k) if k.isdigit() else k for k in path.split(".")]
            node = doc
            for key in parents:
                node = node[key]
            node[last] = value
        return json.dumps(doc, ensure_ascii=False, allow_nan=True).encode("utf-8")
    return make


def edit_text(old: str, new: str, count: int = 1):
    def make(raw: bytes) -> bytes:
        charset = "cp950" if b"charset=big5" in raw[:400].lower() else "utf-8"
        text = raw.decode(charset)
        assert old in text, old
        return text.replace(old, new, count).encode(charset)
    return make


def body(data: bytes):
    return lambda raw: data


DEEP_JSON = _deep_json(100_000).encode()
#  id, type, fixture served, body maker, status, Content-Type, extra headers, expected status, words in error/warnings
FOUND = [
    ("epoch-past-9999", "reddit", "page1.json", edit_json({"data.children.0.data.created_utc": 1e20}), 200, None, {},
     "ok", None),
    ("epoch-nan", "google_business", "page1.json", edit_json({"reviews.0.createTime": math.nan}), 200, None, {},
     "ok", None),
    ("charset-utf8mb4", "yelp", "page1.json", body(fixture_bytes("yelp", "page1.json")), 200,
     "application/json; charset=utf8mb4", {}, "ok", None),
    ("json-nested-100k", "youtube", "page1.json", body(DEEP_JSON), 200, None, {}, "failed", "nested too deep"),
    ("token-too-long-for-url", "x", "page1.json", edit_json({"meta.next_token": HUGE}), 200, None, {}, "ok",
     "invalid request URL"),
    ("ratelimit-reset-inf", "reddit", "page1.json", body(fixture_bytes("reddit", "page1.json")), 200, None,
     {"X-Ratelimit-Remaining": b"0", "X-Ratelimit-Reset": b"inf"}, "ok", None),
    ("retry-after-superscript", "yelp", "page1.json", body(b'{"error": "slow down"}'), 429, None,
     {"Retry-After": b"\xb2"}, "rate_limited", None),
    ("retry-after-past-9999", "yelp", "page1.json", body(b'{"error": "slow down"}'), 429, None,
     {"Retry-After": b"99999999999999"}, "rate_limited", None),
    ("last-modified-not-ascii", "html", "page1.html", body(fixture_bytes("html", "page1.html")), 200, None,
     {"Last-Modified": b"\xb2"}, "ok", None),
    ("bluesky-junk-fields", "bluesky", "page1.json",
     edit_json({"posts.0.record.text": 5, "posts.1.author": "x", "posts.1.record.langs": {"0": "zh"},
                "posts.0.uri": ["at://x"]}), 200, None, {}, "ok", "text was a number"),
    ("dcard-junk-fields", "dcard", "page1.json", edit_json({"0.title": 5, "0.excerpt": ["x"]}), 200, None, {}, "ok",
     "title was a number"),
    ("dcard-id-true", "dcard", "page1.json", edit_json({"1.id": True}), 200, None, {}, "ok",  # not post 1
     "without a numeric id"),
    ("facebook-junk-fields", "facebook_page", "ratings1.json",
     edit_json({"data.0.review_text": {"a": 1}, "data.1.open_graph_story": [], "data.1.recommendation_type": ["x"],
                "paging": "x"}), 200, None, {}, "ok", "text was an object"),
    ("facebook-next-leaves-graph", "facebook_page", "ratings1.json",
     edit_json({"paging.next": "https://evil.example/v21.0/102938475610/ratings?after=QVFIUmxf"}), 200, None, {},
     "ok", "paging.next is not a link on https://graph.facebook.com"),
    ("facebook-error-code-list", "facebook_page", "ratings1.json",
     body(b'{"error": {"code": [4], "type": "OAuthException", "message": "x"}}'), 400, None, {}, "auth_failed", None),
    ("facebook-error-nested-100k", "facebook_page", "ratings1.json", body(DEEP_JSON), 400, None, {}, "ok",
     "part of the page failed: HTTP 400"),  # the posts edge still answered
    ("google-error-nested-100k", "google_places", "page1.json", body(DEEP_JSON), 403, None, {}, "auth_failed", None),
    ("google-error-errors-number", "youtube", "page1.json", body(b'{"error": {"errors": 5, "status": "x"}}'), 400,
     None, {}, "failed", "HTTP 400"),
    ("google-business-junk-fields", "google_business", "page1.json",
     edit_json({"reviews.0.comment": 5, "reviews.1.reviewer": "x", "reviews.2.starRating": ["FIVE"]}), 200, None,
     {}, "ok", "text was a number"),
    ("google-places-junk-text", "google_places", "page1.json", edit_json({"reviews.0.originalText.text": {"x": 1}}),
     200, None, {}, "ok", None),
    ("mastodon-junk-fields", "mastodon", "page1.json",
     edit_json({"statuses.0.account": "x", "statuses.0.spoiler_text": 5, "statuses.1.content": 5}), 200, None, {},
     "ok", "title was a number"),
    ("mastodon-id-infinity", "mastodon", "page1.json", edit_json({"statuses.1.id": math.inf}), 200, None, {}, "ok",
     None),
    ("reddit-title-list", "reddit", "page1.json", edit_json({"data.children.0.data.title": ["x"]}), 200, None, {},
     "ok", "title was a list"),
    ("x-junk-fields", "x", "page1.json",
     edit_json({"data.0.text": 5, "includes.users.0.id": ["1"], "errors": ["x"], "data.1.id": "\u00b2"}), 200, None,
     {}, "ok", "partial error: x"),
    ("x-includes-string", "x", "page1.json", edit_json({"includes": "x"}), 200, None, {}, "ok", None),
    ("youtube-text-number", "youtube", "page1.json",
     edit_json({"items.0.snippet.topLevelComment.snippet.textOriginal": 5}), 200, None, {}, "ok",
     "text was a number"),
    ("url-unclosed-ipv6", "yelp", "page1.json", edit_json({"reviews.0.url": "http://[::1"}), 200, None, {}, "ok",
     None),
    ("rss-emoji-as-surrogate-refs", "rss", "feed.xml", edit_text("<title>", "<title>&#55357;&#56832;&#xD800;", 3),
     200, None, {}, "ok", None),
    ("google-alerts-link-unclosed-ipv6", "google_alerts", "feed.xml",
     edit_text('href="https://www.google.com/url?', 'href="http://[::1/url?'), 200, None, {}, "ok", None),
    ("html-links-unclosed-ipv6", "html", "page1.html",
     edit_text('href="/clinic/anxin/review/901"', 'href="http://[::1/r"'), 200, None, {}, "ok", None),
    ("html-next-unclosed-ipv6", "html", "page1.html",
     edit_text('class="next" href="', 'class="next" href="http://[::1'), 200, None, {}, "ok", "is not a URL"),
    ("ptt-article-link-unclosed-ipv6", "ptt", "search1.html",
     edit_text('href="/bbs/Doctor-Info/M.', 'href="http://[::1/bbs/Doctor-Info/M.'), 200, None, {}, "ok",
     "unrecognised article link"),
]


@pytest.mark.parametrize("case", FOUND, ids=[c[0] for c in FOUND])
def test_what_the_fuzzer_found(case, tmp_path):
    name, ctype, file, make, status, content_type, headers, expect, says = case
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        harness = Harness(ctype, file, tmp_path, router)
        try:
            first, _second, rows = harness.run(status, make(fixture_bytes(ctype, file)), content_type, headers, [name])
        finally:
            harness.client.close()
    assert first.status == expect, (first.status, first.error, first.warnings)
    if says:
        assert says in " | ".join((first.error or "", *first.warnings)), (first.error, first.warnings)
    if expect == "ok" and name != "x-includes-string":
        assert rows, "the items around the bad field are kept"
    if name == "rss-emoji-as-surrogate-refs":
        assert any("\U0001F600" in r.title for r in rows), [r.title for r in rows]
