"""The reply linter: what a public reply to a review must never say.

A reply is checked before anyone posts it (``repwatch reply check``, every generated draft,
the dashboard's editor). Each rule follows the seed texts' principles:

``patient-confirmation``  the reply confirms that the writer (or a relative) was seen, treated
                          or has records here (「您上次來看診時」, "your records show",
                          "as your doctor"); HIPAA and 醫療法 treat that as a disclosure.
``phi``                   an ID, phone, e-mail, chart or NHI number, birth date or LINE ID, found
                          with :mod:`monitor.privacy`'s own masking patterns. The clinic's own
                          channel introduced as such (「請來電 02-…」, "email us at …") is not PHI.
``absolute-claim``        absolute or efficacy wording: 保證, 根治, 100%, 最好, 全台第一, 無痛,
                          無副作用, 永久, guaranteed, cure, permanent, painless, best, #1.
``comparative-claim``     a comparison against other clinics (比其他診所好, 別家都…, "unlike
                          other clinics", "better than the clinic down the street").
``testimonial``           before/after pictures or testimonials without a disclosure (consent,
                          results vary), and any incentive for a review (好評送, "5-star review and
                          get …"): the seeds count both as undisclosed endorsement.
``compensation-promise``  a public promise of money or free care (全額退款, 賠償, 免費補做,
                          "full refund", "we will compensate you"): settle that offline.

Decisions (the labelled set in ``data/`` follows them):

- A negated or disclaimed claim is not a claim: 「我們無法保證」, 「並非無痛」, "we cannot
  guarantee", "there is no cure", 「我們不會提供退費」. The negator must sit in the same
  clause, before the claim. Negative-form claims (「不會有任何副作用」, "no side effects") are
  claims. Patient confirmation and PHI are never excused by a negation.
- Benign uses are not flags: 「第一時間」「第一線」「第一步」, 「最好的方式是來電」 (advice),
  「百分之百重視」 and "100% committed" (attention, not efficacy), "do our best",
  "best regards", "secure"/"procure"/"manicure", 「盡力彌補」 (no concrete compensation),
  a refund mentioned as a topic (「關於退費的規定」).
- The seeds' own sample reply says 「您這次不愉快的就診體驗」; its "your visit" still confirms
  a visit, so such wording is flagged. 「您描述的經驗」 / "the experience you describe" is fine.

The text is matched in a normal form from :mod:`monitor.text` (NFKC, Traditional -> Simplified
characters, one character for one), so Simplified input is checked too; every span points
into the original text.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable

from monitor.privacy import _RULES as _PHI_RULES  # the masking patterns themselves
from monitor.text import CJK, INVISIBLE as _INVISIBLE, masking_form, one_line, t2s_table

RULES = ("patient-confirmation", "phi", "absolute-claim", "comparative-claim", "testimonial",
         "compensation-promise")

REASONS = {
    "patient-confirmation": "It confirms that the writer or a relative was seen or treated here, "
                            "which HIPAA and Taiwan's Medical Care Act treat as disclosing health information.",
    "phi": "It repeats personal data (an ID, phone, e-mail, chart number, birth date or LINE ID) in public, "
           "which the Personal Data Protection Act forbids without consent.",
    "absolute-claim": "It makes an absolute or efficacy claim, which medical advertising rules forbid "
                      "because no treatment is certain.",
    "comparative-claim": "It compares the clinic with other clinics, an unfair comparison under "
                         "medical advertising rules that also invites a defamation dispute.",
    "testimonial": "It offers testimonials, before/after pictures or a reward for reviews without a "
                   "disclosure, which advertising rules treat as misleading endorsement.",
    "compensation-promise": "It promises money or free care in public, which reads as admitting fault "
                            "and invites copycat claims; settle compensation offline.",
}


@dataclass(frozen=True)
class Flag:
    """One problem: ``span`` is (start, end) into the original text, ``excerpt`` that slice."""

    rule: str
    span: tuple[int, int]
    excerpt: str
    reason: str

    def as_dict(self) -> dict:
        return {"rule": self.rule, "span": list(self.span), "excerpt": self.excerpt, "reason": self.reason}


def _t(pattern: str) -> re.Pattern:
    """Compile a pattern written in Traditional characters against the folded text."""
    return re.compile(pattern.translate(t2s_table()), re.IGNORECASE)


# --- patient confirmation -------------------------------------------------------------
_CARE = (r"(?:看診|就診|就醫|回診|看病|門診|治療|手術|住院|檢查|打針|疫苗|拔牙|植牙|根管|洗牙|療程|候診|"
         r"處置|開刀|掛號|做的|接受的)")
_WHEN = (r"(?:這次|上次|上回|前次|那次|當天|那天|當時|之前|先前|日前|上週|上禮拜|上個?月|昨天|前天|去年|今年|本月|"
         r"\d+\s*月(?:\s*\d+\s*[日號])?|\d+\s*[日號])")
_KIN = r"(?:孩子|小孩|兒子|女兒|寶寶|小朋友|母親|媽媽|父親|爸爸|先生|太太|家人|長輩)"
_RECORD = (r"(?:病歷號?碼?|就診紀錄|就醫紀錄|掛號紀錄|治療紀錄|檢查報告|檢驗報告|檢查結果|檢驗結果|報告|療程(?!心得)|"
           r"手術|處方|用藥|藥單|回診|預約|病情|診斷|X光|傷口|術後|恢復狀況|就診體驗|就診經驗|看診經驗)")
_EN_CARE = (r"(?:visit|appointment|consultation|procedure|surgery|treatment|stay|exam|check-?up|session|"
            r"follow-up visit|cleaning|operation)")
_EN_RECORD = (r"(?:records?|chart|file|test results?|lab results?|results|prescription|dosage|diagnosis|MRN|"
              r"medical history|x-rays?|scans?|bloodwork|blood work|biopsy)")
_PATIENT = tuple(_t(p) for p in (
    rf"您\s*{_WHEN}.{{0,12}}?{_CARE}",
    rf"您(?:在|於|到)[^，。！？]{{0,10}}?(?:本院|本診所|本所|敝院|我們這裡|我們診所)[^，。！？]{{0,10}}?{_CARE}",
    rf"您的?{_RECORD}",
    rf"您的?{_KIN}的?[^，。！？]{{0,12}}?(?:{_CARE}|{_RECORD}|紀錄|過敏|照護)",
    r"您所?預約的",
    r"(?:作為|身為|我是)您的.{0,4}(?:醫師|醫生|主治|牙醫|中醫師|藥師|護理師)",
    rf"(?:醫師|醫生|護理師|我們){_WHEN}?(?:已|有|都)?(?:告知|說明|提醒|交代)(?:過)?您",
    r"您.{0,3}簽(?:了|過)?(?:同意書|手術同意)",
    r"(?:紀錄|記錄|病歷|資料|監視器)(?:上)?顯示您",
    r"(?:先生|小姐|太太|女士)[^，。！？]{0,6}?(?:在|於)(?:本院|本診所|本所)",
    r"請您?.{0,3}回診",
    r"\bwhen you (?:visited|came in|came to see|were here|were seen|saw (?:dr|the doctor|us))",
    rf"\b(?:during|at|after|before|from) your (?:last |recent |previous |first |follow-up )?{_EN_CARE}",
    rf"\byour (?:last |recent |previous |follow-up )?{_EN_CARE}\b(?= (?:with us|here|at our|on|last|was|went|"
    r"showed|fell|has|had))",
    rf"\byour (?:last |recent |previous |follow-up )(?:{_EN_CARE})",
    rf"\byour {_EN_RECORD}\b",
    r"\bas your (?:doctor|dentist|physician|surgeon|pediatrician|paediatrician|provider|care team|gp|"
    r"dermatologist|therapist|nurse)",
    r"\b(?:remembers?|recalls?) (?:treating|seeing|examining) you\b",
    r"\b(?:our|the) records (?:show|indicate|suggest|say)",
    r"\b(?:we checked your|according to (?:our|your) (?:records|chart|file))",
    r"\byou (?:had|have had|received|underwent|got) [\w\s-]{0,40}?\b(?:here|with us|at our (?:clinic|office|practice))\b",
    r"\b(?:the|this|that) (?:visit|appointment|procedure|surgery) (?:fell|went|was|did|didn't)\b",
    r"\byour (?:son|daughter|child|kid|baby|mother|father|husband|wife|mom|mum|dad)'?s? (?:\w+ ){0,2}?"
    r"(?:results?|records?|chart|visit|appointment|treatment|vaccin\w*|tests?|allergy|diagnosis)",
))

# --- absolute and efficacy claims -----------------------------------------------------
_ABSOLUTE = tuple(_t(p) for p in (
    r"保證", r"根治", r"百分之百(?!重視|用心|認真|負責|投入|努力|配合)",
    r"100\s*%(?!\s*(?:重視|用心|認真|負責|投入|committed|dedicated|serious|focused|behind)\b)",
    r"一次見效", r"藥到病除", r"治癒率",
    r"(?:無|零|沒有任何|沒有|不會有任何|不會有|毫無)副作用", r"(?:無|零|沒有|毫無)風險", r"無痛", r"永久",
    r"完全(?:不會|沒有|無|根除|恢復|治癒|康復|痊癒|消失)[^，。！？]{0,3}",
    r"絕對(?:有效|安全|不痛|不會痛|沒問題|成功|改善|根治)",
    r"(?:全台|全臺|全國|全球|全亞洲|業界|北部|中部|南部|台灣|臺灣|亞洲|銷量|排名|評價|口碑|業績|人氣)(?:第一|唯一|No\.?\s*1)",
    r"第一(?:名|品牌|把交椅|家|位引進|流)", r"(?:是|為|堪稱|號稱)第一(?![時次步線天手個週周期階段])",
    r"最(?:好|佳|棒|強|安全|有效|專業|先進|便宜|頂尖|優秀|豐富|權威|有經驗|受歡迎|頂級|專精)"
    r"(?!的?(?:方式|辦法|方法|做法|回應|時機|建議|速度|選擇是)|[先是能可不直請您還在與])",
    r"\bguarantee[ds]?\b", r"\bcur(?:e[ds]?|ing)\b", r"\bpermanent(?:ly)?\b(?! (?:staff|address|resident|record))",
    r"\bpainless(?:ly)?\b", r"\b(?:no|zero) (?:side[- ]effects?|pain|risks?|downtime|scarring)\b", r"\brisk[- ]free\b",
    r"#\s?1\b", r"\bnumber one\b", r"\bno\.\s?1\b",
    r"\b(?:safest|most (?:effective|experienced|advanced|trusted|qualified|skilled|successful))\b",
    r"\bthe only (?:one|clinic|place|doctor|practice)\b", r"\bworks for (?:everyone|everybody|all)\b",
    r"\blifelong\b|\blasts? (?:a )?lifetime\b|\bforever\b",
    r"(?<!all the )(?<!at )(?<!as )(?<!our )(?<!my )(?<!their )\bbest\b(?! (?:regards|wishes|way|time|to|of luck|"
    r"practice|handled|done|discussed|addressed|answered|reached)\b)",
))

# --- comparisons with other clinics ---------------------------------------------------
_OTHERS_ZH = (r"(?:其他|別家|別間|別的|某些|有些|一些|外面(?:那些)?的?|隔壁|同業|一般|市面上?|坊間|大|那些|連鎖)"
              r"[^，。！？]{0,4}?(?:診所|醫院|院所|醫美|牙醫|中醫|醫師|醫生|同業)?")
_EN_OTHERS = r"(?:clinics?|practices?|dentists?|doctors?|offices?|chains?|places?|providers?|competitors?|hospitals?)"
_COMPARATIVE = tuple(_t(p) for p in (
    rf"比(?!較){_OTHERS_ZH}[^，。！？]{{0,8}}?(?:好|強|專業|便宜|安全|有效|優|厲害|用心|高明|貴|差|快|多)",
    r"(?:別家|別間|別的診所|其他診所|其他醫院|其他醫美(?:診所)?|其他牙醫(?:診所)?|其他院所|某些診所|有些診所|"
    r"外面(?:那些)?的?診所|一般醫美(?:診所)?|大醫院|連鎖診所)[^，。！？]{0,10}?"
    r"(?:都|只會|亂|坑|騙|比我們|不專業|隨便|派來|假帳號|不敢|更貴|比較貴)",
    rf"(?:不會?像|不同於|有別於){_OTHERS_ZH}",
    rf"(?:與|跟|和){_OTHERS_ZH}(?:不同|不一樣|相比|比起來)",
    rf"(?:遠勝|勝過|優於|贏過|超越){_OTHERS_ZH}",
    rf"\bunlike (?:other|many|most|some|the|those|big|larger)\b[^.!?]{{0,30}}?\b{_EN_OTHERS}",
    rf"\bbetter than (?!(?:this|that|expected|before|we|ever|last)\b)[^.!?]{{0,30}}?\b(?:{_EN_OTHERS}|others|anyone)\b",
    rf"\b(?:cheaper|safer|more experienced|more affordable|more professional) than\b[^.!?]{{0,30}}?\b{_EN_OTHERS}",
    rf"\bcompared (?:to|with) (?:other|most|many|the)\b[^.!?]{{0,20}}?\b{_EN_OTHERS}",
    rf"\b(?:other|most|many|some) {_EN_OTHERS}(?: in [\w ]{{1,20}}?)? (?:overcharge|charge|rush|just|only|don't|won't|"
    r"push|upsell|can't|never|use)\b",
    r"\b(?:the competition|our competitors)\b",
))

# --- testimonials and review incentives -----------------------------------------------
_SHOWCASE = tuple(_t(p) for p in (
    r"術前術後(?:對比|比較|比對)?(?:照片?|圖)?", r"前後對比(?:照片?|圖)?", r"見證",
    r"\bbefore[- ]and[- ]after(?: photos?| gallery| pictures?| results?)?", r"\bbefore/after\b",
    r"\btestimonials?\b", r"\bpatient stories\b",
))
_INCENTIVE = tuple(_t(p) for p in (
    r"(?:好評|五星|評論|打卡|心得|評價)[^。！？]{0,10}?(?:送|折抵|折|抽獎|贈|享|免費|就送)",
    r"\b(?:leave|write|post)(?: us)? an? (?:5|five)[- ]star review[^.!?]{0,30}?\b(?:get|receive|win|enter|for)\b[^.!?]{0,12}",
    r"\b(?:share your (?:story|experience)|review us|leave (?:us )?a review)[^.!?]{0,40}?\b(?:receive|get|win|free|"
    r"discount|gift|voucher|entered)\b[^.!?]{0,20}",
))
# asking for stories or reviews is only a problem next to a reward (an _INCENTIVE in the same reply)
_SOLICIT = tuple(_t(p) for p in (r"分享(?:您的)?(?:療程|使用)?心得", r"\bshare your (?:story|experience)\b"))
_DISCLOSURE = _t(r"經當事人同意|經本人同意|已取得.{0,6}同意|效果因人而異|\bresults (?:may )?vary\b|\bwith (?:their )?"
                 r"(?:written )?consent\b|\bpaid partnership\b")

# --- compensation promises ------------------------------------------------------------
_COMPENSATION = tuple(_t(p) for p in (
    r"全額退(?:款|費)", r"包退", r"無效退(?:費|款)", r"退還[^，。！？]{0,12}?費用?", r"賠償(?:您的?)?[^，。！？]{0,6}",
    r"補償", r"免費(?:補做|重做|為您重做|處理|修補|再做|回診|修改)[^，。！？]{0,3}", r"免費的?[^，。！？]{0,4}?療程",
    r"免收[^，。！？]{0,6}?費", r"(?:送|贈送)您[^，。！？]{0,10}?(?:禮券|療程|保養品|折價券|優惠券|體驗)", r"禮券|折價券",
    r"(?:將|會|願意|可以|可|立即|馬上|一定|為您|幫您|替您|給您|予以)[^，。！？]{0,3}?退(?:費|款|錢)",
    r"\bfull refund\b", r"\brefund (?:you|your|all|every|in full)\b", r"\bwe(?:'ll| will| can| would)?"
    r"(?: be happy to| be glad to| happily| gladly)? refund\b", r"\bissue (?:a|you a) refund\b", r"\bmoney back\b",
    r"\breimburse\w*(?: [\w-]+){0,3}", r"\bcompensat(?:e|ion)\b(?: you)?",
    r"\bfree (?:redo|re-?treatment|retreatment|session|cleaning|filling|visit)s?\b",
    r"\b(?:next|following) [\w ]{0,20}? (?:is|are) (?:free|on us|on the house)\b",
    r"\bcomplimentary (?:session|treatment|visit|cleaning)s?\b", r"\bwaive (?:your|the|all) (?:fees?|charges?|costs?)\b",
    r"\bcover (?:any|all|the|your) [\w-]+ (?:costs?|fees?|bills?|expenses)\b", r"\bon the house\b",
    r"\bgift (?:card|voucher)s?\b",
))

_NEGATOR = _t(r"無法|不能|不會|不可能|沒有|沒辦法|並非|不是|不做|不提供|不接受|不使用|不刊登|不張貼|不以|不予|從不|從未|"
              r"絕不|絕非|拒絕|不得|未曾|\b(?:not|no|never|cannot|unable|without|nor|neither)\b|\b\w+n['’]t\b")
_CLAUSE = re.compile(r"[。！？；，、,.!?;:：\n]")

# the clinic's own channel: a phone, e-mail or LINE ID introduced as such is not PHI
_CONTACT_BEFORE = _t(
    r"(?:(?:請您?|歡迎您?|或|及|並|可|敬請)\s*(?:透過|來電|致電|撥打|電洽|聯繫|聯絡|來信|寫信|寄信|私訊|加入)(?:至|到)?"
    r"(?:本院|本診所|我們)?(?:的)?(?:客服|服務|諮詢|預約)?(?:專線|電話|信箱)?"
    r"|(?:客服|服務|諮詢|預約|聯絡|病人關係|公關)(?:專線|電話|信箱|窗口)(?:為|是)?|專線|分機"
    r"|(?:本院|本診所|本所|我們的?|院方|官方)(?:電話|專線|信箱|email|e-mail|LINE|帳號)(?:為|是)?"
    r"|\b(?:call|phone|text|email|e-mail|write to|message|reach|contact|dial)\s+(?:us|our\b[^.!?\n]{0,40}?"
    r"|the (?:clinic|office|practice|front desk)[^.!?\n]{0,20}?)\s*(?:at|on|via|:)?"
    r"|\bour\b[^.!?\n]{0,30}?\b(?:line|number|phone|email|e-mail|address|inbox|desk)\s*(?:is|:)?"
    r"|\b(?:us|our)\b[^.!?\n]{0,60}?\bby (?:phone|e-?mail)\s*(?:at|on|:)?"
    r"|\bus\b[^.!?\n]{0,20}?\b(?:at|on|via)|\b(?:please|or|and)\s+(?:call|email|e-mail|text|write to|contact))"
    # ... optionally naming the channel before the value: "contact us at LINE @abc", 「專線電話：02-…」
    r"(?:\s*(?:line(?:\s*id)?|tel\.?|phone|e-?mail|電話|信箱))?[\s:：]*$")
_CONTACT_AFTER = _t(r"^\s*(?:與|和|跟)我們(?:聯繫|聯絡)|^\s*(?:to reach us|to contact us)")
# what precedes the value inside a masking match: a LINE keyword, separators, "is"/"是"
_VALUE_LEAD = re.compile(r"(?:(?:line|賴)(?:\s*(?:id|帳號|账号|號碼?|号码?))?(?=[\s:：=是為为])|加(?:我的?)?賴"
                         r"|(?:my|on)\s+line\b)?[\s:：=#]*(?:(?:is|was|on|是|為|为|在)\s*)?[:：#]?\s*", re.IGNORECASE)


def normal_form(text: str) -> tuple[str, str, list[int]]:
    """(NFKC form, NFKC form with Simplified characters, index of each character in ``text``)."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if _INVISIBLE.match(ch):
            continue
        for c in unicodedata.normalize("NFKC", ch):
            chars.append(c)
            index.append(i)
    index.append(len(text))
    nf = "".join(chars)
    return nf, nf.translate(t2s_table()), index


