"""The verdict on a mention: the model's answer, a star rating, and (later) a human's.

The crisis team's question is whether a mention harms the doctor's or clinic's
reputation. On a review site the reviewer already answered part of it with stars, and a
one-star review drags a listing's average down whatever its words say, so:

=============  ======================================================================
rating         verdict
=============  ======================================================================
none           the model's label and P(negative)
1-2 of 5       **negative**; P(negative) is raised to at least :data:`LOW_RATING_NEGATIVE`
               (0.9: enough for burst and spike rules, below a severe rule's 0.95, so a
               single star-only review never pages alone but a burst of them does)
3 of 5         **neutral**, unless the text is clearly negative (the model's
               P(negative) ≥ the configured threshold): then negative
4-5 of 5       **positive**, unless the text is clearly negative: then negative
               (a mixed review that contains a complaint)
=============  ======================================================================

A review with stars and no words gets the rating's label with P(negative) 0.9 for 1-2
stars, 0.2 for 3 and 0.05 for 4-5, and the model is not asked. The model's own label
and P(negative) are stored beside the verdict either way (``model_label``,
``model_negative``), so both are visible. A human correction (``repwatch label``)
replaces the verdict and is never overwritten by a later scoring.

Causes (:mod:`monitor.causes`) are attached to negative verdicts only.
"""
from __future__ import annotations

from dataclasses import dataclass

from monitor.causes import detect_causes

LOW_RATING_NEGATIVE = 0.9
STAR_ONLY_NEGATIVE = {1: 0.9, 2: 0.9, 3: 0.2, 4: 0.05, 5: 0.05}


@dataclass(frozen=True)
class Verdict:
    label: str
    score: float  # confidence in ``label``
    negative: float  # P(negative) the rules compare with thresholds
    by: str  # model | rating
    causes: tuple[str, ...] = ()
    model_label: str | None = None
    model_negative: float | None = None


def stars(rating: float | None) -> int | None:
    """A rating as whole stars 1..5 (None when absent or out of range)."""
    if rating is None:
        return None
    try:
        value = round(float(rating))
    except (TypeError, ValueError):
        return None
    return value if 1 <= value <= 5 else None


def rating_label(rating: float | None) -> str | None:
    s = stars(rating)
    if s is None:
        return None
    return "negative" if s <= 2 else ("neutral" if s == 3 else "positive")


def decide(text: str, rating: float | None, model, threshold: float = 0.5) -> Verdict:
    """Combine the model's :class:`~monitor.sentiment.Score` (None when the text is empty)
    with a star rating, as the table in the module docstring says."""
    s = stars(rating)
    if model is None:
        if s is None:  # nothing to judge: no words, no stars
            return Verdict("neutral", 1.0, 0.0, "rating")
        label = rating_label(s)
        negative = STAR_ONLY_NEGATIVE[s]
        return Verdict(label, negative if label == "negative" else 1.0 - negative, negative, "rating")
    own = dict(model_label=model.label, model_negative=model.negative)
    clearly_negative = model.negative >= threshold
    if s is None:
        label, negative, by = model.label, model.negative, "model"
        if label == "negative" and not clearly_negative:
            # argmax said negative with less than the threshold: the rules will not count it,
            # so neither does the label
            label = "neutral"
        elif clearly_negative:
            label = "negative"
        score = model.score if label == model.label else 1.0 - negative
    elif s <= 2:
        label, negative, by = "negative", max(model.negative, LOW_RATING_NEGATIVE), "rating"
        score = negative
    elif clearly_negative:
        label, negative, by, score = "negative", model.negative, "model", model.negative
    else:
        label, negative, by = rating_label(s), model.negative, "rating"
        score = 1.0 - negative
    causes = detect_causes(text) if label == "negative" else ()
    return Verdict(label, round(float(score), 4), round(float(negative), 4), by, causes, **own)
