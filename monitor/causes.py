"""Why a mention is negative: a fixed taxonomy of causes and a transparent detector.

The taxonomy follows the causes of negative reviews in the reputation guides the crisis
teams work from (communication and attitude, waiting, fees, outcomes, environment,
over-promising marketing, privacy, legal trouble, malicious attacks and extortion):

==============  ==============================================================
``wait``        wait time, appointment delays, no-shows of the doctor
``attitude``    staff or doctor attitude, communication, rushing, not explaining
``billing``     fees, self-pay (自費) surprises or pressure, overcharging, refunds
``outcome``     treatment outcome, misdiagnosis, side effects, medical error
``hygiene``     cleanliness, environment, infection
``advertising`` over-promising, exaggerated or misleading advertising
``privacy``     a privacy breach: records leaked, a diagnosis said aloud
``legal``       indictment, lawsuit, investigation, fines, misconduct allegations
``extortion``   threats, pay-to-delete offers, blackmail
==============  ==============================================================

A negative mention carries zero or more causes. :func:`detect_causes` finds them with
phrase lists in Traditional and Simplified Chinese (one list: both sides are folded to
Simplified characters), English, Japanese and Korean; a human correction
(``repwatch label --cause``) replaces them. Phrases are matched, not learned, so every
cause shown to a responder can be traced to the words that raised it
(:func:`explain_causes`). Figures on the written test split are in the README.
"""
from __future__ import annotations

import re
from functools import lru_cache

CAUSES = ("wait", "attitude", "billing", "outcome", "hygiene", "advertising", "privacy", "legal", "extortion")

# the order in which a single "primary" cause is chosen for an alert's ``cause`` label:
# the gravest first
PRIORITY = ("extortion", "legal", "privacy", "outcome", "hygiene", "billing", "advertising", "attitude", "wait")

CAUSE_NAMES = {
    "zh-TW": {"wait": "候診時間", "attitude": "態度與溝通", "billing": "收費與自費", "outcome": "療效與誤診",
              "hygiene": "衛生與環境", "advertising": "誇大宣傳", "privacy": "隱私外洩", "legal": "法律與違規指控",
              "extortion": "勒索與威脅"},
    "en": {"wait": "wait time", "attitude": "attitude & communication", "billing": "billing & self-pay",
           "outcome": "treatment outcome", "hygiene": "hygiene & environment", "advertising": "advertising claims",
           "privacy": "privacy breach", "legal": "legal/misconduct allegation", "extortion": "extortion/threat"},
}