def _negated(folded: str, start: int) -> bool:
    window = folded[max(0, start - 40):start]
    clause = _CLAUSE.split(window)[-1]
    return bool(_NEGATOR.search(clause))


def _find(patterns: Iterable[re.Pattern], folded: str, *, negatable: bool) -> list[tuple[int, int]]:
    spans = []
    for pattern in patterns:
        for m in pattern.finditer(folded):
            if m.end() > m.start() and not (negatable and _negated(folded, m.start())):
                spans.append((m.start(), m.end()))
    return spans


def _value_span(m: re.Match, repl) -> tuple[int, int] | None:
    """Where the personal value sits in a masking match (the keyword is not PHI)."""
    if callable(repl):
        return None if repl(m) == m.group(0) else (m.start(), m.end())
    start, end = m.start(), m.end()
    if repl.startswith("\\1"):
        start = m.end(1)
    elif repl.endswith("\\1"):
        end = m.start(1)
    start += _VALUE_LEAD.match(m.string, start, end).end() - start
    while end > start and m.string[end - 1] in ".-_":  # a sentence's full stop is not part of an ID
        end -= 1
    return (start, end) if end > start else None


def _own_contact(folded: str, start: int, end: int) -> bool:
    before = folded[max(0, start - 80):start]
    return bool(_CONTACT_BEFORE.search(before) or _CONTACT_AFTER.match(folded[end:end + 12]))


