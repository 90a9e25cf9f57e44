"""Extortion: a post that offers to delete content for money, or threatens more posts unless paid.

What counts (the labelled set in ``data/extortion`` follows it): anyone asking the clinic for
money, a refund, free treatment or compensation *in exchange for* removing, editing or no longer
posting reviews, or *on pain of* more reviews, posts in other groups, the press or exposing
people; and services that sell the deletion of reviews (reputation "erasers"). What does not: a
complaint about money ("I paid $300 and got nothing", 「收費簡直是勒索」), a lawful remedy as the
condition ("if they don't refund me I'll take them to court", 「不退費就向衛生局檢舉」), the
clinic's own offer or demand reported by the writer ("they offered me $50 to take down my
review", 「診所要我刪評才願意退費」), a refusal, a review removed by a platform, news or hearsay.

The verdict is learned (phrase rules written on one author's rows found 0.27-0.30 of other
authors'): a cheap prefilter of the policy's word classes
(:func:`monitor.defence.extortion_cues.worth_encoding`) lets only texts that hold one of them
(value, removal, harm, service) reach the gate of :mod:`monitor.defence.extortion_gate`, whose
logistic verdicts over the e5 encoder and character n-grams decide. Its leave-one-author-out
figures are in ``data/extortion/README.md``.

The evidence shown in the page comes from three phrase frames, each of several parts within a
short distance in the folded text (NFKC, Simplified characters, any case;
:func:`monitor.defence.lint.normal_form`):

``removal-service``  a compact phrase that only a deletion trade uses: 刪文費, 付錢刪, 負評刪除
                     服務, 網路橡皮擦, 封口費, "pay to delete", "review removal", "reputation eraser".
``pay-to-delete``    a removal (刪/撤/下架, remove/take down/go away) of content (文章/評論/這篇,
                     review/post/this), or the writer going quiet (閉嘴, "stop posting"), and a
                     payment (付/匯/元/萬, pay/$/fee/refund) within 60 characters, unless the
                     sentence before the removal reports someone else's request, an order, a
                     passive or a refusal (說/要我/要求/被/不會, "asked me", "offered", "if I",
                     "was removed", "won't").
``threat``           a condition (不然/再不/不…就, unless/"or I"/otherwise) with more harm after it
                     within 80 characters (繼續發/洗一星/上新聞, keep posting/more reviews/the
                     news); or, for "until you pay"/"then pay", before it.

When the gate says extortion and no frame matches, the frame is read off the word classes
(a service with a price; a value with a removal; else a threat) and the evidence is the sentence
that holds the most of them (:func:`_cue_evidence`).

:func:`detect_extortion` returns the frame and the phrases, as written in the original text
(the evidence shown in the page): the first frame found in that order, and the phrases of every
frame found.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from monitor.defence.extortion_cues import Spans, cue_spans, worth_encoding
from monitor.defence.extortion_gate import ExtortionGate, default_gate
from monitor.defence.lint import normal_form
from monitor.text import clean_text, t2s_table

_SERVICE = (
    r"刪文費|刪評費|刪文服務|刪評服務|刪評價碼|付錢刪|付錢山|付費刪|花錢刪|收費刪|代刪|封口費|遮羞費|網路橡皮擦|橡皮擦服務"
    r"|刪除(?:差評|負評|負面評論)服務|(?:負評|差評)(?:刪除|移除)服務|(?:給|付)錢就刪|收到(?:錢|款)?(?:立刻|馬上|就)刪"
    r"|(?:負評|差評|評論|文章)[^。,，]{0,4}(?:一則|每則|每篇|一篇)"
    r"|\bpay(?:ing)?\s+to\s+(?:delete|remove)|\breview\s+removal|\bremoval\s+service|\breputation\s+[\"“']?erasers?"
    r"|\bper\s+review\b|/\s*review\b|\beach\s+review\b|\bhush\s+money"
    r"|\b(?:delete|remove|erase)s?\s+(?:bad\s+|negative\s+)?reviews\s+for\s+(?:a\s+fee|money|\$)"
)
_DELETE = (
    r"刪|撤|下架|移除|拿掉|弄掉|洗掉|清除|消失|收回|壓下|改(?:成)?五星"
    r"|\bremov\w*|\bdelet\w*|\btak(?:e|es|ing)\s+(?:\w+\s+){0,4}?down\b|\btook\s+(?:\w+\s+){0,3}?down\b"
    r"|\bcomes?\s+down\b|\bdisappears?\b|\bgo\s+away\b|\b(?:review|post|it|this|it's|its|is|be|them)\s+gone\b"
    r"|\berase\w*|\bget\s+rid\s+of\b|\bedit\s+(?:this|it)\s+to\b|\bwipe\b|\bscrub\b|\bpull\b|\bretract\w*"
    r"|\bvanish\w*|\bsuppress\w*|\bchange\s+(?:(?:my|the|this)\s+)?(?:rating|review|it|this)\s+to\b|\bis\s+history\b"
    r"|\bpoof\b|\btake\s+(?:\w+\s+){0,3}?offline\b"
)
# the writer stops posting: a removal that needs no content beside it
_SILENCE = (r"閉嘴|封口|停止發|不再發|刪不刪|\bwant\s+your\s+(?:\d(?:\.\d)?|rating|stars?|\d\s+stars)\s+back\b"
            r"|\bstop\s+(?:posting|reviewing)\b|\bi\s+stop\b|\bquit\s+(?:posting|reviewing)\b")
_CONTENT = (r"文章|貼文|發文|po文|篇|評論|評價|評分|負評|差評|一星|五星|星等|顆星|留言|帖|刪文|刪評|撤文|的文|[這那一每幾]則"
            r"|review|post|rating|star|comment|wrote|\bthis\b|\bthem\b")
_PAY = (
    r"付|給(?:我)?錢|給我|錢|匯|轉帳|轉賬|費|價碼|價錢|價格|報價|賠|退我|退費|補償|拿.{0,3}來|準備.{0,3}[萬千]"
    r"|NT\$|新台幣|[\d零一二兩三四五六七八九十百千萬]+\s*(?:元|塊|萬|千)"
    r"|\bpay(?:s|ing)?\b|\$\s?\d|\b\d[\d,.]*\s?(?:k|dollars?|dollers|bucks)\b|\bfees?\b|\bpric\w*|\brates\b"
    r"|\bquote\b|\bvenmo\b|\bpaypal\b|\bwire\b|\btransfer\b|\bcrypto\b|\bmoney\b|\brefund\w*|\bcompensat\w*"
    r"|\bsettle\b|\bdamages\b|\bworth\s+my\s+while\b|\bcash\s*app\b|\breimburs\w*|\bget\s+paid\b"
    r"|\bmake\s+me\s+an\s+offer\b|\bworth\s+to\s+you\b"
)
# the sentence before a removal reports someone else's request, an authority's order, a passive, hearsay or a refusal
_REPORTED = (
    r"說|(?<!想)要我|叫我|要求|逼我|請我|被|聽說|據說|勒令|開罰"
    r"|\boffered\b|\boffer(?:s|ing)?\s+(?:me|us)\b|\bask\w*\s+(?:me|us)\b|\btold\s+(?:me|us)\b|\bwant(?:s|ed)?\s+me\b"
    r"|\bdemand\w*\s+(?:i|me|that)\b|\bpressur\w*|\bif\s+i\b|\bsounds\s+like\b|\bheard\b|\bapparently\b|\brumou?r"
    r"|\bthey\s+pay\s+someone\b|\b(?:was|were|been|got|being)\s+$|(?:不會|不|沒|別)\s*$"
    r"|\b(?:won't|will\s+not|never|not\s+going\s+to|refuse\s+to)\s+$"
)
# a condition, and the harm that follows it
_CONDITION = (
    r"不然|否則|再不|一天不|如果不|要是不|不[^。!?,，\n]{0,12}?就|不(?:全額)?(?:賠|付|給|匯|退|出來|處理)|不想.{0,6}就"
    r"|不[^。!?,，\n]{0,6}?的話|沒(?:給|賠|退|付)[^。!?,，\n]{0,8}[,，]?\s*我就"
    r"|\bunless\b|\bor\s+(?:else|i|i'll|i\s+will|this|watch|a\s+new)\b|\botherwise\b|\bif\s+you\s+don'?t\b"
    r"|\bif\s+not\b|\bevery\s+day\s+you\s+don'?t\b|\brefuse\s+and\b|\bkeep\s+ignoring\b|\beither\s+you\b"
    r"|\byour\s+choice\b|\bpay\s+or\b|\byour\s+call\b|\bwould\s+be\s+a\s+shame\b|\bwon'?t\s+happen\b"
    r"|\bif\s+the\s+money\s+isn'?t\b|\bno\s+(?:payment|money|refund),?\s+no\b"
    r"|\bif\s+i\s+don'?t\s+get\s+(?:paid|my\s+money)\b|\buntil\s+i\s+get\s+my\s+money\b"
)
# ... and the conditions that follow the harm ("I'll keep posting until you pay")
_CONDITION_AFTER = (r"\buntil\s+(?:you|i'm)\s+pa(?:y|id)\b|\bthen\s+pay\b|\bunless\s+you\s+(?:pay|refund|compensat)|\bwould\s+be\s+a\s+shame\b"
                     r"|\bwon'?t\s+happen\b")
_POST = r"(?:發(?!生|現|票|展|炎|燒|育)|po|貼|留|來留|來洗|洗)"
_MORE = (
    rf"繼續{_POST}|一直[^,，。!?！？]{{0,6}}?{_POST}|每天[^,，。!?！？]{{0,14}}?{_POST}|天天{_POST}|每天一則|每天[^,，。]{{0,4}}一星"
    r"|(?:他們|你們)倒|每小時|一天發|發一篇|洗負評|洗一星|灌一星|灌負評"
    r"|洗版|一星留到底|更多一星|(?:負評|一星|評論)[^,，。]{0,6}越來越多|只會越來越多|只會更多|會更多|繼續增加"
    r"|每個.{0,4}(?:社團|平台|論壇|群)|各大社團|各(?:大)?平台|爆料|上新聞|(?:找|給|爆給|告訴)(?:記者|媒體)|臭名"
    r"|掉到一顆星|發到|貼到|撐多久|倒為止|你們關門|讓你們倒|網軍|出現在|刷到|刷一星|刷負評|找朋友"
    rf"|持續[^,，。]{{0,6}}?{_POST}"
    r"|\bkeep\s+(?:posting|leaving|going|sharing|telling\s+(?:the\s+internet|everyone|people))\b"
    r"|\bpost\s+(?:it|this|more|the\s+photos|them)\b|\bmore\s+(?:(?:one-star|1-star|1\s+star|bad|negative)\s+)?reviews\b"
    r"|\bmore\s+coming\b|\bflood\b|\bevery\s+(?:site|platform|\w+\s+group)|\ball\s+platforms\b|\btrending\b"
    r"|\b(?:the|local)\s+(?:news|press|media)\b|\breporters?\b|\bratings?\s+tank|\bnew\s+accounts\b"
    r"|\baccounts\s+ready\b|\b\d+\s+accounts\b|\bleaving\s+(?:1|one)[\s-]star|\bplenty\s+of\s+accounts\b|\ba\s+new\s+(?:\S+\s+)?review\b|\banother\s+review\b"
    r"|\bcopied\s+to\b|\bsharing\s+this\b|\bgets\s+worse\b|\bi\s+have\s+friends\b|\beverywhere\b"
    r"|\bone\s+review\s+at\s+a\s+time\b|\bleave\s+\d+\s+reviews\b|\breviews\s+in\s+a\s+day\b|\btell\s+every\w*"
    r"|\bposting\s+(?:the|this|it|everything)\b|\btiktok\b|\bfull\s+story\b|\bon\s+your\s+(?:google|yelp|facebook)\s+page\b"
    r"|\beveryone\s+(?:in|at|on)\b|\bhears?\s+about\s+(?:you|this)\b"
)
_SENTENCE_END = re.compile(r"[。!?！？\n]|[.?!](?=\s)")
_PAY_REACH, _CONTENT_REACH, _THREAT_REACH = 60, 50, 80
_PHRASE_GAP = 24  # parts of one frame this close are shown as one phrase


@dataclass(frozen=True)
class Extortion:
    """An extortion post: its frame and the phrases that raised it, as written."""

    frame: str                 # removal-service | pay-to-delete | threat
    phrases: tuple[str, ...]


@lru_cache(maxsize=1)
def _patterns() -> dict[str, re.Pattern]:
    table = t2s_table()
    raw = {"service": _SERVICE, "delete": _DELETE, "silence": _SILENCE, "content": _CONTENT, "pay": _PAY,
           "reported": _REPORTED, "condition": _CONDITION, "condition_after": _CONDITION_AFTER, "more": _MORE}
    return {name: re.compile(p.translate(table), re.IGNORECASE) for name, p in raw.items()}


def _near(pattern: re.Pattern, folded: str, start: int, end: int, reach: int) -> re.Match | None:
    """The match of ``pattern`` closest to [start, end) within ``reach`` characters."""
    lo, hi = max(0, start - reach), min(len(folded), end + reach)
    found = [m for m in pattern.finditer(folded, lo, hi) if m.end() > m.start()]
    return min(found, key=lambda m: abs(m.start() - start), default=None)


def _reported(folded: str, start: int) -> bool:
    """Whether the sentence before ``start`` reports someone else's request (or is passive)."""
    begin = max((m.end() for m in _SENTENCE_END.finditer(folded, 0, start)), default=0)
    return bool(_patterns()["reported"].search(folded[begin:start]))