# Phrases per cause. CJK phrases match as substrings of the folded text; Latin ones on
# word boundaries (a trailing * allows any ending: "overcharg*").
_PHRASES: dict[str, tuple[str, ...]] = {
    "wait": (
        "等很久", "等了", "等超久", "等好久", "等太久", "候診時間", "候诊时间", "候診很久", "候診了", "久候", "排隊", "排很久", "叫號", "過號",
        "預約了還", "預約還要等", "準時", "遲到", "晚到", "延誤看診", "掛號很難", "掛不到號", "掛號系統", "電話都打不通",
        "電話打不通", "沒人接電話", "小時才看到", "分鐘才輪到", "等到睡著", "待ち時間", "待たされ", "대기", "기다렸",
        "기다려", "wait time", "waited", "waiting room for", "hours to be seen", "long wait", "kept waiting",
        "late for", "running late", "on hold", "never called back", "no one answered", "appointment was cancel*",
        "rescheduled", "took forever",
    ),
    "attitude": (
        "態度", "不耐煩", "不耐烦", "口氣", "兇", "凶巴巴", "愛理不理", "冷漠", "敷衍", "不屑", "翻白眼", "罵", "大小聲",
        "不解釋", "沒解釋", "沒有解釋", "解釋不清", "不說明", "沒說明", "不聽", "打斷", "趕人", "看診很快", "三分鐘",
        "問什麼都", "沒耐心", "不尊重", "歧視", "臉很臭", "擺臉色", "高高在上", "瞧不起", "嘲笑", "不理人", "櫃檯", "櫃台",
        "溝通", "不親切", "不友善", "傲慢", "没礼貌", "沒禮貌", "說話很衝", "態度差", "服務差", "服務很差",
        "態度が", "無愛想", "説明がない", "説明不足", "冷たい", "불친절", "태도", "설명도", "무시",
        "rude", "dismissive", "condescending", "arrogant", "unprofessional", "attitude", "didn't listen",
        "did not listen", "doesn't listen", "wouldn't listen", "didn't explain", "did not explain", "no explanation",
        "rushed", "brushed off", "yelled", "snapped at", "bedside manner", "front desk", "receptionist", "ignored",
        "disrespect*", "cold and", "uncaring", "patronizing", "talked down",
    ),
    "billing": (
        "收費", "收费", "自費", "自费", "多收", "亂收", "乱收", "貴", "价格", "價格", "價錢", "退費", "退费", "退款", "帳單",
        "掛號費", "挂号费", "費用", "费用", "推銷", "推销", "押金", "加價", "刷卡", "健保不給付", "不給付", "坑錢", "坑钱",
        "盤子", "盘子", "智商稅", "智商税", "搶錢", "抢钱", "錢", "元", "塊", "料金", "高い", "請求", "비싸", "비용", "과잉진료",
        "bill", "billed", "billing", "overcharg*", "charged", "charge me", "fee", "fees", "copay", "co-pay", "insurance",
        "refund*", "expensive", "price*", "cost", "costs", "upsell*", "out of pocket", "surprise bill", "collections",
        "$",
    ),
    "outcome": (
        "誤診", "误诊", "沒好", "没好", "沒效", "没效", "無效", "无效", "越看越", "更嚴重", "更严重", "惡化", "恶化",
        "副作用", "後遺症", "后遗症", "失敗", "失败", "開錯", "开错", "打錯", "打错", "拔錯", "拔错", "弄錯", "醫療疏失",
        "医疗疏失", "醫療糾紛", "医疗纠纷", "疏失", "過敏", "感染", "發炎", "发炎", "腫", "肿", "痛到", "還是痛", "還在痛",
        "白花", "白白", "沒改善", "没改善", "不見好", "變嚴重", "變得更", "留疤", "凹陷", "歪", "破相", "死亡", "過世",
        "病逝", "喪命", "丧命", "枉死", "醫死", "治死", "重傷", "植物人", "截肢", "致死", "誤判", "没治好", "治不好",
        "医療ミス", "悪化", "効かない", "効果がない", "誤診", "副作用", "오진", "부작용", "의료사고", "효과가 없",
        "misdiagnos*", "wrong diagnosis", "side effect*", "didn't work", "did not work", "doesn't work", "not work*",
        "no effect", "worse", "worsened", "botched", "malpractice", "infection", "infected", "complication*",
        "wrong tooth", "wrong dose", "wrong medication", "error", "mistake", "scar*", "died", "death", "injur*",
        "hospitalized", "emergency room", "still in pain", "made it worse", "negligen*", "harm*",
    ),
    "hygiene": (
        "髒", "脏", "不乾淨", "不干净", "衛生", "卫生", "臭", "蟑螂", "老鼠", "蚊子", "灰塵", "灰尘", "霉", "廁所", "厕所",
        "院內感染", "院内感染", "群聚感染", "群聚", "交叉感染", "消毒", "沒戴手套", "沒洗手", "重複使用", "针头", "針頭",
        "汙", "污", "環境很差", "环境很差", "環境差", "汚い", "不衛生", "청결", "더러", "위생",
        "dirty", "filthy", "unclean", "unsanitary", "hygiene", "cockroach*", "smell*", "stank", "mold", "mould",
        "gloves", "wash* hands", "outbreak", "sterile", "stained", "gross",
    ),
    "advertising": (
        "廣告", "广告", "宣傳", "宣传", "誇大", "夸大", "保證", "保证", "根治", "不實", "不实", "騙", "骗", "網美",
        "業配", "业配", "照騙", "跟說的不一樣", "跟广告不", "效果沒", "說好的", "術前說", "承諾", "承诺", "一次見效",
        "永久", "100%", "百分之百", "違規廣告", "违规广告", "誇大療效", "虛偽", "不實廣告", "誇大不實", "誇張",
        "広告", "誇大", "광고", "과장",
        "advertis*", "promised", "promise", "guarantee*", "misleading", "false claim*", "too good to be true",
        "bait and switch", "marketing", "instagram", "influencer", "not as advertised", "scam*", "deceptive",
    ),
    "privacy": (
        "隱私", "隐私", "個資", "个资", "病歷外流", "病历外流", "外洩", "外泄", "洩漏", "泄露", "大聲說出", "大聲唸", "當眾",
        "當著", "公開我的", "公開病", "被別人知道", "被聽到", "聽得一清二楚", "拍照上傳", "偷拍", "讓其他病人", "個人資料",
        "プライバシー", "個人情報", "개인정보", "사생활",
        "privacy", "hipaa", "confidential*", "leaked", "leak", "disclos*", "personal information", "in front of everyone",
        "whole waiting room", "out loud", "shared my", "posted my", "records were",
    ),
    "legal": (
        "起訴", "起诉", "判刑", "判決", "判决", "判賠", "判赔", "地檢", "地检", "檢察", "检察", "檢方", "偵辦", "侦办", "偵查",
        "侦查", "搜索", "約談", "约谈", "收押", "羈押", "羁押", "逮捕", "被捕", "涉嫌", "涉案", "詐領", "诈领", "詐欺", "诈骗",
        "詐騙", "性騷", "性骚", "猥褻", "猥亵", "性侵", "偷拍", "提告", "告上法院", "求償", "索賠", "索赔", "訴訟", "诉讼",
        "官司", "法院", "開罰", "开罚", "罰款", "罚款", "罰鍰", "罚锾", "勒令", "停業", "停业", "吊銷", "吊销", "撤銷執照",
        "停權", "懲戒", "惩戒", "醫審會", "醫懲會", "衛生局", "卫生局", "衛福部", "卫健委", "通報", "通报", "調查", "调查",
        "違法", "违法", "違規", "违规", "密醫", "密医", "無照", "无照", "偽造", "伪造", "收賄", "受贿", "回扣", "移送",
        "書類送検", "逮捕", "起訴", "提訴", "訴訟", "行政処分", "기소", "소송", "고소", "입건", "수사", "압수수색", "처분",
        "indict*", "charged with", "arrest*", "lawsuit", "sued", "suing", "sue", "court", "verdict", "jury",
        "settlement", "license suspended", "license revoked", "suspended license", "medical board", "fined",
        "penalt*", "investigat*", "fraud", "kickback*", "sexual*", "harass*", "assault*", "misconduct", "convicted",
        "prosecut*", "attorney general", "illegal*", "unlicensed", "wrongful death", "plead*", "guilty",
    ),
    "extortion": (
        "勒索", "恐嚇", "恐吓", "威脅", "威胁", "刪文費", "删文费", "刪評", "删评", "付錢刪", "付钱删", "花錢刪", "刪負評",
        "删差评", "公關費", "不處理就", "不处理就", "不給錢", "不给钱", "給我錢", "賠我錢", "不賠就", "就繼續發", "继续发",
        "每天來留", "天天留", "洗負評", "洗一星", "灌負評", "發到爆", "讓你們倒", "讓你倒", "走著瞧", "等著被", "給個交代",
        "網路橡皮擦", "橡皮擦", "負評處理", "負評刪除", "刪除負評", "脅迫", "ゆすり", "恐喝", "削除してほしければ", "협박",
        "삭제해 드", "extort*", "blackmail*", "threat*", "pay to remove", "pay to delete", "remove the review for",
        "take down the review", "take this down", "delete the review for", "or else", "unless you pay", "review removal",
        "reputation repair", "remove negative reviews", "compensate me or", "pay me",
    ),
}