def _phi_spans(nf: str, folded: str) -> list[tuple[int, int]]:
    """Every value the masking rules would replace, in their order (an e-mail is not also a phone)."""
    work, spans = nf, []
    for pattern, repl in _PHI_RULES:
        for m in pattern.finditer(work):
            span = _value_span(m, repl)
            if span and not _own_contact(folded, *span):
                spans.append(span)
        work = pattern.sub(lambda m: "\x00" * len(m.group(0)), work)
    return spans


def _testimonial_spans(folded: str) -> list[tuple[int, int]]:
    spans = _find(_INCENTIVE, folded, negatable=True)
    if spans:
        spans += _find(_SOLICIT, folded, negatable=True)
    if not _DISCLOSURE.search(folded):
        spans += _find(_SHOWCASE, folded, negatable=True)
    return spans


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def _allowed(nf: str, allow: Iterable[str]) -> list[tuple[int, int]]:
    out = []
    for value in allow:
        value = masking_form(value).strip()
        start = nf.find(value) if value else -1
        while start >= 0:
            out.append((start, start + len(value)))
            start = nf.find(value, start + 1)
    return out


def lint(text: str, language: str | None = None, *, allow: Iterable[str] = ()) -> list[Flag]:
    """Every problem in a reply, in text order.

    ``language`` ("zh-TW", "en" or None) is accepted for the callers' symmetry with drafts; every
    rule runs on every text, because replies mix scripts (「100%有效」, 「No.1」, "LINE ID").
    ``allow`` lists strings the reply may contain verbatim, such as the clinic's own name and
    contact channel (「第一診所」 is a name, not a ranking): a flag inside one is dropped."""
    del language  # see the docstring: the rules are script-agnostic
    nf, folded, index = normal_form(text or "")
    found = {
        "patient-confirmation": _find(_PATIENT, folded, negatable=False),
        "phi": _phi_spans(nf, folded),
        "absolute-claim": _find(_ABSOLUTE, folded, negatable=True),
        "comparative-claim": _find(_COMPARATIVE, folded, negatable=True),
        "testimonial": _testimonial_spans(folded),
        "compensation-promise": _find(_COMPENSATION, folded, negatable=True),
    }
    allowed = _allowed(nf, allow)
    flags = []
    for rule in RULES:
        for start, end in _merge(found[rule]):
            if any(a <= start and end <= b for a, b in allowed):
                continue
            span = (index[start], index[end - 1] + 1)
            flags.append(Flag(rule, span, text[span[0]:span[1]], REASONS[rule]))
    return sorted(flags, key=lambda f: (f.span, f.rule))


def detect_language(text: str) -> str:
    """"zh-TW" when Chinese characters outnumber Latin letters, else "en"."""
    han = len(CJK.findall(text or ""))
    latin = len(re.findall(r"[A-Za-z]", text or ""))
    return "zh-TW" if han and han >= latin / 4 else "en"


def check_text(text: str, *, allow: Iterable[str] = (), ignore: Iterable[str] = ()) -> tuple[int, list[str], dict]:
    """What ``repwatch reply check`` prints: (exit code, human lines, JSON object).

    Exit code 1 when anything is flagged, else 0; ``ignore`` names rules whose flags are
    dropped. Excerpts in the human lines are one bounded line each; the JSON keeps them
    verbatim (``json.dumps`` escapes them)."""
    skipped = set(ignore)
    flags = [f for f in lint(text, allow=allow) if f.rule not in skipped]
    lines = [f"{f.span[0]}-{f.span[1]} {f.rule}: \u00ab{one_line(f.excerpt, 80)}\u00bb {f.reason}" for f in flags]
    if not flags:
        lines = ["ok: no flags"]
    payload = {"ok": not flags, "language": detect_language(text), "flags": [f.as_dict() for f in flags]}
    return (1 if flags else 0), lines, payload
