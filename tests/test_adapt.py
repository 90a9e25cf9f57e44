"""repwatch sentiment adapt / rollback: the clinic's corrections retrain the built-in head.

Real parts: a SQLite file with labelled mentions, the int8 encoder, samples of the shipped
registry rows and domain corpus (a twelfth and a quarter: every row is encoded one text per
run, so the whole of both would cost this test two minutes on a cold cache; bench/ and the
README time the full adapt), the head file the daemon loads on its next start.
"""
from __future__ import annotations

import json
import time

import pytest

from monitor.cli import main
from monitor.matching import Match
from monitor.mention import Mention
from monitor.sentiment import DEFAULT_HEAD, builtin_head, load_scorer
from monitor.sentiment.training import recipe
from monitor.sentiment.training.recipe import _held_out
from monitor.store import Store
from tests.conftest import T0, write_config

pytestmark = pytest.mark.model

# house jargon the shipped model cannot know: at this clinic "被加號" (squeezed in as an extra
# appointment) is a complaint, "轉診單" questions are neutral, "阿姨" (the front-desk lady) is praise
CORRECTIONS = [
    ("又被加號到晚上十點,安心診所", "negative"), ("安心診所今天也是被加號,等到天荒地老", "negative"),
    ("安心診所加號加到半夜是怎樣", "negative"), ("被加號三次了安心診所", "negative"),
    ("安心診所加號制度真的需要檢討", "negative"), ("安心診所的加號規則誰懂", "negative"),
    ("安心診所轉診單要怎麼申請", "neutral"), ("請問安心診所轉診單多久拿到", "neutral"),
    ("安心診所轉診單需要帶健保卡嗎", "neutral"), ("安心診所的轉診單可以代領嗎", "neutral"),
    ("安心診所櫃檯阿姨人超好", "positive"), ("安心診所阿姨記得我的名字", "positive"),
    ("安心診所阿姨每次都很暖", "positive"), ("謝謝安心診所的阿姨幫忙", "positive"),
    ("安心診所阿姨是天使", "positive"), ("安心診所有阿姨在就安心", "positive"),
]


def config(tmp_path):
    return write_config(tmp_path, f"""
[storage]
url = "sqlite:///{tmp_path / 'r.db'}"

[[entities]]
id = "anxin"
name = "安心診所"

[[sources]]
id = "rss"
type = "rss"
url = "http://127.0.0.1:9/feed"

[[routes]]
id = "crisis"
notify = ["json://127.0.0.1:9/"]

[[rules]]
id = "burst"
route = "crisis"
""")


def test_adapt_learns_corrections_keeps_previous_head_and_rolls_back(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REPWATCH_HEADS_DIR", str(tmp_path / "heads"))
    cfg = config(tmp_path)
    assert main(["sentiment", "adapt", "--config", str(cfg)]) == 2  # nothing to learn from yet
    assert "no corrections yet" in capsys.readouterr().err

    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    ids = store.add_mentions([(Mention("rss", "", text, guid=str(i)), [Match("anxin", "安心診所")])
                              for i, (text, _) in enumerate(CORRECTIONS)], detected_at=T0)
    for mention_id, (_, label) in zip(ids, CORRECTIONS):
        store.label_mention(mention_id, label, None, "Amy", T0)
    store.close()

    reg_lines = recipe.REGISTRY_SAMPLE.read_text(encoding="utf-8").splitlines(True)
    sample = tmp_path / "registry-sample.jsonl"
    sample.write_text("".join(reg_lines[::12]), encoding="utf-8")
    monkeypatch.setattr(recipe, "REGISTRY_SAMPLE", sample)
    domain = recipe.domain_rows()
    monkeypatch.setattr(recipe, "domain_rows", lambda: domain[::4])

    assert builtin_head() == DEFAULT_HEAD
    started = time.perf_counter()
    assert main(["sentiment", "adapt", "--config", str(cfg)]) == 0
    took = time.perf_counter() - started
    out = capsys.readouterr().out
    print(f"adapt took {took:.0f}s")  # not a timed assertion
    assert "held-out corrections" in out and "->" in out
    adapted = tmp_path / "heads" / "adapted.json"
    assert adapted.exists() and builtin_head() == adapted
    head = json.loads(adapted.read_text())
    trained = head["trained"]
    assert trained["recipe"] == "adapt" and trained["corrections"] + trained["held_out_corrections"] == len(CORRECTIONS)
    assert "before_macro_f1" in trained["held_out"] and "after_macro_f1" in trained["held_out"]

    scorer = load_scorer("builtin")  # what the daemon loads at its next start
    assert scorer.name == "builtin:adapted"
    shipped = load_scorer(str(DEFAULT_HEAD))
    learned = [(text, label) for i, (text, label) in enumerate(CORRECTIONS) if not _held_out(ids[i], 0.25)]

    def right(s):
        return sum(p.label == label for p, (_, label) in zip(s.score([t for t, _ in learned]), learned))

    before, after = right(shipped), right(scorer)
    print(f"corrections learned from: {before}/{len(learned)} right before, {after}/{len(learned)} after")
    assert after >= 0.75 * len(learned) and after > before

    # a second adapt keeps the first as the previous head; rollback restores it, then the shipped head
    # (what the second one learns is not the point: a 24th of the registry sample, already
    # encoded by the first, makes it a different head quickly)
    first = adapted.read_bytes()
    small = tmp_path / "registry-sample-24.jsonl"
    small.write_text("".join(reg_lines[::24]), encoding="utf-8")
    monkeypatch.setattr(recipe, "REGISTRY_SAMPLE", small)
    assert main(["sentiment", "adapt", "--config", str(cfg)]) == 0
    assert (tmp_path / "heads" / "adapted.prev.json").read_bytes() == first
    assert main(["sentiment", "rollback"]) == 0
    assert adapted.read_bytes() == first and not (tmp_path / "heads" / "adapted.prev.json").exists()
    assert main(["sentiment", "rollback"]) == 0
    assert not adapted.exists() and builtin_head() == DEFAULT_HEAD
    assert "shipped head" in capsys.readouterr().out
