"""Extortion and third-party PHI exposure (issue 18 items 4 and 5): the detectors, the
labelled extortion set and its frozen test split, and both alert kinds replayed through the
real pipeline (a real SQLite file, the injected clock, apprise posting to a local receiver):
one page to the kind's own route with its evidence, none for ordinary money complaints, and
a restricted mention whose text no page or CLI listing shows."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.alerting.facts import ExtortionFacts, PhiExposureFacts, dump_facts, parse_facts
from monitor.app import App
from monitor.cli import main
from monitor.config import load_config
from monitor.defence.extortion import detect_extortion
from monitor.defence.phi import detect_phi_exposure, is_restricted
from monitor.matching import Match
from monitor.mention import Mention
from monitor.store import AlertRow
from tests.conftest import write_config

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
[storage]
url = "sqlite:///{db}"

[daemon]
ops_route = "ops"
listen = ""

[[entities]]
id = "renxin"
name = "仁心診所"
kind = "clinic"

[[routes]]
id = "ops"
language = "en"
notify = ["{ops}"]

[[routes]]
id = "crisis"
notify = ["{crisis}"]
matchers = ['severity="critical"']
group_wait = "30s"

[[routes]]
id = "legal"
notify = ["{legal}"]
group_wait = "30s"

[[routes]]
id = "privacy-officer"
language = "en"
notify = ["{privacy}"]
group_wait = "30s"

[[rules]]
id = "negative-burst"
min_negative = 3
window = "1h"

[[rules]]
id = "extortion"
kind = "extortion"
route = "legal"

[[rules]]
id = "phi-exposure"
kind = "phi-exposure"
route = "privacy-officer"
"""

EXTORTION = "仁心診所你們聽好,付錢刪評,一則五千,不付我就每天來留一星。有事打 0912-345-678 找我。"
MONEY_COMPLAINTS = [
    "仁心診所收費簡直是勒索,一顆牙收兩萬。",
    "在仁心診所付了三千塊結果什麼都沒改善,要求退費也不理。",
    "仁心診所 They offered me a $50 credit if I took down my review. No thanks.",
    "仁心診所: if they don't refund me, I'll take them to small claims court.",
]
PHI_POST = "仁心診所的櫃台把病人王小明的身分證 A123456789 跟電話 0912-345-678 貼在門口,大家都看得到"
PHI_VALUES = ("王小明", "A123456789", "0912-345-678", "0912345678")


@pytest.fixture
def app(tmp_path, clock, receiver, fake_scorer):
    body = CONFIG.format(db=tmp_path / "d.db", ops=receiver.url("/ops"), crisis=receiver.url("/crisis"),
                         legal=receiver.url("/legal"), privacy=receiver.url("/privacy"))
    app = App(load_config(write_config(tmp_path, body)), scorer=fake_scorer, clock=clock)
    yield app
    app.close()


def store_mention(app, clock, text: str, neg: float, n=[0]) -> int:
    n[0] += 1
    m = Mention("ga", "", text, url=f"https://forum.example.tw/t/{n[0]}", published_at=clock.now())
    mention_id = app.store.add_mentions([(m, [Match("renxin", "仁心診所")])], clock.now())[0]
    app.store.save_scores([(mention_id, "negative" if neg >= 0.5 else "neutral", max(neg, 1 - neg), neg)], "test",
                          clock.now())
    return mention_id


def run_until_paged(app, clock, receiver, path: str) -> dict:
    app.process()
    clock.advance(timedelta(seconds=30))
    app.process()
    assert receiver.wait_for(1, 5)
    pages = receiver.at(path)
    assert len(pages) == 1, [p["title"] for p in receiver.received]
    return pages[0]


def kinds(app) -> list[str]:
    return sorted(json.loads(a.labels)["kind"] for a in app.store.rows(AlertRow))


# --------------------------------------------------------------------------- extortion


