"""The shipped model on the crisis team's question, offline: the issue's own examples and the
frozen clinic-domain test split (monitor/sentiment/corpus/test.jsonl, never trained on).

The floors are the targets the README reports against; a head that falls below them fails here
before it ships."""
from __future__ import annotations

import json

import pytest

from monitor.sentiment.training.corpus import corpus_path, read_rows
from monitor.sentiment.training.evaluate import domain_report
from monitor.verdict import decide

pytestmark = pytest.mark.model

EXAMPLES = [
    ("醫師涉嫌性騷擾女病患，遭地檢署起訴", "negative"),
    ("仁心診所爆發院內感染，三名病患住院", "negative"),
    ("診所明天休診一天", "neutral"),
    ("避雷這間", "negative"),
    ("護理師很親切,不過掛號系統很難用", "negative"),
    ("I suffered from migraines for ten years and nothing worked. Dr. Lee found the right treatment and "
     "I have been pain free for six months. Thank you!", "positive"),
    ("痛了三年,看了好多醫生都沒用,直到遇到林醫師,現在終於可以好好睡覺了,真的很感謝", "positive"),
]
NOT_NEGATIVE = ["スタッフの対応が丁寧でした", "또 올게요", "그냥 보통이었어요"]


@pytest.fixture
def scorer(builtin_scorer):  # the session's built-in scorer (tests/conftest.py)
    return builtin_scorer


def verdict(scorer, text):
    return decide(text, None, scorer.score([text])[0]).label


@pytest.mark.parametrize("text,label", EXAMPLES)
def test_issue_examples(scorer, text, label):
    assert verdict(scorer, text) == label


@pytest.mark.parametrize("text", NOT_NEGATIVE)
def test_japanese_and_korean_praise_or_neutral_is_not_negative(scorer, text):
    assert verdict(scorer, text) != "negative"


def test_frozen_split_meets_the_targets(scorer):
    rows = read_rows(corpus_path("test.jsonl"))
    report = {line["group"]: line for line in domain_report(scorer, rows)}
    print(json.dumps(report, ensure_ascii=False, indent=1))
    assert report["lang=zh-TW"]["model_macro_f1"] >= 0.90
    assert report["lang=en"]["model_macro_f1"] >= 0.90
    assert report["kind=notice"]["model_notices_neutral"] >= 0.90
    ja, ko = report["lang=ja"], report["lang=ko"]
    praise = [line for line in report.values() if line["group"] in ("lang=ja", "lang=ko")]
    assert len(praise) == 2
    # ja/ko praise called negative, the two together (2 of 36 when the head was trained; Japanese
    # alone 2 of 18)
    called = sum(round(l["model_pos_called_neg"] * 18) for l in praise)
    assert called <= 0.10 * 36 and ja["model_pos_called_neg"] <= 0.12 and ko["model_pos_called_neg"] <= 0.10
