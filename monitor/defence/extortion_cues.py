"""The concepts of the extortion policy as broad word classes, and the numbers a gate reads of them.

The policy (:mod:`monitor.defence.extortion`) is a conjunction: a demand for *value* (money, a
refund, free treatment, 誠意, "make it worth my while") tied to a *removal* (the post goes away,
the rating changes, the writer stops) or to more *harm* (more posts, the press, names and
addresses), usually through a *condition* (就/不然/如果, if/or/unless/once, a deadline); or a
*service* selling deletion. What argues against it: the writer *reports* someone else's offer,
news or hearsay, a *refusal*, a *lawful* remedy. No word class decides anything alone; the
classes are wide on purpose (a gate learned from labelled rows of several authors weighs them,
:mod:`monitor.defence.extortion_gate`), so that they describe the policy rather than one
author's phrasing.

Texts are matched in the folded form of :func:`monitor.defence.lint.normal_form` (NFKC,
Simplified characters); patterns are written in Traditional characters and folded once.
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from monitor.defence.lint import normal_form
from monitor.text import t2s_table

_AMOUNT = (r"[\d][\d,.]*\s*(?:k\b|w\b|元|塊|萬|千|dollars?\b|bucks\b|grand\b)|[一二兩三四五六七八九十百千伍仟]+\s*(?:萬|千|元|塊)"
           r"|\$\s?[\d,.]+|NT\$\s?[\d,]+|\ba\s+grand\b")
CONCEPTS: dict[str, str] = {
    "value": (r"錢|退費|退錢|退我|還我|賠|補償|費用|醫藥費|療程費|手術費|誠意|紅包|表示一下|數字|金額|匯|轉帳|現金|付|給我|免費|訂金|損失|一毛"
              r"|價錢|價格|價碼|收費|報價|費|好談|好商量|" + _AMOUNT +
              r"|\$|\bmoney\b|\bcash\b|\brefund|\breimburs|\bcompensat|\bpa(?:y|id|yment)\b|\bcover\s+(?:my|the)\b|\bcomp\b"
              r"|\bfree\b|\bcomplimentary\b|\bowes?\b|\bworth\s+my\s+while|\boffer\b|\bnumbers?\b|\bamount\b|\bsum\b"
              r"|\bvenmo\b|\bwire\b|\btransfer|\bsettle|\bfinancial|\bcosts?\b|\bbills?\b|\bfees?\b|\brates?\b|\bpric\w*"
              r"|\barrangement\b|\bcheap\b|\bfix\s+my\b"),
    "removal": (r"刪|撤|下架|拿掉|拿下|移除|消失|收回|隱藏|關掉|收乾淨|收手|改(?:成|回)?[一二三四五1-5]星|改評|不再(?:發|寫|有)|停"
                r"|當作沒發生|到此為止|說是誤會|山掉|山文|暫緩|不發|不說|封口|閉嘴|洗掉|清除|壓下|處理"
                r"|\bdelet\w*|\bremov\w*|\btak(?:e|es|ing)\s+(?:\w+\s+){0,4}?down\b|\bcomes?\s+down\b|\bgo(?:es)?\s+away\b"
                r"|\bgone\b|\bretract\w*|\bedit\w*|\bpull\b|\bchang\w*\s+(?:it|my|to)\b|\bshelve|\bnot\s+post|\bforget\s+about"
                r"|\bpretend|\bstops?\b|\bquit\b|\bhide\b|\bwithdraw\w*|\bdrop\b|\bdisappear\w*|\bvanish\w*|\berase\w*|\bbury\b"
                r"|\bsuppress\w*|\bis\s+history\b|\bback\b"),
    "harm": (r"繼續|一直|每天|每週|每個|每一|再發|再加|加碼|更多|越來越多|記者|媒體|新聞|電視|議員|週刊|網紅|粉絲|訂閱|影片|限動"
             r"|照片|錄音|名字|本名|全名|住址|地址|個資|IG|爆料|社團|平台|論壇|置頂|發文|發到|po|抬棺|記者會|都知道|同事|鬧大|下一篇"
             r"|更完整|寫出來|帳號|網軍|灌|刷|一顆星|掉到|可惜"
             r"|\bkeep\b|\bevery\s+(?:day|week|site|platform|parent|\w+\s+group)|\bmore\b|\bnews\b|\breporters?\b|\bpress\b"
             r"|\bmedia\b|\bchannel\b|\bstation\b|\bproducer\b|\bpaper\b|\bviral\b|\bfollowers\b|\btiktok\b|\bvideo\b"
             r"|\bstory\b|\bphotos?\b|\bscreenshots?\b|\bnames?\b|\baddress\w*|\bpublish\w*|\bpost(?:ing|s)?\b|\bgroups?\b"
             r"|\bforums?\b|\bnextdoor\b|\breddit\b|\br/|\beveryone\b|\bescalat\w*|\bsigns\b|\binvestors\b|\bpinned\b|\btags?\b"
             r"|\bhard\s+way\b|\baccounts?\b|\btank\b|\btell\s+every\w*|\bpeace\b|\bwatch\b|\bshame\b|\bin\s+a\s+day\b"),
    "content": (r"評論|評價|負評|差評|一星|五星|星等|評分|文章|這篇|那篇|貼文|發文|留言|google|yelp|facebook|ptt|dcard"
                r"|\breviews?\b|\bposts?\b|\bratings?\b|\bstars?\b|\bcomments?\b|\bthread\b|\btweet\b|\bstory\b"),
    "condition": (r"就|不然|否則|如果|若|要是|只要|的話|再不|前提|看你們|自己(?:決定|選|想)|懂我意思|最後通牒|期限|天內|小時|截止|除非"
                  r"|直到|為止|換|條件|要不要"
                  r"|\bif\b|\bunless\b|\bor\b|\botherwise\b|\bonce\b|\buntil\b|\btill\b|\bdeal\b|\bthen\b|\bchoice\b"
                  r"|\byour\s+call\b|\bclock\b|\bexpires?\b|\bdeadline\b|\bhours\b|\bafter\s+that\b|\bball'?s\s+in\b"
                  r"|\bwe'?re\s+good\b|\bin\s+exchange\b|\bupon\b|\blet'?s\b|\bno\s+\w+,\s*no\b"),
    "first": (r"我(?:就|會|可以|保證|願意|再|先)|給我|退我|還我|本人"
              r"|\bi'?ll\b|\bi\s+will\b|\bi'?m\s+(?:prepared|happy|willing)\b|\bme\b|\bmy\b|\bwe'?d\b"),
    "reported": (r"(?:診所|他們|院方|醫生|醫師|律師|經理|櫃檯)[^,，。]{0,6}(?:說|要我|叫我|要求|求我|提出|表示|寄)|要我|叫我|被|聽說|據說"
                 r"|報導|判決|起訴|判處|易科|地檢|法院認定|男子|女子|有人說|真的假的|八卦|新聞稿|本院|廣告"
                 r"|\boffered\b|\btold\s+me\s+they\b|\basked\s+me\b|\bthey'?d\b|\bwants?\s+me\b|\bheard\b|\bindicted\b"
                 r"|\bpleaded\b|\bprosecutors?\b|\bsentencing\b|\bcharged\s+with\b|\btil\b|\bclaims?\b|\banyone\s+know\b"
                 r"|\bhas\s+anyone\b|\bshould\s+i\b|\bsettlement\s+offer\b|\bcold\s+(?:email|call)"),
    "refusal": (r"不會(?:刪|改|拿)|不刪|絕對不|不管[^,，。]{0,6}多少|不要(?:你們的)?錢|不是要錢|沒要過|拒絕|留著|無關|一毛錢都沒"
                r"|\bno\s+amount\b|\bwon'?t\b|\bnot\s+deleting\b|\bno\s+thanks\b|\bstays\b|\bstaying\b|\bnot\s+for\s+sale\b"
                r"|\brefuse\w*|\bsaid\s+no\b|\bnot\s+asking\s+for\b|\bdon'?t\s+want\s+anything\b|\bregardless\b|\bunrelated\b"
                r"|\bnope\b"),
    "lawful": (r"衛生局|消保官|消基會|消保會|醫審會|醫策會|調解|法院|小額訴訟|存證信函|報警|告你|告他|律師|陳情|申訴|警察|醫療法"
               r"|\bcourt\b|\bsmall\s+claims\b|\bboard\b|\bbbb\b|\battorney\b|\blawyer\b|\bpolice\b|\bdispute\b|\binsurer\b"
               r"|\bgrievance\b|\bcomplaint\b|\bdepartment\b|\blegal\b|\bsue\b|\bharassment\b"),
    "service": (r"本公司|敝公司|團隊|專案|服務|方案|每則|一則|每篇|單則|起|報價|加賴|line|賴|不成功不收費|包月|聲譽|橡皮擦|代刪|貴院"
                r"|貴診所|洽詢|聯繫|專業"
                r"|\bwe\s+can\b|\bour\s+(?:team|agency|fee|firm)\b|\bservices?\b|\beach\b|\bper\s+review\b|/\s*review\b"
                r"|\bpackages?\b|\bagency\b|\breputation\b|\bguarantee\w*|\baudit\b|\bbook\s+a\s+call\b|\breply\s+(?:yes|stop|1)\b"
                r"|\bquote\b|\byour\s+(?:clinic|practice)\b|\bwhatsapp\b|\bmessage\s+(?:us|for)\b|\bdiscreet\b"),
    "amount": _AMOUNT,
    "deadline": (r"[\d一二兩三四五六七八九十]+\s*(?:天|小時|日)(?:內|之內)?|明天|今天|下週|週[一二三四五六日]|前|最後"
                 r"|\bby\s+(?:\w+day|tonight|tomorrow|the\s+\d+)|\b\d+\s*(?:hours|days)\b|\buntil\s+\w+day|\bexpires\b"
                 r"|\bclock\b|\blast\s+(?:offer|notice|chance|time)\b|\bfinal\b"),
}
# the classes seen together anywhere in the text, and within WINDOW characters of each other
PAIRS = (("value", "removal"), ("value", "harm"), ("condition", "harm"), ("condition", "removal"), ("value", "condition"),
         ("first", "removal"), ("first", "harm"), ("service", "amount"), ("removal", "amount"), ("removal", "content"))
TRIPLES = (("value", "removal", "condition"), ("value", "harm", "condition"))
WINDOW = 40
NAMES = (*CONCEPTS, *(f"{a}&{b}" for a, b in PAIRS), *(f"{a}~{b}" for a, b in PAIRS),
         *("~".join(t) for t in TRIPLES), "length")
# a mention is worth the encoder only when it holds two of these classes (measured in the data README)
PREFILTER = ("value", "removal", "harm", "service")

Spans = dict[str, list[tuple[int, int]]]


@lru_cache(maxsize=1)
def _patterns() -> dict[str, re.Pattern]:
    table = t2s_table()
    return {name: re.compile(p.translate(table), re.IGNORECASE) for name, p in CONCEPTS.items()}


def cue_spans(folded: str) -> Spans:
    """Each class's matches in a folded text (the second item of :func:`normal_form`)."""
    return {name: [m.span() for m in p.finditer(folded) if m.end() > m.start()] for name, p in _patterns().items()}


