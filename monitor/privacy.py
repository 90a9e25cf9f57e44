"""Mask patient-identifying data before text leaves repwatch (pages, logs, CLI output).

A review may name a patient's ID number, phone, e-mail, birth date, chart, NHI card or
LINE ID. Repeating them into a chat channel spreads them further; confirming that
someone is a patient is itself a disclosure. Everything shown to people passes through
:func:`mask_phi` first (and a mention's own link through :func:`mask_url`). The stored
mention keeps the original text (it is evidence), and never appears in logs.

The text is NFKC-normalised first (full-width ``０９１２…`` and ``Ａ１２…`` become ASCII)
and zero-width characters are dropped, so the returned text is in that form. Dates are
only masked next to a birth keyword (``生日``, ``DOB``, ``born``, ``…年…月…日生``): a
review's visit date, a year, a price or a time is left alone.
"""
from __future__ import annotations

import re
from typing import Callable
from urllib.parse import quote, unquote, unquote_plus, urlsplit, urlunsplit

from monitor.text import masking_form

_SEP = r"[\s\-.\u2010-\u2015\u2212]"  # between digit groups: space, hyphens and dashes, dot
_CN = r"[〇零一二三四五六七八九十百兩两]"  # Chinese numerals in dates
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_ORD = r"(?:st|nd|rd|th)?"
_ROC_DATE = (rf"(?:民國|民国|西元|公元)?\s*(?:\d{{2,4}}|{_CN}{{1,4}})\s*年\s*(?:\d{{1,2}}|{_CN}{{1,3}})\s*月"
             rf"\s*(?:\d{{1,2}}|{_CN}{{1,3}})\s*[日號号]")
# a date of any common shape; every numeric form ends where the digits end, so no part
# of a year is left behind ("01/02/1980" is not cut after "19")
_DATE = (
    r"(?:"
    rf"{_ROC_DATE}"
    # 1980-01-02, 69/01/02, 74年3月14日
    r"|\d{2,4}\s*[./\-年]\s*\d{1,2}\s*[./\-月]\s*\d{1,2}(?:\s*[日號号])?(?!\d)"
    r"|\d{1,2}\s*[./\-]\s*\d{1,2}\s*[./\-]\s*\d{2,4}(?!\d)"  # 01/02/1980, 1/2/80
    rf"|\d{{1,2}}{_ORD}[\s\-]*(?:of\s+)?{_MONTH}[\s\-,]*\d{{2,4}}(?!\d)"  # 2 Jan 1980, 2nd of January, 1980
    rf"|{_MONTH}[\s\-]*\d{{1,2}}{_ORD}[\s\-,]*\d{{2,4}}(?!\d)"  # January 2, 1980
    rf"|{_MONTH}[\s\-,]*\d{{4}}(?!\d)"  # January 1980
    r"|\d{1,2}\s*[./\-]\s*\d{4}(?!\d)|\d{4}\s*[./\-]\s*\d{1,2}(?!\d)"  # 01/1980, 1980-01
    r"|\d{6,8}(?!\d)"  # 19800102, 0690102, 800102
    r")"
)
# 生於 but not 醫生於 ("the doctor, on <date>, ...")
_BIRTH_KW = (r"(生日|出生(?:日期|年月日|日)?|出生[於于]|(?<![醫医先學学書书衛卫考])生[於于]"
             r"|(?<![A-Za-z])(?:D\.?\s*O\.?\s*B\.?|date\s+of\s+birth|birth\s*(?:date|day)|b-?day|born(?:\s+on)?)"
             r"(?![A-Za-z]))")
_IS = r"(?:(?:is|was|on|是|為|为|在)\s*)?"
# after a chart-number keyword: a few letters, then at least 4 digits, not a year
_CHART_NO = r"[A-Za-z]{0,3}[\-\s]?\d(?:[\-\s]?\d){3,}(?![\d年月])"

# LINE IDs: 3-20 of letters, digits, "." "-" "_" (official accounts start with "@").
_LINE_ANY = r"@?[A-Za-z0-9][A-Za-z0-9._\-]{2,}"
# ... where "line" may be the English word, only a value that cannot be a word counts:
# one starting with "@", or letters mixed with digits, "_", "." or "-"
_LINE_IDLIKE = (r"(?:@[A-Za-z0-9._\-]{3,}"
                r"|(?=[A-Za-z0-9._\-]*[A-Za-z])(?=[A-Za-z0-9]+[0-9_.\-])[A-Za-z0-9][A-Za-z0-9._\-]{2,})")

_INVOICE = re.compile(r"(?i)(?:發票|发票|invoice|receipt)\s*(?:號碼?|号码?|number|no\.?|#)?\s*[:：]?\s*$")


