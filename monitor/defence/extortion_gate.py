"""The learned extortion gate: a logistic verdict over the e5 encoder, character n-grams and the
policy's word classes (:mod:`monitor.defence.extortion_cues`).

Two stages, both linear, stored as JSON (``data/extortion/gate.json``, written by
:mod:`monitor.defence.extortion_fit`):

``e5``     a logistic score of the pooled multilingual-e5-small layers 6-9 (the int8 ONNX graph
           of :mod:`monitor.sentiment.onnxe5`, Traditional folded to Simplified);
``stack``  a logistic verdict over [that score, the n-gram Naive Bayes features
           (:mod:`monitor.sentiment.ngrams`), the cue numbers]; a text whose verdict is at least
           ``threshold`` is extortion.

The stack was fitted on scores each training row got from a model that never saw its author,
so it weighs each part by how well it carries to a new writer. The encoder is loaded on the
first text that needs it (a caller runs the cheap prefilter first, see
:func:`monitor.defence.extortion_cues.worth_encoding`), once per process.
"""
from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from monitor.defence.extortion_cues import NAMES as CUE_NAMES
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
        if list(data.get("cues", [])) != list(CUE_NAMES):
            raise ModelError(f"{origin}: gate was fitted on other cue names; refit it "
                             f"(python -m monitor.defence.extortion_fit)")
        self.encoder_spec = dict(data["encoder"])
        self.e5 = Linear(data["e5"], origin)
        self.ngrams = NgramNB.from_dict(data["ngrams"], origin)
        self.stack = Linear(data["stack"], origin)
        self.threshold = float(data["threshold"])
        self.meta = {k: data[k] for k in ("trained_on", "cross_author") if k in data}
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

    def stack_input(self, e5_scores: np.ndarray, texts: Sequence[str], cues: np.ndarray) -> np.ndarray:
        """The stack's features: the e5 score, the n-gram features, the cue numbers."""
        return np.concatenate([np.asarray(e5_scores, np.float32).reshape(-1, 1), self.ngrams.features(texts), cues], 1)

    def verdicts(self, texts: Sequence[str], cues: np.ndarray) -> np.ndarray:
        """The stack's logit for each (cleaned) text; >= :meth:`logit_threshold` is extortion."""
        if not len(texts):
            return np.zeros(0, np.float32)
        e5 = self.e5(self.encoder().encode(list(texts)))
        return self.stack(self.stack_input(e5, texts, cues))

    def logit_threshold(self) -> float:
        return float(np.log(self.threshold / (1 - self.threshold)))


@lru_cache(maxsize=1)
def default_gate() -> ExtortionGate:
    """The shipped gate (:data:`GATE_FILE`), read once."""
    return ExtortionGate.load(GATE_FILE)
