"""Domain cues the head reads beside the encoder and the n-grams.

A frozen encoder trained on web text does not know that 「休診」 in a clinic's post is a
notice, or that 「起訴」 in a headline is the worst news a doctor can get. These are a
handful of transparent indicators, written from the crisis guides' vocabulary: one per
cause of :mod:`monitor.causes` (1.0 when a phrase of that cause occurs), one for the
shape of a notice (opening hours, closures, announcements), one for a question, and
one for a story that ends in thanks or recovery. The head learns how much each one
counts from labelled data; they never decide a label on their own.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from monitor.causes import CAUSES, explain_causes

NAMES = (*(f"cause:{c}" for c in CAUSES), "notice", "question", "ends_well")

_NOTICE = re.compile(
    r"休診|休诊|停診|停诊|門診時間|门诊时间|看診時間|看诊时间|門診異動|门诊异动|代診|代诊|公告|通知|敬請|敬请|見諒|见谅|"
    r"造成不便|不便之處|不便之处|暫停|暂停|照常|恢復看診|恢复看诊|搬遷|搬迁|新址|歇業|歇业|開放預約|开放预约|預約專線|"
    r"報名|报名|講座|讲座|衛教|卫教|疫苗接種|疫苗接种|徵才|征才|招募|春節|春节|連假|连假|颱風|台风|"
    r"お知らせ|休診日|診療時間|臨時休診|ご了承|휴진|진료시간|안내드립니다|공지|"
    r"(?i:\bclosed (?:on|for|due)\b|\bholiday hours\b|\bwill be closed\b|\bopening hours\b|\bwe apologi[sz]e for the "
    r"inconvenience\b|\bnotice\b|\bannouncement\b|\bwe are moving\b|\bnow (?:accepting|offering|open)\b|"
    r"\bflu shots?\b|\bschedule (?:change|update)\b|\bhours:)")
_QUESTION = re.compile(r"[?？]\s*$|請問|请问|有人.{0,12}嗎|有没有人|有沒有人|推薦嗎|推荐吗|"
                       r"(?i:\banyone (?:know|been|seen|tried)\b|\bdoes anyone\b|\bhas anyone\b)|ですか|나요\?")
_ENDS_WELL = re.compile(r"(謝謝|感謝|感恩|谢谢|感谢|推推|大推|推薦|推荐|痊癒|痊愈|康復|康复|好多了|終於|终于|重生|救星|"
                        r"(?i:thank|grateful|recommend|finally|life.?changing|pain.?free|so glad|best)|"
                        r"ありがとう|感謝|감사|추천)[^。.!！?？]{0,40}[。.!！~～…]*\s*\S{0,6}$")


def cue_features(texts: Sequence[str]) -> np.ndarray:
    out = np.zeros((len(texts), len(NAMES)), np.float32)
    for row, text in enumerate(texts):
        found = explain_causes(text)
        for j, cause in enumerate(CAUSES):
            if cause in found:
                out[row, j] = 1.0
        k = len(CAUSES)
        out[row, k] = 1.0 if _NOTICE.search(text) else 0.0
        out[row, k + 1] = 1.0 if _QUESTION.search(text) else 0.0
        tail = text[-80:]
        out[row, k + 2] = 1.0 if _ENDS_WELL.search(tail) else 0.0
    return out
