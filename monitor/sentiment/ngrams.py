"""Naive Bayes log-count ratios of character n-grams, stacked under the e5 head.

A frozen small encoder misses domain words that a bag of character n-grams catches
(「退货」, 「态度差」, "refund"): NBSVM-style features (Wang & Manning, 2012). For each
class c and n-gram g, ``r[g, c] = log(p(g | c) / p(g | not c))`` from document
frequencies with add-one smoothing; a text's feature for c is the sum of ``r[·, c]``
over the distinct n-grams it contains, divided by the square root of how many it has.
The head reads these k numbers beside the encoder's features.

Training rows get *out-of-fold* features (the ratios of folds that did not see them),
so the head learns how far the ratios can be trusted on unseen text, and rows that are
copies of one another in two scripts are kept in the same fold.

N-grams are taken per whitespace token padded with spaces, after the head's script
folding and lowercasing, so Chinese runs and English words both work.
"""
from __future__ import annotations

import base64
from collections import Counter
from typing import Sequence

import numpy as np

from monitor.errors import ModelError
from monitor.text import fold_script


def grams(text: str, n_min: int = 1, n_max: int = 3, fold: str | None = "t2s") -> set[str]:
    out: set[str] = set()
    for word in fold_script(text, fold).lower().split():
        w = f" {word} "
        for n in range(n_min, n_max + 1):
            for i in range(len(w) - n + 1):
                out.add(w[i:i + n])
    out.discard(" ")
    return out


class NgramNB:
    def __init__(self, vocab: Sequence[str], ratios: np.ndarray, n_min: int = 1, n_max: int = 3,
                 fold: str | None = "t2s"):
        self.vocab = list(vocab)
        self.index = {g: i for i, g in enumerate(self.vocab)}
        self.ratios = np.asarray(ratios, np.float32)
        if self.ratios.shape[0] != len(self.vocab):
            raise ModelError(f"n-gram table: {len(self.vocab)} n-grams but {self.ratios.shape[0]} rows of ratios")
        self.n_min, self.n_max, self.fold = n_min, n_max, fold
        self.k = int(self.ratios.shape[1])

    @classmethod
    def fit(cls, texts: Sequence[str], y: np.ndarray, k: int, n_min: int = 1, n_max: int = 3,
            max_features: int = 50_000, min_df: int = 3, fold: str | None = "t2s",
            weights: np.ndarray | None = None) -> "NgramNB":
        """``weights``: how much each row counts (default 1); the vocabulary is chosen by
        plain document frequency."""
        sets = [grams(t, n_min, n_max, fold) for t in texts]
        df = Counter(g for s in sets for g in s)
        keep = sorted((g for g, c in df.items() if c >= min_df), key=lambda g: (-df[g], g))[:max_features]
        index = {g: i for i, g in enumerate(keep)}
        counts = np.ones((len(keep), k), np.float64)  # add-one smoothing
        ws = np.ones(len(sets)) if weights is None else np.asarray(weights, np.float64)
        for s, label, weight in zip(sets, y, ws):
            idx = [index[g] for g in s if g in index]
            counts[idx, label] += weight
        p = counts / counts.sum(0, keepdims=True)
        rest = counts.sum(1, keepdims=True) - counts  # the other classes' (smoothed) counts
        q = rest / rest.sum(0, keepdims=True)
        return cls(keep, np.log(p / q), n_min, n_max, fold)

    def features(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.k), np.float32)
        for row, text in enumerate(texts):
            # summed in table order, not in the set's (hash-seeded) order: the same text gets the
            # same float32 features in every process
            idx = sorted(self.index[g] for g in grams(text, self.n_min, self.n_max, self.fold) if g in self.index)
            if idx:
                out[row] = self.ratios[idx].sum(0) / np.sqrt(len(idx) + 1)
        return out

    def to_dict(self) -> dict:
        return {"n": [self.n_min, self.n_max], "fold": self.fold, "grams": self.vocab, "k": self.k,
                "ratios_f16": base64.b64encode(self.ratios.astype("<f2").tobytes()).decode("ascii")}

    @classmethod
    def from_dict(cls, data: dict, origin: str = "<memory>") -> "NgramNB":
        try:
            k = int(data["k"])
            ratios = np.frombuffer(base64.b64decode(data["ratios_f16"]), "<f2").astype(np.float32).reshape(-1, k)
            n_min, n_max = (int(v) for v in data["n"])
            return cls(data["grams"], ratios, n_min, n_max, data.get("fold"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{origin}: n-gram table is incomplete or malformed ({exc!r})") from None
        except ModelError as exc:
            raise ModelError(f"{origin}: {exc}") from None


def out_of_fold(texts: Sequence[str], y: np.ndarray, groups: np.ndarray, k: int, folds: int = 5, seed: int = 13,
                weights: np.ndarray | None = None, **fit_args) -> np.ndarray:
    """Features for each training row from a table fitted on the folds that do not hold its group."""
    rng = np.random.default_rng(seed)
    uniq = np.unique(groups)
    fold_of = dict(zip(uniq.tolist(), rng.permutation(len(uniq)) % folds))
    assign = np.array([fold_of[g] for g in groups.tolist()])
    out = np.zeros((len(texts), k), np.float32)
    for f in range(folds):
        fit = np.where(assign != f)[0]
        held = np.where(assign == f)[0]
        nb = NgramNB.fit([texts[i] for i in fit], y[fit], k, weights=None if weights is None else weights[fit],
                         **fit_args)
        out[held] = nb.features([texts[i] for i in held])
    return out