def _old_certificate(m: re.Match) -> str:
    return m.group(0) if _INVOICE.search(m.string, max(0, m.start() - 16), m.start()) else "[ID]"


_RULES: tuple[tuple[re.Pattern, str | Callable[[re.Match], str]], ...] = (
    # e-mail addresses: ASCII local part first (so a Chinese word before it survives),
    # then any Unicode local part (王小明@例子.台灣); the domain may be Unicode too
    (re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}[\w\-]*"), "[email]"),
    (re.compile(r"[\w.%+\-]{1,64}@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}[\w\-]*"), "[email]"),
    # ... and spelled out: wang [at] example [dot] com
    (re.compile(r"(?i)(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+\s*[\[({]\s*at\s*[\])}]\s*[\w\-]+"
                r"(?:(?:\.|\s*[\[({]\s*dot\s*[\])}]\s*)[\w\-]+)+"), "[email]"),
    # Taiwan national ID / new resident certificate: letter + 1/2/8/9 + 8 digits
    (re.compile(rf"(?<![A-Za-z0-9])[A-Za-z]\s?[1289]\d{{2}}(?:{_SEP}?\d{{3}}){{2}}(?!\d)"), "[ID]"),
    # old resident certificate: letter + A-D (sex) + 8 digits (FA12345678); the same shape
    # after an invoice keyword is a uniform-invoice number (統一發票), not a person
    (re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Da-d]-?\d{8}(?!\d)"), _old_certificate),
    # NHI card number: 12 digits after a keyword, or any 12-digit run starting 0000
    (re.compile(r"(?i)(健保卡號碼?|健保卡卡號|健保卡|健保號碼?|健保卡号码?"
                r"|(?<![A-Za-z])NHI(?:\s*card)?(?:\s*(?:no\.?|number|#))?)"
                rf"\s*[:：=#]?\s*{_IS}[:：]?\s*\d{{4}}{_SEP}?\d{{4}}{_SEP}?\d{{4}}(?!\d)"), r"\1 [ID]"),
    (re.compile(r"(?<!\d)0000\d{8}(?!\d)"), "[ID]"),
    # passport numbers after a keyword
    (re.compile(r"(?i)(護照號碼?|护照号码?|(?<![A-Za-z])passport(?:\s*(?:no\.?|number|#))?)\s*[:：=#]?\s*"
                rf"{_IS}[:：]?\s*[A-Za-z]{{0,2}}\d{{7,9}}(?!\d)"), r"\1 [ID]"),
    # chart / medical record numbers after a keyword (病歷 No. 998877, My MRN is 99887766)
    (re.compile(r"(?i)(病歷號碼?|病歷編號|病歷碼|病历号码?|病历编号|病歷|病历|病例號碼?|病例|"
                r"(?<![A-Za-z])(?:MRN|MR\s*#|chart\s*(?:no\.?|number|#)|"
                r"medical\s+record(?:\s*(?:no\.?|number|#))?|patient\s*(?:no\.?|number|#)))"
                r"\s*(?:(?:no\.?|number|#|號碼?|编号|編號)\s*)?[:：=#]?\s*"
                + _IS + r"[:：#]?\s*" + _CHART_NO),
     r"\1 [chart no.]"),
    # dates of birth after a keyword (any date shape)
    (re.compile(rf"(?i){_BIRTH_KW}\s*[:：=]?\s*{_IS}[:：]?\s*{_DATE}"), r"\1 [date of birth]"),
    # ... and before one: 民國七十年一月二日生, 70年1月2日出生, 1980/01/02出生 (a year is required,
    # and 生 must end the word: 生病, 生效 and 生日 are not a birth)
    (re.compile(rf"(?:{_ROC_DATE}|\d{{2,4}}\s*[./\-]\s*\d{{1,2}}\s*[./\-]\s*\d{{1,2}})\s*"
                r"(出生|生(?=[的之])|生(?![\u3400-\u9fff]))"), r"[date of birth]\1"),
    # phone numbers: Taiwan mobile 09xx, +886, landlines (0x-xxxx-xxxx), generic international
    (re.compile(rf"(?<!\d)(?:\(?\+?886\)?{_SEP}?(?:\(0\))?{_SEP}?|0)9(?:{_SEP}?\d){{8}}(?!\d)"), "[phone]"),
    (re.compile(rf"(?<!\d)(?:\(?\+?886\)?{_SEP}?(?:\(0\))?|\(?0)[2-8]\d?\)?{_SEP}?\d{{3,4}}{_SEP}?\d{{4}}(?!\d)"),
     "[phone]"),
    (re.compile(rf"(?<![\w\d])\+\d{{1,3}}{_SEP}?\(?\d{{1,4}}\)?{_SEP}?\d{{3,4}}{_SEP}?\d{{3,4}}(?!\d)"), "[phone]"),
    (re.compile(r"(?<!\d)\(?\d{3}\)?[\s\-.]\d{3}[\s\-.]\d{4}(?!\d)"), "[phone]"),
    # LINE IDs: after "LINE ID" / "賴:" / "line" in Chinese text (加我line abc123), any value;
    # after a bare English "line:" only one that looks like an ID (line:abc.def, line: @abc)
    (re.compile(r"(?i)(?:(?<![A-Za-z])(?:line|賴)\s*(?:id|帳號|账号|號碼?|号码?)(?![A-Za-z])"
                r"|(?<=[\u3400-\u9fff])\s*line(?![A-Za-z])|(?<![A-Za-z])line(?=\s*[是為为])"
                r"|(?<![A-Za-z])(?-i:LINE)(?=\s*[:：=@])|(?<![A-Za-z])line(?=\s*@)|賴(?=\s*[:：=@])|加(?:我的?)?賴)"
                rf"\s*[:：=]?\s*{_IS}[:：]?\s*{_LINE_ANY}"), "[LINE ID]"),
    (re.compile(r"(?i)(?:(?<![A-Za-z])line\s*[:：=]\s*|(?<![A-Za-z])(?:my|on)\s+line\s+(?:is\s+|[:：]\s*)?"
                rf"|(?<![A-Za-z])(?-i:LINE)\s+){_LINE_IDLIKE}"), "[LINE ID]"),
)