def worth_encoding(spans: Spans) -> bool:
    """The cheap prefilter: two of :data:`PREFILTER`'s classes, or a removal or harm next to a condition."""
    present = {name for name in PREFILTER if spans[name]}
    return len(present) >= 2 or (bool(present & {"removal", "harm"}) and bool(spans["condition"]))


def _near(a: list[tuple[int, int]], b: list[tuple[int, int]], reach: int = WINDOW) -> bool:
    return any(abs(x[0] - y[0]) <= reach for x in a for y in b)


def cue_vector(spans: Spans, length: int) -> np.ndarray:
    """The numbers of :data:`NAMES` for one text."""
    out = [min(len(spans[name]), 3) / 3 for name in CONCEPTS]
    out += [float(bool(spans[a]) and bool(spans[b])) for a, b in PAIRS]
    out += [float(_near(spans[a], spans[b])) for a, b in PAIRS]
    out += [float(any(_near([x], spans[b], 60) and _near([x], spans[c], 60) for x in spans[a])) for a, b, c in TRIPLES]
    out.append(min(length, 600) / 600)
    return np.asarray(out, np.float32)


def cue_features(texts: list[str]) -> np.ndarray:
    """(n, len(NAMES)) cue numbers of raw texts."""
    rows = []
    for text in texts:
        folded = normal_form(text or "")[1]
        rows.append(cue_vector(cue_spans(folded), len(folded)))
    return np.stack(rows) if rows else np.zeros((0, len(NAMES)), np.float32)