def test_extortion_pages_its_own_route_with_the_evidence_and_money_complaints_page_nothing(app, clock, receiver):
    for text in MONEY_COMPLAINTS[:2]:  # two negative complaints: under the burst's three
        store_mention(app, clock, text, 0.9)
    for text in MONEY_COMPLAINTS[2:]:
        store_mention(app, clock, text, 0.3)
    app.process()
    assert kinds(app) == []  # ordinary complaints that mention money raise no extortion alert
    mention_id = store_mention(app, clock, EXTORTION, 0.2)  # the model need not call it negative
    page = run_until_paged(app, clock, receiver, "/legal")
    assert kinds(app) == ["extortion"]
    assert receiver.at("/crisis") == [] and receiver.at("/privacy") == []
    assert page["title"] == "[repwatch] 仁心診所:疑似勒索:付費刪文或威脅"
    message = page["message"]
    assert f"證據:提及 #{mention_id}" in message
    assert "關鍵語句:「付錢刪評,一則五千,不付我就每天來留」" in message and "付費刪評服務" in message
    assert "摘錄(已遮蔽個資):" in message and "[phone]" in message
    assert "0912-345-678" not in message and "0912345678" not in message
    facts = parse_facts(app.store.rows(AlertRow)[0].detail, "extortion")
    assert facts == ExtortionFacts("removal-service", ("付錢刪評,一則五千,不付我就每天來留",), (mention_id,), facts.excerpt)
    assert "[phone]" in facts.excerpt and "0912" not in facts.excerpt
    clock.advance(timedelta(minutes=5))
    app.process()
    assert len(receiver.at("/legal")) == 1 and kinds(app) == ["extortion"]  # each mention pages once


def test_a_detector_that_fails_holds_back_no_other_rules_page(app, clock, receiver, monkeypatch, caplog):
    """The extortion gate needs its encoder; when it cannot run, the burst still pages and
    the log names the rule."""
    from monitor.alerting import defence

    def broken(text):
        raise RuntimeError("encoder unavailable")

    monkeypatch.setattr(defence, "detect_extortion", broken)
    for text in MONEY_COMPLAINTS[:3]:
        store_mention(app, clock, text, 0.9)  # three negatives: the burst
    with caplog.at_level("ERROR"):
        page = run_until_paged(app, clock, receiver, "/crisis")
    assert "仁心診所" in page["title"] and kinds(app) == ["burst"]
    assert any("rule extortion (extortion): its detector failed" in r.getMessage() for r in caplog.records)


def test_each_mention_of_the_window_is_examined_once_however_many_runs_read_it(app, clock, receiver, monkeypatch):
    """The window is read every processing run; the detector (the gate encodes a text) runs
    once per mention and text, and again only for an edited text."""
    from monitor.alerting import defence

    calls = []
    real = defence.detect_extortion
    monkeypatch.setattr(defence, "detect_extortion", lambda text: calls.append(text) or real(text))
    for text in MONEY_COMPLAINTS:
        store_mention(app, clock, text, 0.3)
    app.process()
    examined = len(calls)
    assert examined == len(MONEY_COMPLAINTS)
    for _ in range(3):
        clock.advance(timedelta(seconds=10))
        app.process()
    assert len(calls) == examined and kinds(app) == []
    store_mention(app, clock, MONEY_COMPLAINTS[0] + " again", 0.3)
    app.process()
    assert len(calls) == examined + 1  # only the new one


@pytest.mark.parametrize("text,frame", [
    ("付錢刪評,一則五千,不付我就每天來留一星。", "removal-service"),
    ("退我一萬二,我就把Google評論撤掉,不然等著看更多一星。", "pay-to-delete"),
    ("不處理就繼續發,每天發,發到你們倒為止。", "threat"),
    ("Hi Dr. Chen, we can remove negative Google reviews for $250 per review.", "removal-service"),
    ("Refund my $1,200 and I'll delete this review.", "pay-to-delete"),
    ("remove the review for $ 350, thats my offer", "pay-to-delete"),
    ("Give me $2k or I'll keep leaving 1 star reviews with new accounts every day.", "threat"),
])
def test_extortion_frames(text, frame):
    found = detect_extortion(text)
    assert found is not None and found.frame == frame
    assert all(p in text for p in found.phrases)  # evidence as written