def mask_phi(text: str | None) -> str:
    """Replace patient-identifying data with placeholders such as [phone] and [ID].

    The result is the NFKC form of the text (full-width letters and digits become ASCII)."""
    if not text:
        return ""
    text = masking_form(text)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


# query keys whose value is patient data whatever it looks like (?tel=12345, ?dob=800102)
_KEY_PLACEHOLDER = {
    "tel": "[phone]", "phone": "[phone]", "mobile": "[phone]", "cell": "[phone]", "cellphone": "[phone]",
    "phonenumber": "[phone]", "telephone": "[phone]", "email": "[email]", "mail": "[email]", "e-mail": "[email]",
    "dob": "[date of birth]", "birthday": "[date of birth]", "birthdate": "[date of birth]",
    "dateofbirth": "[date of birth]", "mrn": "[chart no.]", "chartno": "[chart no.]",
    "medicalrecord": "[chart no.]", "lineid": "[LINE ID]", "nhi": "[ID]", "nationalid": "[ID]", "idno": "[ID]",
    "passport": "[ID]",
}
_URL_SAFE = "[]@:!$'()*+,;~"  # keep placeholders readable; spaces and the rest are percent-encoded


def _mask_piece(piece: str, plus: bool = False) -> str:
    """One path segment or query key/value: masked if it holds patient data, else as it was."""
    decoded = (unquote_plus if plus else unquote)(piece)
    masked = mask_phi(decoded)
    if masked == masking_form(decoded):
        return piece
    return quote(masked, safe=_URL_SAFE)


def _mask_query(query: str) -> str:
    out = []
    for pair in query.split("&"):
        key, eq, value = pair.partition("=")
        if not eq:
            out.append(_mask_piece(pair, plus=True))
            continue
        name = re.sub(r"[\s_\-.\[\]]", "", unquote_plus(key).lower())
        if value and name in _KEY_PLACEHOLDER:
            value = _KEY_PLACEHOLDER[name]
        else:
            value = _mask_piece(value, plus=True)
        out.append(f"{_mask_piece(key, plus=True)}={value}")
    return "&".join(out)


def mask_url(url: str | None) -> str:
    """A URL with patient data in its path, query or fragment masked; scheme and host stay readable.

    ``https://x.example/u/A123456789?tel=0912345678`` -> ``https://x.example/u/[ID]?tel=[phone]``.
    Parts that hold nothing are kept byte for byte, so an ordinary link is returned unchanged."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_phi(url)
    if not parts.scheme and not parts.netloc:
        return mask_phi(url)
    netloc = parts.netloc
    if "@" in netloc:  # user info may be an e-mail address or a phone number
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{_mask_piece(userinfo)}@{host}"
    path = "/".join(_mask_piece(seg) for seg in parts.path.split("/"))
    query = _mask_query(parts.query) if parts.query else ""
    fragment = _mask_query(parts.fragment) if parts.fragment else ""
    if (netloc, path, query, fragment) == (parts.netloc, parts.path, parts.query, parts.fragment):
        return url
    return urlunsplit((parts.scheme, netloc, path, query, fragment))


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
