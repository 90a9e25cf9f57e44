"""Map whatever a model calls its classes onto negative / neutral / positive.

Handles "NEGATIVE"/"neg"/"Negative", "1 star".."5 stars", "LABEL_0".."LABEL_2"
(0 = negative, and 1 = positive for two classes, neutral for three), and Chinese
names (负面/負面/正面/中性). Anything else needs ``[sentiment].labels`` in the config.
"""
from __future__ import annotations

import re
from typing import Mapping

from monitor.errors import ModelError

_WORDS = {
    "negative": "negative", "neg": "negative", "bad": "negative", "负面": "negative", "負面": "negative",
    "neutral": "neutral", "neu": "neutral", "mixed": "neutral", "中性": "neutral", "中立": "neutral",
    "positive": "positive", "pos": "positive", "good": "positive", "正面": "positive",
}


def map_labels(id2label: Mapping[int, str], override: Mapping[str, str] | None = None) -> dict[int, str]:
    override = dict(override or {})
    n = len(id2label)
    out: dict[int, str] = {}
    for idx, raw in sorted(id2label.items()):
        name = str(raw)
        if name in override:
            out[idx] = override[name]
            continue
        key = name.strip().lower()
        if key in _WORDS:
            out[idx] = _WORDS[key]
            continue
        stars = re.match(r"^([1-5])\s*stars?$", key)
        if stars:
            s = int(stars.group(1))
            out[idx] = "negative" if s <= 2 else ("neutral" if s == 3 else "positive")
            continue
        generic = re.match(r"^label_(\d+)$", key)
        if generic and n in (2, 3):
            k = int(generic.group(1))
            out[idx] = ("negative", "positive")[k] if n == 2 else ("negative", "neutral", "positive")[k]
            continue
        raise ModelError(
            f"cannot tell what model label {name!r} means; map it in the config: "
            f'[sentiment] labels = {{ "{name}" = "negative" }}'
        )
    if "negative" not in out.values():
        raise ModelError(f"model labels {list(id2label.values())} have no negative class")
    return out
