"""Mask patient-identifying data before text leaves repwatch (pages, logs, CLI output).

A review may name a patient's ID number, phone, e-mail, birth date or chart number.
Repeating them into a chat channel spreads them further; confirming that someone is
a patient is itself a disclosure. Everything shown to people passes through
:func:`mask_phi` first. The stored mention keeps the original text (it is evidence),
and never appears in logs.
"""
from __future__ import annotations

import re

_RULES: tuple[tuple[re.Pattern, str], ...] = (
    # e-mail addresses
    (re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"), "[email]"),
    # Taiwan national ID / resident certificate: letter + 1/2/8/9 + 8 digits (also with a space)
    (re.compile(r"(?<![A-Za-z0-9])[A-Za-z]\s?[1289]\d{8}(?!\d)"), "[ID]"),
    # chart / medical record numbers after a keyword
    (re.compile(r"(?i)(病歷號碼?|病歷編號|病历号|病歷|MRN|chart\s*(?:no\.?|number|#)|medical\s+record\s*(?:no\.?|number|#)?)"
                r"\s*[:：#]?\s*[A-Za-z]{0,3}\d[\d\-]{3,}"), r"\1 [chart no.]"),
    # dates of birth after a keyword (any date shape)
    (re.compile(r"(?i)(生日|出生(?:日期|年月日)?|出生於|DOB|date\s+of\s+birth|born(?:\s+on)?)\s*[:：]?\s*"
                r"(?:\d{2,4}\s*[./\-年]\s*\d{1,2}\s*[./\-月]\s*\d{1,2}\s*日?|民國\s*\d{2,3}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日"
                r"|\d{1,2}\s+[A-Za-z]{3,9}\.?\s+\d{4}|[A-Za-z]{3,9}\.?\s+\d{1,2},?\s+\d{4})"), r"\1 [date of birth]"),
    # phone numbers: Taiwan mobile 09xx, +886, landlines (0x-xxxx-xxxx), generic international
    (re.compile(r"(?<!\d)(?:\+?886[\s\-]?|0)9\d{2}[\s\-]?\d{3}[\s\-]?\d{3}(?!\d)"), "[phone]"),
    (re.compile(r"(?<!\d)\(?(?:\+?886[\s\-]?|0)[2-8]\d?\)?[\s\-]?\d{3,4}[\s\-]?\d{4}(?!\d)"), "[phone]"),
    (re.compile(r"(?<![\w\d])\+\d{1,3}[\s\-]?\(?\d{1,4}\)?[\s\-]?\d{3,4}[\s\-]?\d{3,4}(?!\d)"), "[phone]"),
    (re.compile(r"(?<!\d)\(?\d{3}\)?[\s\-.]\d{3}[\s\-.]\d{4}(?!\d)"), "[phone]"),
)


def mask_phi(text: str | None) -> str:
    """Replace patient-identifying data with placeholders such as [phone] and [ID]."""
    if not text:
        return ""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


class MaskingFilter:
    """A logging filter for every handler: the formatted message is masked before it is
    written. Log lines carry ids and counts by design; this catches what slips through
    (an error message quoting a payload, a library's exception text)."""

    def filter(self, record) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's problem, not ours
            return True
        masked = mask_phi(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
