"""The dashboard's defence features (issue 18 items 1, 2 and 5 on the pages of issue 17),
against the real app on a real SQLite file through Starlette's TestClient: a mention that
exposes a patient is shown to admins only (page, JSON API, CSV), and a responder's reply
editor (draft from the templates, the linter on the edited text, CSRF and roles)."""
from __future__ import annotations

import csv
import html
import io
import re

import pytest
from argon2 import PasswordHasher
from markupsafe import escape

from monitor.app import App
from monitor.config import load_config
from monitor.defence.lint import check_text
from monitor.defence.phi import is_restricted, restricted_note
from monitor.defence.replies import draft
from monitor.matching import Match
from monitor.mention import Mention
from monitor.web.users import Users, users_file
from tests.conftest import write_config
from tests.test_web import PASSWORD, client, csrf_of, sign_in
from tests.test_workflow import ENV, config_text

CONTACT = "02-2345-6789"
PHI_POST = "仁心診所的櫃台把病人王小明的身分證 A123456789 跟電話 0912-345-678 貼在門口,大家都看得到"
AUTHOR = "陳大文 (@chen.tw)"


def _app(tmp_path, clock, receiver, fake_scorer, defence: str) -> App:
    path = write_config(tmp_path, config_text(tmp_path / "web.db", receiver) + defence)
    a = App(load_config(path, env=ENV), scorer=fake_scorer, clock=clock)
    users = Users(users_file(a.config), PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    users.add("viewer1", PASSWORD, "viewer")
    users.add("resp1", PASSWORD, "responder")
    users.add("admin1", PASSWORD, "admin")
    return a


@pytest.fixture
def app(tmp_path, clock, receiver, fake_scorer):
    a = _app(tmp_path, clock, receiver, fake_scorer, f'\n[defence]\ncontact = "{CONTACT}"\n')
    yield a
    a.close()


def add(app, clock, title, text, entity="dr-lin", cause=None, n=[0]) -> int:
    n[0] += 1
    m = Mention("ga", title, text, url=f"https://forum.example.tw/t/{n[0]}", published_at=clock.now(), author=AUTHOR)
    ids = app.store.add_mentions([(m, [Match(entity, entity)])], clock.now())
    app.store.save_scores([(ids[0], "negative", 0.9, 0.9)], "test", clock.now())
    if cause:
        app.store.label_mention(ids[0], "negative", [cause], "resp1", clock.now())
    return ids[0]


def _cells(page: str, mention_id: int) -> str:
    return re.search(rf'<tr data-mention="{mention_id}">(.*?)</tr>', page, re.S).group(1)


# -- restricted mentions -------------------------------------------------------------------------

def test_restricted_mention_text_is_for_admins_only_on_the_page_api_and_csv(app, clock):
    assert is_restricted("櫃台貼出病人資料", PHI_POST)
    secret = add(app, clock, "櫃台貼出病人資料", PHI_POST, entity="renxin")
    plain = add(app, clock, "林志明 看診很差", "等了兩小時 0912-345-678")
    note = restricted_note("en")
    for name in ("viewer1", "resp1"):
        c = sign_in(client(app), name)
        row = _cells(c.get("/mentions").text, secret)
        assert str(escape(note)) in row and "王小明" not in row and "櫃台" not in row and "[ID]" not in row
        assert "看診很差" in _cells(c.get("/mentions").text, plain)  # the others are shown as before
        body = {m["id"]: m for m in c.get("/api/mentions").json()["mentions"]}
        assert body[secret]["restricted"] is True and body[secret]["text"] is None and body[secret]["title"] is None
        assert body[plain]["restricted"] is False and "看診很差" in body[plain]["title"]
        r = c.get("/mentions.csv")
        assert "王小明" not in r.text and "A123" not in r.text and "櫃台" not in r.text
        rows = {int(r["id"]): r for r in csv.DictReader(io.StringIO(r.text.lstrip("\ufeff")))}
        assert rows[secret]["text"] == note and rows[secret]["title"] == ""
        assert rows[plain]["title"].startswith("林志明") and "[phone]" in rows[plain]["text"]
    zh = sign_in(client(app), "viewer1")
    page = zh.get("/mentions", headers={"accept-language": "zh-TW"}).text
    assert restricted_note("zh-TW") in _cells(page, secret)
    admin = sign_in(client(app), "admin1")
    row = _cells(admin.get("/mentions").text, secret)
    assert "王小明" in row and "櫃台貼出病人資料" in row and "A123456789" not in row and "[ID]" in row  # masked
    assert "restricted (exposes a patient; admins only)" in row
    body = {m["id"]: m for m in admin.get("/api/mentions").json()["mentions"]}
    assert body[secret]["restricted"] is True and "王小明" in body[secret]["text"] and "[ID]" in body[secret]["text"]
    rows = {int(r["id"]): r for r in csv.DictReader(io.StringIO(admin.get("/mentions.csv").text.lstrip("\ufeff")))}
    assert "王小明" in rows[secret]["text"] and rows[secret]["title"] == "櫃台貼出病人資料"


# -- reply drafts and the editor -----------------------------------------------------------------

def _textarea(page: str) -> str:
    return html.unescape(re.search(r'<textarea id="reply" name="text"[^>]*>(.*?)</textarea>', page, re.S).group(1))


def test_responder_drafts_a_reply_that_passes_the_linter(app, clock):
    zh = add(app, clock, "林志明 收費不清楚", "掛號費多收了兩百元,櫃台還很兇", cause="billing")
    en = add(app, clock, "Dr Lin overcharged me", "The bill was twice the quote and nobody explained why")
    c = sign_in(client(app))
    listing = c.get("/mentions").text
    assert f'action="/mentions/{zh}/reply"' in _cells(listing, zh)
    r = c.post(f"/mentions/{zh}/reply", data={"csrf": csrf_of(listing)})
    assert r.status_code == 200, r.text
    text = _textarea(r.text)
    expected = draft("林志明 收費不清楚\n掛號費多收了兩百元,櫃台還很兇", language="", causes=["billing"],
                     entity_name="林志明醫師", contact=CONTACT)
    assert text == expected.text and expected.template_id == "zh-TW/billing" and expected.flags == ()
    assert "林志明醫師" in text and CONTACT in text and check_text(text)[0] == 0
    assert 'data-state="clean"' in r.text and 'id="lint" class="ok" data-flags="0"' in r.text
    assert "zh-TW/billing" in r.text and AUTHOR not in r.text and "陳大文" not in r.text and "chen.tw" not in r.text
    r = c.post(f"/mentions/{en}/reply", data={"csrf": csrf_of(listing)})
    text = _textarea(r.text)
    assert r.status_code == 200 and "en/generic" in r.text and CONTACT in text and check_text(text)[0] == 0
    assert not re.search(r"[\u4e00-\u9fff]", text.replace("林志明醫師", ""))  # an English reply
    assert c.post("/mentions/99999/reply", data={"csrf": csrf_of(listing)}).status_code == 404


def test_the_editor_shows_each_flag_with_its_span_and_reason_escaped(app, clock):
    mid = add(app, clock, "林志明 治療沒效", "花了很多錢還是沒好", cause="outcome")
    c = sign_in(client(app))
    token = csrf_of(c.get("/mentions").text)
    edited = f"<script>alert(1)</script>感謝您的意見,我們保證根治,請來電 {CONTACT}。"
    r = c.post(f"/mentions/{mid}/reply/check", data={"csrf": token, "text": edited})
    assert r.status_code == 200 and 'data-state="flagged"' in r.text and "no flags" not in r.text
    assert "<script>alert(1)" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert _textarea(r.text) == edited  # the edited text comes back for the next edit
    expected = check_text(edited, allow=[CONTACT])[2]["flags"]
    shown = re.findall(r'<tr data-rule="([^"]+)" data-span="(\d+)-(\d+)">', r.text)
    assert shown == [(f["rule"], str(f["span"][0]), str(f["span"][1])) for f in expected]
    assert {rule for rule, _, _ in shown} == {"absolute-claim"}
    for rule, start, end in shown:
        assert "保證" in edited[int(start):int(end)] or "根治" in edited[int(start):int(end)]
    assert str(escape("It makes an absolute or efficacy claim")) in r.text
    en = "Thanks for writing. I remember when you visited us last spring; please call " + CONTACT + "."
    r = c.post(f"/mentions/{mid}/reply/check", data={"csrf": token, "text": en})
    assert 'data-state="flagged"' in r.text and 'data-flags="1"' in r.text
    start, end = map(int, re.search(r'data-rule="patient-confirmation" data-span="(\d+)-(\d+)"', r.text).groups())
    assert en[start:end].startswith("when you visited") and "It confirms that the writer" in r.text
    clean = f"感謝您的意見。請來電 {CONTACT},林志明醫師會與您聯繫。"
    r = c.post(f"/mentions/{mid}/reply/check", data={"csrf": token, "text": clean})
    assert 'data-state="clean"' in r.text and 'data-flags="0"' in r.text and "data-rule=" not in r.text
    assert c.post(f"/mentions/{mid}/reply/check", data={"csrf": token, "text": "  "}).status_code == 400
    assert c.post(f"/mentions/{mid}/reply/check", data={"csrf": token, "text": "好" * 5001}).status_code == 400


def test_reply_needs_the_csrf_token_and_a_responder(app, clock):
    mid = add(app, clock, "林志明 很差", "態度很差", cause="attitude")
    responder = sign_in(client(app))
    for path in (f"/mentions/{mid}/reply", f"/mentions/{mid}/reply/check"):
        assert responder.post(path, data={"text": "感謝您"}).status_code == 403
        assert responder.post(path, data={"csrf": "forged", "text": "感謝您"}).status_code == 403
    viewer = sign_in(client(app), "viewer1")
    listing = viewer.get("/mentions").text
    assert "/reply" not in listing
    for path in (f"/mentions/{mid}/reply", f"/mentions/{mid}/reply/check"):
        r = viewer.post(path, data={"csrf": csrf_of(listing), "text": "感謝您"})
        assert r.status_code == 403 and "responder" in r.text
    assert client(app).post(f"/mentions/{mid}/reply", data={"csrf": "x"}).status_code == 303  # to the login


def test_a_flagged_template_is_never_shown_as_clean(tmp_path, clock, receiver, fake_scorer):
    folder = tmp_path / "tpl" / "zh-TW"
    folder.mkdir(parents=True)
    (folder / "billing.txt").write_text("感謝您。我們保證根治,並會全額退款,請撥 {contact}。{entity}", encoding="utf-8")
    a = _app(tmp_path, clock, receiver, fake_scorer, f'\n[defence]\ntemplates = "tpl"\ncontact = "{CONTACT}"\n')
    try:
        mid = add(a, clock, "林志明 收費亂來", "多收錢", cause="billing")
        c = sign_in(client(a))
        r = c.post(f"/mentions/{mid}/reply", data={"csrf": csrf_of(c.get("/mentions").text)})
        assert r.status_code == 200 and 'data-state="flagged"' in r.text and "no flags" not in r.text
        assert "custom:zh-TW/billing" in r.text
        assert set(re.findall(r'data-rule="([^"]+)"', r.text)) == {"absolute-claim", "compensation-promise"}
    finally:
        a.close()


def test_a_draft_needs_the_contact_channel(tmp_path, clock, receiver, fake_scorer):
    a = _app(tmp_path, clock, receiver, fake_scorer, "")
    try:
        mid = add(a, clock, "林志明 很差", "態度很差")
        c = sign_in(client(a))
        r = c.post(f"/mentions/{mid}/reply", data={"csrf": csrf_of(c.get("/mentions").text)})
        assert r.status_code == 409 and "[defence] contact is not set" in r.text
    finally:
        a.close()
