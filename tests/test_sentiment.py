"""Sentiment backends. The transformers backend is exercised on a tiny BERT built and
saved inside the test (no hub); the built-in model is the real shipped one."""
import json

import pytest

from monitor.errors import ModelError
from monitor.sentiment import load_scorer
from monitor.text import clean_text
from monitor.sentiment.labels import map_labels
from monitor.sentiment.training.evaluate import metrics

torch = pytest.importorskip("torch")

WORDS = ["好", "差", "醫", "生", "診", "所", "等", "很", "久", "doctor", "good", "bad", "wait", "the", "was"]


def tiny_model(path, id2label, favour):
    """A 1-layer BERT whose classifier bias favours one class, saved with its tokenizer."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    path.mkdir()
    (path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tok = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True, tokenize_chinese_chars=True)
    cfg = BertConfig(vocab_size=len(WORDS) + 5, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=64, num_labels=len(id2label),
                     id2label=id2label, label2id={v: k for k, v in id2label.items()})
    torch.manual_seed(0)
    model = BertForSequenceClassification(cfg)
    with torch.no_grad():
        model.classifier.bias.zero_()
        model.classifier.bias[favour] = 8.0
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


STARS = {i: f"{i + 1} star" + ("s" if i else "") for i in range(5)}


@pytest.mark.parametrize("id2label,favour,expected", [
    (STARS, 0, "negative"), (STARS, 2, "neutral"), (STARS, 4, "positive"),
    ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, 1, "neutral"),
    ({0: "NEGATIVE", 1: "POSITIVE"}, 0, "negative"),
])
def test_transformers_backend_maps_labels(tmp_path, id2label, favour, expected):
    scorer = load_scorer(str(tiny_model(tmp_path / "m", id2label, favour)))
    scores = scorer.score(["醫生很好", "the doctor was bad", "等很久"])
    assert [s.label for s in scores] == [expected] * 3
    for s in scores:
        assert 0.0 <= s.negative <= 1.0 and s.score > 0.9
    if expected == "negative":
        assert all(s.negative > 0.9 for s in scores)


def test_star_probabilities_are_summed_per_class(tmp_path):
    path = tiny_model(tmp_path / "m", STARS, 0)
    scorer = load_scorer(str(path))
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok, model = AutoTokenizer.from_pretrained(path), AutoModelForSequenceClassification.from_pretrained(path)
    with torch.no_grad():
        probs = torch.softmax(model(**tok(["醫生很好"], return_tensors="pt")).logits, -1)[0]
    assert scorer.score(["醫生很好"])[0].negative == pytest.approx(float(probs[0] + probs[1]), abs=1e-5)


def test_unknown_labels_need_a_mapping():
    with pytest.raises(ModelError, match="cannot tell what model label 'joy' means"):
        map_labels({0: "joy", 1: "anger"})
    assert map_labels({0: "joy", 1: "anger"}, {"joy": "positive", "anger": "negative"}) == {0: "positive", 1: "negative"}
    assert map_labels({0: "負面", 1: "中性", 2: "正面"}) == {0: "negative", 1: "neutral", 2: "positive"}


def test_missing_or_broken_model_fails_at_start_naming_the_path(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_scorer(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="neither config.json .* nor head.json"):
        load_scorer(str(tmp_path / "empty"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="cannot be loaded"):
        load_scorer(str(broken))
    bad_head = tmp_path / "head"
    bad_head.mkdir()
    (bad_head / "head.json").write_text(json.dumps({"format": "repwatch-head/1", "labels": ["negative"]}))
    with pytest.raises(ModelError, match="head is incomplete"):
        load_scorer(str(bad_head))


HARD_INPUTS = ["", " ", "😡😡😡", "\x00\x07控制\x1b[31m字元\u202e", "林志明醫師 terrible 態度 ひどい", "差" * 100_000,
               "a" * 102_400]


def test_bad_input_scores_without_error_transformers(tmp_path):
    scorer = load_scorer(str(tiny_model(tmp_path / "m", STARS, 0)))
    assert len(scorer.score(HARD_INPUTS)) == len(HARD_INPUTS)


@pytest.mark.model
def test_bad_input_scores_without_error_builtin(builtin_scorer):
    out = builtin_scorer.score(HARD_INPUTS)
    assert len(out) == len(HARD_INPUTS) and all(s.label in ("negative", "neutral", "positive") for s in out)


def test_clean_text_keeps_head_and_tail():
    text = "開頭" + "中" * 10_000 + "結尾很差"
    out = clean_text(text, 100)
    assert len(out) <= 103 and out.startswith("開頭") and out.endswith("結尾很差")


@pytest.mark.model
@pytest.mark.parametrize("text,label", [
    ("林醫師態度非常差,等了兩個小時才看診,完全不解釋病情,再也不會來了。", "negative"),
    ("櫃台人員很兇,收費不透明,被多收了好幾千元,很失望。", "negative"),
    ("醫師很有耐心,解說清楚,護理師也很親切,非常推薦這間診所!", "positive"),
    ("The doctor was rude and dismissive, and we waited two hours. Terrible experience.", "negative"),
    ("Dr. Lin was kind, patient and explained everything clearly. Highly recommend!", "positive"),
])
def test_builtin_model_gets_unmistakable_sentences_right(builtin_scorer, text, label):
    assert builtin_scorer.score([text])[0].label == label


def test_metrics_binary_and_confusion():
    m = metrics(["negative", "negative", "positive", "positive"], ["negative", "neutral", "positive", "negative"])
    assert m.accuracy == 0.5 and m.labels == ["negative", "neutral", "positive"]
    assert m.confusion == [[1, 1, 0], [0, 0, 0], [1, 0, 1]]
    # binary truth: F1 over negative (tp 1, fp 1, fn 1 -> 0.5) and positive (tp 1, fp 0, fn 1 -> 2/3)
    assert m.macro_f1 == pytest.approx((0.5 + 2 / 3) / 2)


def test_evaluate_reports_strict_and_binary_figures_per_language():
    from monitor.sentiment import Score
    from monitor.sentiment.training.evaluate import evaluate

    class Fixed:
        name = "fixed"

        def score(self, texts):
            table = {"bad": Score("negative", 0.9, 0.9, 0.05), "meh": Score("neutral", 0.5, 0.2, 0.3),
                     "good": Score("positive", 0.8, 0.1, 0.8), "news": Score("neutral", 0.9, 0.05, 0.05)}
            return [table[t] for t in texts]

    rows = [{"text": "bad", "label": "negative", "lang": "en"}, {"text": "meh", "label": "positive", "lang": "en"},
            {"text": "good", "label": "positive", "lang": "zh-TW"}, {"text": "news", "label": "neutral", "lang": "zh-TW"}]
    out = evaluate(Fixed(), rows)
    assert out["en"].accuracy == 0.5  # strict: "meh" predicted neutral is an error
    assert out["en binary"].accuracy == 1.0 and out["en binary"].labels == ["negative", "positive"]
    assert "zh-TW binary" not in out and "all binary" not in out  # those groups hold a neutral row