# phrases that look like a cause but are not one in context
_NOT_CAUSE: dict[str, tuple[str, ...]] = {
    "billing": ("錢包", "不錢", "元旦", "元月", "單元", "元素", "公元", "單位元", "元氣", "多元"),
    "outcome": ("感染科", "感染症", "預防感染", "避免感染", "error-free", "no mistake"),
    "legal": ("法院附近", "court yard", "courtyard", "food court", "investigational"),
    "attitude": ("態度很好", "態度好", "態度親切", "態度佳", "態度超好", "態度非常好", "溝通良好", "很好溝通",
                 "好溝通", "櫃檯人員很親切", "櫃台人員很親切", "櫃檯很親切", "櫃台很親切"),
}

_LATIN = re.compile(r"[A-Za-z]")


def _fold(text: str) -> str:
    from monitor.text import fold

    return fold(text)


@lru_cache(maxsize=1)
def _compiled() -> tuple[tuple[str, re.Pattern, re.Pattern | None], ...]:
    out = []
    for cause in CAUSES:
        parts = []
        for phrase in _PHRASES[cause]:
            folded = _fold(phrase.replace("*", ""))
            if not folded:
                continue
            body = re.escape(folded)
            if phrase.endswith("*"):
                body += r"\w*"
            if _LATIN.match(phrase[0]) and _LATIN.search(phrase[-1].rstrip("*") or "a"):
                body = rf"(?<![a-z]){body}(?![a-z])" if not phrase.endswith("*") else rf"(?<![a-z]){body}"
            parts.append(body)
        negs = [re.escape(_fold(p)) for p in _NOT_CAUSE.get(cause, ())]
        out.append((cause, re.compile("|".join(parts)), re.compile("|".join(negs)) if negs else None))
    return tuple(out)


