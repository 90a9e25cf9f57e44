"""The learned extortion gate: three logistic parts over the e5 encoder and character n-grams,
stored as JSON (``data/extortion/gate.json``, written by :mod:`monitor.defence.extortion_fit`).

``e5``      a logistic score of the pooled multilingual-e5-small layers 6-9 (the int8 ONNX graph
            of :mod:`monitor.sentiment.onnxe5`, Traditional folded to Simplified), fitted on the
            labelled rows (extortion against ordinary complaints that sit close to it);
``stack``   a logistic verdict over [that score, the n-gram Naive Bayes features
            (:mod:`monitor.sentiment.ngrams`)], fitted on scores each row got from models that
            never saw its author, so it weighs each part by how well it carries to a new writer;
            at least ``threshold`` (a logit) is extortion ...
``domain``  ... provided the text also looks like extortion rather than other writing: a logistic
            e5 score fitted on the extortion rows against other writers' ordinary text (reviews,
            news, tweets that pass the prefilter), at least ``domain_threshold``. The labelled
            rows alone never show the gate a tweet or a hotel review: without this part (and with a
            narrower prefilter) it raised on 2,169 of 43,603 such texts, with it on 24.

The word classes of :mod:`monitor.defence.extortion_cues` only prefilter and explain: as gate
features they raised the figures on the two authors they were written from and lowered them on
the author nobody had read (``data/extortion/README.md``). The encoder is loaded on the first
text that needs it, once per process.
"""
from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from monitor.errors import ModelError
from monitor.sentiment.ngrams import NgramNB

GATE_FORMAT = "repwatch-extortion-gate/1"
GATE_FILE = Path(__file__).resolve().parent / "data" / "extortion" / "gate.json"


class Linear:
    """``(x - mean) / scale · weights + bias``, one score per row."""

    def __init__(self, data: dict, origin: str):
        try:
            self.mean = np.asarray(data["mean"], np.float32)
            self.scale = np.asarray(data["scale"], np.float32)
            self.weights = np.asarray(data["weights"], np.float32)
            self.bias = float(data["bias"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{origin}: linear stage is incomplete or malformed ({exc!r})") from None
        if not self.mean.shape == self.scale.shape == self.weights.shape or self.weights.ndim != 1:
            raise ModelError(f"{origin}: linear stage shapes differ ({self.mean.shape}, {self.scale.shape}, "
                             f"{self.weights.shape})")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.shape[1] != self.weights.shape[0]:
            raise ModelError(f"linear stage expects {self.weights.shape[0]} features, got {x.shape[1]}")
        return ((x - self.mean) / self.scale) @ self.weights + self.bias

    @staticmethod
    def to_dict(mean: np.ndarray, scale: np.ndarray, weights: np.ndarray, bias: float) -> dict:
        return {"mean": np.round(mean, 6).tolist(), "scale": np.round(scale, 6).tolist(),
                "weights": np.round(weights, 6).tolist(), "bias": round(float(bias), 6)}


class ExtortionGate:
    """A gate read from its JSON form; :meth:`verdicts` encodes, the rest is arithmetic."""

    def __init__(self, data: dict, origin: str = "<memory>"):
        if data.get("format") != GATE_FORMAT:
            raise ModelError(f"{origin}: not an extortion gate (format {data.get('format')!r}, "
                             f"expected {GATE_FORMAT!r})")
        try:
            self.encoder_spec = dict(data["encoder"])
            self.e5, self.stack, self.domain = (Linear(data[k], origin) for k in ("e5", "stack", "domain"))
            self.ngrams = NgramNB.from_dict(data["ngrams"], origin)
            self.threshold, self.domain_threshold = float(data["threshold"]), float(data["domain_threshold"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{origin}: extortion gate is incomplete or malformed ({exc!r})") from None
        self.meta = {k: data[k] for k in ("trained_on",) if k in data}
        self._encoder = None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path = GATE_FILE) -> "ExtortionGate":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"extortion gate {path} is missing or unreadable ({exc})") from None
        return cls(data, str(path))

    def encoder(self):
        """The e5 encoder, loaded once on first use."""
        with self._lock:
            if self._encoder is None:
                from monitor.sentiment.e5head import encoder_for

                self._encoder = encoder_for(self.encoder_spec)
            return self._encoder

    def stack_input(self, e5_features: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """The stack's features: the e5 score and the n-gram features."""
        return np.concatenate([self.e5(e5_features).reshape(-1, 1), self.ngrams.features(texts)], 1)

    def decide(self, e5_features: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Extortion or not, for (cleaned) texts and their e5 features."""
        return (self.stack(self.stack_input(e5_features, texts)) >= self.threshold) & \
            (self.domain(e5_features) >= self.domain_threshold)

    def verdicts(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`decide` for (cleaned) texts, encoding them."""
        if not len(texts):
            return np.zeros(0, bool)
        return self.decide(self.encoder().encode(list(texts)), texts)


@lru_cache(maxsize=1)
def default_gate() -> ExtortionGate:
    """The shipped gate (:data:`GATE_FILE`), read once."""
    return ExtortionGate.load(GATE_FILE)
