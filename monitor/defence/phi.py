"""Third-party PHI exposure: a public post that shows a patient's data in connection with the clinic.

A post about the clinic (the matching stage already tied it to an entity) exposes a patient
when it carries personal data that :mod:`monitor.privacy` masks (an ID, NHI or passport
number, a phone, an e-mail, a LINE ID, a birth date, a chart number) *next to a person's
name*: within :data:`NEAR` characters of a name such as 「病患王小明」, 「陳OO」, 「林小姐」,
"patient Jane Doe", "Mr. Smith", "Jane Doe's". A writer's own data with no name beside it
(「身分證 A123…,病歷號碼 123…」 in a complaint) is masked wherever it is shown but is no
exposure. Names of staff (「林醫師」, 「王院長」, "Dr. Lin") and of clinics are not
patients; a phone on its own (「打 02-2345-6789 都沒人接」) is the clinic's channel, not an
exposure.

Such a mention raises ``phi-exposure`` for the privacy officer, and it is *restricted*: no
page, digest or CLI listing shows its text, masked or not (:func:`is_restricted`, checked
where a mention is shown); the stored copy stays in the database for admins and evidence.
The facts carry only the kinds of data exposed and how many names, never the values.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.privacy import _RULES as _PHI_RULES  # the masking patterns themselves
from monitor.text import masking_form

NEAR = 30  # characters between a value and a name
_KIND = re.compile(r"\[(ID|phone|email|chart no\.|date of birth|LINE ID)\]")
_SURNAMES = ("王李張劉陳楊黃趙吳周徐孫馬朱胡郭何高林羅鄭梁謝宋唐許韓馮鄧曹彭曾蕭田董袁潘蔡蔣余杜葉程蘇魏呂丁任沈姚盧"
             "姜崔鍾譚陸汪范金石廖賈夏韋付方白鄒孟熊秦邱江尹薛閻段雷侯龍史陶黎賀顧毛郝龔邵萬錢嚴覃武戴莫孔向湯"
             "柯翁洪游詹賴簡溫傅施卓")
_STAFF = r"(?:醫師|醫生|院長|主任|護理師|護士|藥師|診所|醫院|牙醫|中醫|治療師|營養師)"
_ZH_NAME = re.compile(
    rf"(?:病人|病患|患者|姓名|名字叫?|家屬|個案)\s*[:：]?\s*[\u4e00-\u9fff]{{2,3}}(?!{_STAFF})"
    rf"|[{_SURNAMES}](?!{_STAFF})[\u4e00-\u9fff]{{1,2}}(?=\s*(?:先生|小姐|太太|女士|阿姨|伯伯|同學|的|之))"
    rf"|[{_SURNAMES}](?:[OoＯ○〇Xx×*＊]{{1,2}}|先生|小姐|太太|女士|阿姨|伯伯|同學)")
_EN_NAME = re.compile(
    r"\b(?:patient|client|name\s*(?:is|:)|Mr|Mrs|Ms|Miss)\.?\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?"
    r"|\b(?!(?:Dr|The|This|Our|Their|My)\b)[A-Z][a-z]+\s+(?!(?:Clinic|Hospital|Dental|Medical|Center|Health|Maps|"
    r"Street|Road|Care|Pharmacy)\b)[A-Z][a-z]+(?:'s)?\b")
_NOT_NAMES = re.compile(r"(?:醫師|醫生|院長|診所|醫院|\bDr\.?\s*$)")


@dataclass(frozen=True)
class PhiExposure:
    """What a post exposes: the kinds of data (``ID``, ``phone``, ``chart no.`` ...) and how
    many names stand beside them. Never the values."""

    exposed: tuple[str, ...]
    names: int


def _values(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every value the masking rules replace, in ``text`` (masking form)."""
    found, work = [], text
    for pattern, repl in _PHI_RULES:
        for m in pattern.finditer(work):
            replaced = repl(m) if callable(repl) else m.expand(repl)
            kind = _KIND.search(replaced)
            if kind and replaced != m.group(0):
                found.append((kind.group(1), m.start(), m.end()))
        work = pattern.sub(lambda m: "\x00" * len(m.group(0)), work)
    return found


def _names(text: str) -> list[tuple[int, int]]:
    spans = []
    for pattern in (_ZH_NAME, _EN_NAME):
        for m in pattern.finditer(text):
            if not _NOT_NAMES.search(text[max(0, m.start() - 4):m.start()]):
                spans.append(m.span())
    return spans


def detect_phi_exposure(text: str | None) -> PhiExposure | None:
    """The exposure ``text`` makes (see the module docstring), or None."""
    form = masking_form(text or "")
    values = _values(form)
    if not values:
        return None
    names = _names(form)
    exposed: dict[str, None] = {}
    near_names: set[tuple[int, int]] = set()
    for kind, start, end in values:
        beside = [n for n in names if n[1] >= start - NEAR and n[0] <= end + NEAR and not (n[0] >= start and n[1] <= end)]
        if beside:
            exposed.setdefault(kind, None)
            near_names.update(beside)
    if not exposed:
        return None
    return PhiExposure(tuple(exposed), len(near_names))


def is_restricted(title: str | None, text: str | None) -> bool:
    """Whether a mention's text exposes a patient and so is shown to admins only."""
    from monitor.mention import join_title_text

    return detect_phi_exposure(join_title_text(title or "", text or "")) is not None


RESTRICTED = {"zh-TW": "[受限內容:此貼文公開了病人的個人資料,僅限管理員檢視]",
              "en": "[restricted: this post exposes a patient's personal data; admins only]"}


def restricted_note(language: str) -> str:
    """What is shown instead of a restricted mention's text."""
    return RESTRICTED.get(language, RESTRICTED["en"])