def explain_causes(text: str) -> dict[str, list[str]]:
    """Each cause found in ``text`` with the phrases that raised it."""
    folded = _fold(text or "")
    found: dict[str, list[str]] = {}
    for cause, pattern, negative in _compiled():
        cleaned = negative.sub(" ", folded) if negative is not None else folded
        hits = sorted({m.group(0).strip() for m in pattern.finditer(cleaned) if m.group(0).strip()})
        if hits:
            found[cause] = hits
    return found


def detect_causes(text: str) -> tuple[str, ...]:
    """The causes of a negative mention, in taxonomy order (empty when none is recognised).

    Money words alone ("$", "元", "錢") are weak: they raise ``billing`` only when no
    graver cause is present, so news of a fine or an extortion demand is not a billing
    complaint."""
    found = explain_causes(text)
    weak_billing = {"$", "元", "块", "钱", "cost", "costs", "charged"}
    if "billing" in found and set(found["billing"]) <= weak_billing and (
            {"legal", "extortion"} & found.keys() or len(found) > 1):
        del found["billing"]
    return tuple(c for c in CAUSES if c in found)


def primary_cause(causes) -> str:
    """The gravest of several causes ("" for none): the value of an alert's ``cause`` label."""
    present = set(causes)
    return next((c for c in PRIORITY if c in present), "")


def parse_causes(text: str | None) -> tuple[str, ...]:
    """Stored form ("legal,outcome") back to a tuple."""
    return tuple(c for c in (text or "").split(",") if c)


def cause_names(causes, language: str = "zh-TW") -> str:
    names = CAUSE_NAMES.get(language, CAUSE_NAMES["en"])
    return "、".join(names[c] for c in causes if c in names) if language.startswith("zh") else \
        ", ".join(names[c] for c in causes if c in names)
