"""Character n-gram Naive Bayes features stacked under the built-in head."""
from __future__ import annotations

import json

import numpy as np
import pytest

from monitor.errors import ModelError
from monitor.sentiment import LABELS
from monitor.sentiment.e5head import Head
from monitor.sentiment.ngrams import NgramNB, grams, out_of_fold

NEG, NEU, POS = (LABELS.index(l) for l in ("negative", "neutral", "positive"))

CORPUS = [
    ("等了兩個小時，態度很差", NEG), ("櫃台態度差，還亂收費", NEG), ("收費不透明，很差", NEG),
    ("the staff were rude and the wait was awful", NEG), ("awful billing, rude nurse", NEG),
    ("醫師很細心，解釋清楚", POS), ("護理師親切，環境乾淨", POS), ("非常細心又親切", POS),
    ("the doctor was kind and explained everything", POS), ("kind staff, clean clinic", POS),
    ("診所明天休診", NEU), ("門診時間調整為上午九點", NEU), ("the clinic opens at nine", NEU),
]


def fit(**kw):
    texts, y = zip(*CORPUS)
    return NgramNB.fit(list(texts), np.array(y), len(LABELS), min_df=1, **kw)


def test_grams_fold_scripts_lowercase_and_pad_words():
    g = grams("態度 RUDE")
    assert {"态", "态度", " 态度", "rud", " ru", "de "} <= g  # Traditional folded to Simplified
    assert " " not in g
    assert grams("態度", fold=None) >= {"態度"}
    assert grams("") == set()


def test_ratios_point_the_right_way_and_features_follow():
    nb = fit()
    r = nb.ratios[nb.index["态度"]]
    assert r[NEG] > 0 > r[POS]
    f = nb.features(["態度很差", "很細心很親切", "明天休診", "", "🙂🙂"])
    assert f[0].argmax() == NEG and f[1].argmax() == POS and f[2].argmax() == NEU
    assert np.all(f[3] == 0)  # nothing known: no evidence either way
    assert f.shape == (5, 3) and f.dtype == np.float32


def test_vocabulary_is_capped_by_document_frequency_and_deterministic():
    a, b = fit(max_features=25), fit(max_features=25)
    assert len(a.vocab) == 25 and a.vocab == b.vocab
    assert np.array_equal(a.ratios, b.ratios)


def test_round_trip_through_json_keeps_features(tmp_path):
    nb = fit()
    path = tmp_path / "t.json"
    path.write_text(json.dumps(nb.to_dict(), ensure_ascii=False), encoding="utf-8")
    back = NgramNB.from_dict(json.loads(path.read_text(encoding="utf-8")))
    texts = ["態度很差", "kind doctor", "門診"]
    assert np.allclose(back.features(texts), nb.features(texts), atol=2e-3)  # ratios are stored as float16


def test_broken_table_names_where_it_came_from():
    data = fit().to_dict()
    data["ratios_f16"] = data["ratios_f16"][:-8]
    with pytest.raises(ModelError, match="head.json: n-gram table"):
        NgramNB.from_dict(data, "head.json")
    with pytest.raises(ModelError, match="n-gram table"):
        NgramNB(["a", "b"], np.zeros((3, 3)))


def test_out_of_fold_keeps_a_group_together():
    # two copies of one review (think: Simplified and Traditional) whose n-grams occur nowhere else
    texts = [t for t, _ in CORPUS] + ["qqq", "QQQ"]
    y = np.array([l for _, l in CORPUS] + [NEG, NEG])
    together = np.array([f"g{i}" for i in range(len(CORPUS))] + ["twin", "twin"])
    apart = np.array([f"g{i}" for i in range(len(texts))])
    kw = dict(min_df=1, folds=3, seed=1)
    grouped = out_of_fold(texts, y, together, len(LABELS), **kw)
    assert np.all(grouped[-2:] == 0)  # held out with its twin: the table never saw "qqq"
    leaked = [out_of_fold(texts, y, apart, len(LABELS), min_df=1, folds=3, seed=s)[-2:] for s in range(4)]
    assert any(np.abs(l).sum() > 0 for l in leaked)  # split apart, a copy teaches the table its twin


def test_head_with_ngrams_checks_its_widths():
    nb = fit()
    dim = 4 + nb.k
    head = {"format": "repwatch-head/1", "labels": list(LABELS), "mean": [0.0] * dim, "scale": [1.0] * dim,
            "layers": [{"weights": [[0.0] * dim] * 3, "bias": [0, 0, 0], "activation": "softmax"}],
            "ngrams": nb.to_dict()}
    h = Head(head)
    assert h.ngrams is not None and h.encoder_dim == 4
    head["layers"][0]["weights"] = [[0.0] * 4] * 3
    with pytest.raises(ModelError, match="first layer reads 4 features"):
        Head(head, "x.json")


def test_features_do_not_depend_on_the_process_hash_seed():
    import os
    import subprocess
    import sys

    # a set of n-grams iterates in an order that changes with PYTHONHASHSEED; float32 sums in that
    # order would give a mention another score (in the last bits) after every restart
    code = ("import sys, numpy as np; from tests.test_ngrams import fit; "
            "sys.stdout.write(fit().features(['櫃台態度差,等了兩個小時,收費不透明 rude staff awful wait']).tobytes().hex())")
    out = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3", "4")}
    assert len(out) == 1