def _pay_to_delete(folded: str) -> list[tuple[int, int]] | None:
    p = _patterns()
    removals = [(m, False) for m in p["delete"].finditer(folded)] + [(m, True) for m in p["silence"].finditer(folded)]
    for removal, silence in sorted(removals, key=lambda r: r[0].start()):
        if _reported(folded, removal.start()):
            continue
        content = silence or _near(p["content"], folded, removal.start(), removal.end(), _CONTENT_REACH)
        pay = _near(p["pay"], folded, removal.start(), removal.end(), _PAY_REACH)
        if content and pay is not None:
            return [removal.span(), pay.span()]
    return None


def _threat(folded: str) -> list[tuple[int, int]] | None:
    """A condition with more harm after it (or, for "until you pay", before it)."""
    p = _patterns()
    for condition in p["condition"].finditer(folded):
        more = p["more"].search(folded, condition.start(), min(len(folded), condition.end() + _THREAT_REACH))
        if more is not None and more.end() > more.start():
            return [condition.span(), more.span()]
    for condition in p["condition_after"].finditer(folded):
        more = _near(p["more"], folded, condition.start(), condition.start(), _THREAT_REACH)
        if more is not None:
            return [more.span(), condition.span()]
    return None


def detect_extortion(text: str | None, gate: ExtortionGate | None = None) -> Extortion | None:
    """The extortion ``text`` makes (see the module docstring), or None. ``gate``: the shipped
    one (:func:`monitor.defence.extortion_gate.default_gate`) unless given."""
    nf, folded, index = normal_form(text or "")
    if not folded.strip():
        return None
    cues = cue_spans(folded)
    if not worth_encoding(cues):
        return None
    if not (gate or default_gate()).verdicts([clean_text(text)])[0]:
        return None
    service = [m.span() for m in _patterns()["service"].finditer(folded)]
    found = [(frame, spans) for frame, spans in (("removal-service", service), ("pay-to-delete", _pay_to_delete(folded)),
                                                 ("threat", _threat(folded))) if spans]
    if not found:
        return _cue_evidence(text or "", folded, index, cues)
    phrases = _phrases(text or "", index, [span for _, spans in found for span in spans])
    return Extortion(found[0][0], phrases)


