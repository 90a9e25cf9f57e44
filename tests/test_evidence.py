"""Evidence (issue 18, item 6): raw payloads kept by hash through the real pipeline (the Google
Business connector against its recordings served on 127.0.0.1), a review edited and then
deleted (versions, a tombstone with the last copy), and an export of a replayed incident
whose every hash the test recomputes itself; one byte changed and verify fails."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import timedelta

from connectors.http import HttpPolicy
from monitor import __version__
from monitor.app import App
from monitor.cli import main
from monitor.config import load_config
from monitor.mention import FetchResult, Mention
from monitor.replay import REPLAY_ENTITIES, ReplayServer, _toml_value, fixture_bytes
from monitor.store import FetchRow, MentionRow, PayloadRow, TombstoneRow
from tests.conftest import T0, FakeScorer, connected_before, write_config

REVIEWS = "/v4/accounts/108123/locations/4455667788/reviews"
PAGE1 = json.loads(fixture_bytes("google_business", "page1.json"))
FIRST = PAGE1["reviews"][0]  # 林志明醫師看診態度很差 ... (one star)
EDITED = "林志明醫師看診態度很差,預約了還等兩個小時。後來診所有打電話來道歉,改成兩顆星。"


def config_file(tmp_path, server, url: str, rules: str = "", notify: str = "json://127.0.0.1:9/x"):
    table = server.source_table(source_id="gb")
    source = "[[sources]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in table.items())
    return write_config(tmp_path, f'[storage]\nurl = "{url}"\n\n{REPLAY_ENTITIES}\n{source}\n'
                                  f'[[routes]]\nid = "legal"\nnotify = ["{notify}"]\ngroup_wait = "0s"\n{rules}')


def page(reviews: list[dict]) -> bytes:
    return json.dumps({"reviews": reviews, "averageRating": 3.9, "totalReviewCount": len(reviews)},
                      ensure_ascii=False).encode("utf-8")


def mention_id(store, fragment: str) -> int:
    [row] = [m for m in store.rows(MentionRow) if fragment in m.text]
    return row.id


def test_a_review_edited_then_deleted_keeps_each_version_its_payload_and_a_tombstone(tmp_path, db_url, clock):
    with ReplayServer("google_business") as server:
        cfg = config_file(tmp_path, server, db_url)
        app = App(load_config(cfg, env=server.env), scorer=FakeScorer(), clock=clock)
        try:
            assert app.poll_source("gb").new == 5
            store = app.store
            first = mention_id(store, "態度很差")
            ev = store.mention_evidence(first)
            [(version, fetch)] = ev.fetches
            served = fixture_bytes("google_business", "page1.json")
            assert version == 1 and fetch.sha256 == hashlib.sha256(served).hexdigest()
            assert store.payload(fetch.sha256) == served  # the bytes as the server sent them
            assert fetch.url.endswith(REVIEWS + "?pageSize=50&orderBy=updateTime+desc")
            assert fetch.fetched_at == T0 and fetch.status == 200
            assert dict(json.loads(fetch.headers))["content-type"].startswith("application/json")
            page2 = mention_id(store, "rude and dismissive")  # from the second page: its own payload
            assert store.mention_evidence(page2).fetches[0][1].sha256 == hashlib.sha256(
                fixture_bytes("google_business", "page2.json")).hexdigest()
            payloads = store.rows(PayloadRow, order_by=PayloadRow.sha256)
            assert len(payloads) == 2  # five mentions, two pages: each body stored once
            assert all(b"access_token" not in store.payload(p.sha256) for p in payloads)  # the token POST: never

            clock.advance(timedelta(minutes=15))
            edited = {**FIRST, "comment": EDITED, "starRating": "TWO", "updateTime": "2026-11-22T10:05:00Z"}
            body2 = page([edited, *PAGE1["reviews"][1:]])
            server.override(200, body2, "application/json", {"Set-Cookie": "sid=s3cret", "X-Request-Id": "r-2"})
            assert app.poll_source("gb").edited == 1
            ev = store.mention_evidence(first)
            assert [v.text for v in ev.versions] == [FIRST["comment"]] and ev.mention.text == EDITED
            assert [(v, f.sha256) for v, f in ev.fetches] == [(1, fetch.sha256), (2, hashlib.sha256(body2).hexdigest())]
            headers = dict(json.loads(ev.fetches[1][1].headers))
            assert headers["x-request-id"] == "r-2" and "set-cookie" not in headers  # no cookies, no credentials

            clock.advance(timedelta(minutes=15))
            body3 = page(PAGE1["reviews"][1:])  # the review is gone from the listing
            server.override(200, body3, "application/json")
            app.poll_source("gb")
            [tomb] = store.rows(TombstoneRow)
            assert (tomb.mention_id, tomb.how, tomb.removed_at, tomb.restored_at) == (first, "listing", T0 + timedelta(
                minutes=30), None)
            assert store.payload(store.get(FetchRow, tomb.fetch_id).sha256) == body3  # the listing without it
            ev = store.mention_evidence(first)
            assert ev.mention.text == EDITED and ev.current_version == 2  # the last copy is kept
            # the older reviews are outside the range the page covers: not tombstoned
            app.poll_source("gb")
            assert len(store.rows(TombstoneRow)) == 1  # once, however often the listing is read again
            assert main(["evidence", "show", f"mention:{first}", "--config", str(cfg)]) == 0

            clock.advance(timedelta(minutes=15))
            server.override(200, body2, "application/json")  # listed again
            app.poll_source("gb")
            assert store.get(TombstoneRow, tomb.id).restored_at == T0 + timedelta(minutes=45)
        finally:
            app.close()


def test_evidence_show_prints_the_tombstone_with_the_last_copy(tmp_path, clock, capsys):
    with ReplayServer("google_business") as server:
        cfg = config_file(tmp_path, server, f"sqlite:///{tmp_path / 'rw.db'}")
        app = App(load_config(cfg, env=server.env), scorer=FakeScorer(), clock=clock)
        try:
            app.poll_source("gb")
            first = mention_id(app.store, "態度很差")
            server.override(200, page(PAGE1["reviews"][1:]), "application/json")
            app.poll_source("gb")
        finally:
            app.close()
    capsys.readouterr()
    assert main(["evidence", "show", f"mention:{first}", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert f"# Mention #{first} (gb)" in out and "- status: REMOVED since 2026-11-22T10:00:00Z" in out
    assert "## Version 1 (last copy)" in out and FIRST["comment"] in out
    assert "(listing): absent from the source's listing, complete for items published after 2026-11-21" in out
    assert "評論者1" not in out  # the author is withheld unless --unmasked


NEW = [  # three fresh one-star reviews within the hour: a negative burst
    ("n1", "林志明醫師態度很差,問兩句就不耐煩,請大家小心。我的電話0912-345-678,診所都不回。"),
    ("n2", "林志明醫師看診三分鐘就趕人,態度很差,根本不聽病人說話。"),
    ("n3", "Dr. Lin was rude, 態度很差, and the clinic ignored my complaint."),
]


def test_an_export_of_a_replayed_incident_verifies_hash_by_hash_and_a_changed_byte_fails(tmp_path, clock, receiver,
                                                                                         capsys):
    rules = '\n[[rules]]\nid = "burst"\nroute = "legal"\nentities = ["dr-lin"]\nmin_negative = 3\nwindow = "1h"\n'
    with ReplayServer("google_business") as server:
        cfg = config_file(tmp_path, server, f"sqlite:///{tmp_path / 'rw.db'}", rules,
                          f"json://127.0.0.1:{receiver.port}/legal")
        config = load_config(cfg, env=server.env)
        connected_before(config, T0 - timedelta(hours=1))  # a live poll, not history
        reviews = [{**FIRST, "name": f"accounts/108123/locations/4455667788/reviews/{g}", "reviewId": g,
                    "comment": text, "createTime": f"2026-11-22T09:{40 + k}:00Z",
                    "updateTime": f"2026-11-22T09:{40 + k}:00Z"} for k, (g, text) in enumerate(NEW)]
        served = page(reviews[::-1])
        server.override(200, served, "application/json")
        app = App(config, scorer=FakeScorer({"態度很差": 0.96}), clock=clock)
        try:
            app.cycle()
            [incident] = app.store.incidents()
            assert len(incident.mention_id_list) == 3
        finally:
            app.close()
    assert receiver.wait_for(1, timeout=10)
    out = tmp_path / "incident-1.zip"
    capsys.readouterr()
    assert main(["evidence", "export", f"incident:{incident.id}", "--out", str(out), "--by", "Amy Chen (法務)",
                 "--config", str(cfg)]) == 0
    assert "SHA-256" in capsys.readouterr().out

    with zipfile.ZipFile(out) as z:  # every hash recomputed here, without repwatch's verify
        manifest = json.loads(z.read("manifest.json"))
        files = {f["path"]: f for f in manifest["files"]}
        assert set(z.namelist()) == set(files) | {"manifest.json"}
        for name, entry in files.items():
            body = z.read(name)
            assert hashlib.sha256(body).hexdigest() == entry["sha256"] and len(body) == entry["size"], name
        digest = hashlib.sha256(served).hexdigest()
        assert z.read(f"payloads/{digest}.bin") == served  # the page exactly as served
        assert [f["sha256"] for f in manifest["fetches"]] == [digest] and manifest["fetches"][0]["body_kept"]
        ids = sorted(incident.mention_id_list)
        assert manifest["mentions"] == ids and manifest["subject"] == f"incident {incident.id}"
        phone = [i for i in ids if "0912-345-678" in z.read(f"mentions/{i}/unmasked.md").decode()]
        assert len(phone) == 1 and "0912-345-678" not in z.read(f"mentions/{phone[0]}/masked.md").decode()
        custody = z.read("CUSTODY.md").decode()
        assert "Amy Chen (法務)" in custody and "刑法第310條" in custody and "sha256sum" in custody
        assert f"repwatch {__version__}" in custody and manifest["exported_at"] in custody
    whole = hashlib.sha256(out.read_bytes()).hexdigest()
    assert (tmp_path / "incident-1.zip.sha256").read_text() == f"{whole}  incident-1.zip\n"
    assert main(["evidence", "verify", str(out)]) == 0
    assert f"{out}: OK, {len(files)} files match the manifest" in capsys.readouterr().out

    changed = tmp_path / "changed.zip"  # one byte of the raw payload, the zip rewritten around it
    buf = io.BytesIO()
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == f"payloads/{digest}.bin":
                body = body.replace("小心".encode(), "放心".encode(), 1)
            dst.writestr(info, body)
    changed.write_bytes(buf.getvalue())
    assert main(["evidence", "verify", str(changed)]) == 1
    report = capsys.readouterr().out
    assert f"FAIL payloads/{digest}.bin: SHA-256" in report and "not named by its own hash" in report

    flipped = bytearray(out.read_bytes())  # one byte of the zip file itself, its .sha256 beside it
    flipped[len(flipped) // 2] ^= 0x01
    out.write_bytes(bytes(flipped))
    assert main(["evidence", "verify", str(out)]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_what_a_fetch_keeps_never_holds_credentials_and_is_capped():
    import httpx

    from connectors.evidence import Recorder, kept_headers, redacted_url
    from connectors.http import HttpResponse

    assert redacted_url("https://u:pw@maps.example/api?place=1&key=AIzaSECRET&access_token=t0k") == (
        "https://maps.example/api?place=1&key=REDACTED&access_token=REDACTED")
    headers = httpx.Headers([("Set-Cookie", "a=1"), ("Content-Type", "text/html"), ("X-Api-Key", "k"),
                             ("WWW-Authenticate", "Bearer"), ("X-Session-Id", "s"), ("ETag", '"e"')])
    assert kept_headers(headers) == (("content-type", "text/html"), ("etag", '"e"'))
    rec = Recorder(lambda: T0, cap=10)
    listing, article = HttpResponse(200, headers, b"12345678", "https://p.example/l"), HttpResponse(
        200, headers, b"abcdefgh", "https://p.example/a")
    rec.saw(listing, 0)
    rec.saw(article, 0)  # a second-level read (PTT's articles): the mention made after it is its own
    made = (Mention("p", "t", "x", guid="1"), Mention("p", "t", "y", guid="2"))
    rec.saw(HttpResponse(200, headers, b"zz", "https://p.example/b"), 1)
    result = rec.attach(FetchResult("ok", mentions=made), "p")
    assert [(r.url, r.body, r.fingerprints) for r in result.raw] == [
        ("https://p.example/a", None, frozenset({made[0].fingerprint})),  # over the cap: its hash only
        ("https://p.example/b", b"zz", frozenset({made[1].fingerprint}))]
    assert result.raw[0].sha256 == hashlib.sha256(b"abcdefgh").hexdigest() and result.listing is None


def test_a_listing_read_part_way_tombstones_nothing(tmp_path, clock, sleeps):
    with ReplayServer("google_business") as server:
        cfg = config_file(tmp_path, server, f"sqlite:///{tmp_path / 'rw.db'}")
        app = App(load_config(cfg, env=server.env), scorer=FakeScorer(), clock=clock, policy=HttpPolicy(sleep=sleeps))
        try:
            assert app.poll_source("gb").new == 5
            fresh = {**FIRST, "name": "accounts/108123/locations/4455667788/reviews/New1", "reviewId": "New1",
                     "comment": "新的評論", "updateTime": "2026-11-22T09:00:00Z", "createTime": "2026-11-22T09:00:00Z"}
            body = json.loads(page([fresh]))  # only new reviews on page 1: the rest is on page 2, which fails
            server.override(200, json.dumps({**body, "nextPageToken": PAGE1["nextPageToken"]}), "application/json")
            server.override(500, "oops", "text/plain", route="page2.json")
            report = app.poll_source("gb")
            assert (report.status, report.new) == ("ok", 1) and any("failed" in w for w in report.warnings)
            assert app.store.rows(TombstoneRow) == []  # page 1 lacks the old reviews, but the listing is not complete
        finally:
            app.close()
