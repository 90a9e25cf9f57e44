"""Any Hugging Face sequence-classification model, through transformers and torch (the ``hf``
extra: ``pip install 'repwatch[hf]'``; both are imported only when such a model is loaded).

Loads from a local directory or a model id (offline when HF_HUB_OFFLINE=1), maps its
labels with :func:`monitor.sentiment.labels.map_labels`, truncates at the model's
maximum length, and scores in length-sorted batches under ``torch.inference_mode``.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

from monitor.errors import ModelError
from monitor.sentiment import Score
from monitor.text import clean_text
from monitor.sentiment.labels import map_labels


class TransformersScorer:
    def __init__(self, model: str, labels: Mapping[str, str] | None = None, max_chars: int = 4000,
                 batch_size: int = 32, threads: int | None = None, quantize: bool = False):
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as exc:
            raise ModelError(f"sentiment model {model!r} needs torch and transformers ({exc}); install them "
                             f"with: pip install 'repwatch[hf]' (CPU-only torch: see the README), "
                             f"or use model = \"builtin\"") from exc
        self._torch = torch
        if threads:
            torch.set_num_threads(threads)
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.path.isdir(model)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=offline)
            self.model = AutoModelForSequenceClassification.from_pretrained(model, local_files_only=offline)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"sentiment model {model!r} cannot be loaded: {exc}") from exc
        self.model.eval()
        if quantize:
            self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
        id2label = {int(k): v for k, v in self.model.config.id2label.items()}
        self.mapping = map_labels(id2label, labels)
        self.max_chars = max_chars
        self.batch_size = batch_size
        # truncate at what both the tokenizer and the position table allow (RoBERTa-style
        # models reserve two positions for the padding offset)
        limit = min(int(getattr(self.tokenizer, "model_max_length", 512) or 512), 512)
        positions = getattr(self.model.config, "max_position_embeddings", None)
        if positions:
            offset = 2 if self.model.config.model_type in ("roberta", "xlm-roberta", "camembert") else 0
            limit = min(limit, positions - offset)
        self.max_length = limit
        self.name = f"transformers:{model}"
        self.score(["ok"])

    def score(self, texts: Sequence[str]) -> list[Score]:
        torch = self._torch
        cleaned = [clean_text(t, self.max_chars) or " " for t in texts]
        order = sorted(range(len(cleaned)), key=lambda i: len(cleaned[i]))
        out: list[Score | None] = [None] * len(cleaned)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            enc = self.tokenizer([cleaned[i] for i in idx], padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="pt")
            with torch.inference_mode():
                probs = torch.softmax(self.model(**enc).logits.float(), dim=-1).numpy()
            for row, i in zip(probs, idx):
                mass = {"negative": 0.0, "neutral": 0.0, "positive": 0.0}
                for k, p in enumerate(row):
                    mass[self.mapping[k]] += float(p)
                label = max(mass, key=mass.get)
                out[i] = Score(label, mass[label], mass["negative"], mass.get("positive"))
        return out  # type: ignore[return-value]