_EVIDENCE_CLASSES = ("value", "amount", "removal", "harm", "condition", "service")
_EVIDENCE_CHARS = 160


def _cue_evidence(original: str, folded: str, index: list[int], spans: Spans) -> Extortion:
    """The frame read off the word classes, and the sentence holding the most of them (as written)."""
    frame = ("removal-service" if spans["service"] and spans["amount"] and not spans["first"]
             else "pay-to-delete" if spans["value"] and spans["removal"] else "threat")
    bounds = [0, *(m.end() for m in _SENTENCE_END.finditer(folded)), len(folded)]
    sentences = [(a, b) for a, b in zip(bounds, bounds[1:]) if folded[a:b].strip()]

    def weight(sentence: tuple[int, int]) -> int:
        a, b = sentence
        return sum(any(a <= s < b for s, _ in spans[name]) for name in _EVIDENCE_CLASSES)

    start, end = max(sentences, key=weight)
    end = min(end, start + _EVIDENCE_CHARS)
    phrase = original[index[start]:index[end - 1] + 1].strip()
    return Extortion(frame, (phrase,) if phrase else ())


def _phrases(original: str, index: list[int], spans: list[tuple[int, int]]) -> tuple[str, ...]:
    """The evidence as written: parts closer than :data:`_PHRASE_GAP` make one phrase."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start - merged[-1][1] <= _PHRASE_GAP:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    phrases = dict.fromkeys(original[index[a]:index[b - 1] + 1].strip() for a, b in merged)
    return tuple(p for p in phrases if p)