@pytest.mark.parametrize("text", [
    "I paid $300 and got nothing.", "Their prices are extortionate. $90 for a blood test?",
    "收費簡直是勒索,一顆牙收兩萬。", "如果不退費,我會向衛生局檢舉。", "他們竟然要我刪評才願意退費,這種診所太可怕。",
    "The clinic offered to waive the fee if I removed my 1-star review. I refused.",
    "我的評論被刪掉了,所以再發一次:這家診所亂收費。", "我不會刪文,這是我付了八千塊的真實經驗。",
    "I'll remove this review once they actually call me back and explain the charges.",
    "勒索", "extortion", "$$$",
])
def test_money_complaints_and_single_keywords_are_not_extortion(text):
    assert detect_extortion(text) is None


def _bench():
    spec = importlib.util.spec_from_file_location("extortion_eval", ROOT / "bench" / "extortion_eval.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("extortion_eval", module)
    spec.loader.exec_module(sys.modules["extortion_eval"])
    return sys.modules["extortion_eval"]


def test_labelled_extortion_set_shape_and_hash_split():
    bench = _bench()
    train, test = bench.load("train"), bench.load("test")
    rows = train + test
    assert len(rows) >= 150 and len({r["id"] for r in rows}) == len(rows)
    for lang in ("zh-TW", "en"):
        for label in ("extortion", "ordinary"):
            assert sum(r["lang"] == lang and r["label"] == label for r in test) >= 15
    for row in rows:
        assert row["lang"] in ("zh-TW", "en") and row["label"] in ("extortion", "ordinary") and row["text"].strip()
        assert row["author"] == {"ex": "helper-h4", "xt": "helper-xt", "xc": "helper-xc", "xd": "helper-xd",
                                 "xe": "helper-xe"}[row["id"][:2]]
    assert {r["author"] for r in test} == {"helper-h4"}  # later authors' rows went to train only
    for author in ("helper-h4", "helper-xt", "helper-xc", "helper-xd", "helper-xe"):  # each author wrote both labels in both languages
        mine = [r for r in train if r["author"] == author]
        assert {(r["lang"], r["label"]) for r in mine} == {(l, k) for l in ("zh-TW", "en") for k in ("extortion", "ordinary")}
    in_test = {r["id"] for r in test}
    for row in rows:  # helper-h4's batch 1 split by hash; later batches went to train only
        if row["author"] == "helper-h4" and row.get("batch", 1) == 1:
            assert (hashlib.sha256(row["id"].encode()).digest()[0] < 77) == (row["id"] in in_test)
        else:
            assert row["id"] not in in_test


def test_extortion_gate_is_fitted_on_the_whole_train_split_and_scores_it():
    """The shipped gate saw every train row (and other writers' ordinary text); its thresholds
    keep 95 % (stack) and 90 % (domain part) of the extortion rows on out-of-author scores, so
    train itself is not 1.0."""
    from monitor.defence.extortion_gate import default_gate

    train = _bench().load("train")
    trained_on = default_gate().meta["trained_on"]
    assert trained_on["rows"] == len(train) and trained_on["extortion"] == sum(r["label"] == "extortion" for r in train)
    assert trained_on["authors"] == ["helper-h4", "helper-xc", "helper-xd", "helper-xe", "helper-xt"]
    assert trained_on["corpus_rows"] >= 1000
    scores, _ = _bench().score(train)
    assert scores["all"].recall >= 0.94 and scores["all"].precision >= 0.98
    for lang in ("zh-TW", "en"):
        assert scores[lang].recall >= 0.94 and scores[lang].false_alerts <= 5


def test_extortion_leave_one_author_out_floor():
    """Refitted without each author, the prefilter and gate still find most of that author's
    extortion rows with few false alerts: the figure that predicts a new writer (data README;
    a floor a few rows below the measured one)."""
    scores = _bench().cross_author()
    assert set(scores) == {"helper-h4", "helper-xc", "helper-xd", "helper-xe", "helper-xt"}
    for author, by_lang in scores.items():
        assert by_lang["all"].recall >= 0.74 and by_lang["all"].precision >= 0.80, author
    found = sum(s["all"].found for s in scores.values())
    raised = found + sum(s["all"].false_alerts for s in scores.values())
    assert found / sum(s["all"].extortion for s in scores.values()) >= 0.85 and found / raised >= 0.88


def test_extortion_prefilter_keeps_the_encoder_off_ordinary_mentions(monkeypatch):
    """Texts without any of the policy's money, removal, harm or service words never reach the
    encoder; one that has them is encoded once, and the verdict's evidence is as written."""
    from monitor.defence.extortion_gate import GATE_FILE, ExtortionGate

    gate = ExtortionGate.load(GATE_FILE)
    encoded = []
    real = gate.encoder()
    monkeypatch.setattr(gate, "encoder", lambda: type("Counting", (), {
        "encode": staticmethod(lambda texts: encoded.extend(texts) or real.encode(texts))})())
    for text in ("預約等了兩個小時,醫生態度很差。", "Great dentist, gentle and on time.", "勒索", "extortion",
                 "The nurse was kind and the wait was short."):
        assert detect_extortion(text, gate) is None
    assert encoded == []
    found = detect_extortion("Hi, it's Jess from Tuesday. Make it worth my while and this review vanishes.", gate)
    assert len(encoded) == 1 and found is not None and found.frame == "pay-to-delete"
    assert found.phrases and all(p in "Hi, it's Jess from Tuesday. Make it worth my while and this review vanishes."
                                 for p in found.phrases)


# --------------------------------------------------------------------------- PHI exposure


@pytest.mark.parametrize("text,exposed", [
    (PHI_POST, ("ID", "phone")),
    ("I saw the front desk post Jane Doe's phone 0912 345 678 on Facebook", ("phone",)),
    ("陳OO 身分證F223456789,就是那個在仁心診所做隆鼻的", ("ID",)),
    ("病患陳OO 的病歷號 12345678 被貼在群組", ("chart no.",)),
])
def test_phi_exposure_next_to_a_name(text, exposed):
    found = detect_phi_exposure(text)
    assert found is not None and found.exposed == exposed


@pytest.mark.parametrize("text", [
    "打了仁心診所電話 02-2345-6789 都沒人接", "我的電話是0912345678,請診所回電", "林醫師 0912345678 私人手機",
    "Dr. Lin gave me his cell 0912 345 678", "The Sunshine Clinic phone 02 2345 6789 never answers",
    "王小明說醫生很親切", "病歷號 12345678 的資料被貼在群組",
])
def test_a_phone_alone_a_doctor_or_a_name_alone_is_no_exposure(text):
    assert detect_phi_exposure(text) is None


def test_phi_exposure_pages_the_privacy_officer_and_no_output_shows_the_post(app, clock, receiver, tmp_path, capsys):
    mention_id = store_mention(app, clock, PHI_POST, 0.9)
    page = run_until_paged(app, clock, receiver, "/privacy")
    assert kinds(app) == ["phi-exposure"]
    assert receiver.at("/legal") == [] and receiver.at("/crisis") == []
    message = page["title"] + page["message"]
    assert "patient data exposed" in page["title"]
    assert f"Evidence: mention #{mention_id}" in message and "(ID, phone)" in message
    assert "[restricted: this post exposes a patient's personal data; admins only]" in message
    for value in PHI_VALUES + ("門口",):  # not even the masked text
        assert value not in message
    detail = app.store.rows(AlertRow)[0].detail
    assert parse_facts(detail, "phi-exposure") == PhiExposureFacts(("ID", "phone"), 1, (mention_id,))
    assert not any(v in detail for v in PHI_VALUES)
    stored = app.store.get_mentions([mention_id])[0]
    assert stored.text == PHI_POST and is_restricted(stored.title, stored.text)  # the stored copy is kept

    config = app.config.path
    assert main(["mentions", "-c", config]) == 0
    listing = capsys.readouterr().out
    assert "[restricted: this post exposes a patient's personal data; admins only]" in listing
    assert main(["mentions", "-c", config, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["id"] == mention_id and rows[0]["restricted"] is True
    assert rows[0]["text"] is None and rows[0]["title"] is None
    for value in PHI_VALUES:
        assert value not in listing and not any(value in json.dumps(r, ensure_ascii=False) for r in rows)


def test_facts_round_trip():
    for facts in (ExtortionFacts("threat", ("不然", "繼續發"), (3,), "x"), PhiExposureFacts(("ID",), 2, (4, 5))):
        assert parse_facts(dump_facts(facts), facts.kind) == facts
