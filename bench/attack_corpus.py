"""A seeded corpus of ordinary review traffic with injected attacks, for bench/attack_eval.py.

    python bench/attack_corpus.py --seed 1 --days 120 --out /tmp/attack-1.jsonl

Ordinary traffic, per listing (doctors and clinics with their own volume and rating mix):
zh-TW and en reviews composed from phrase pools (so two patients often say much the same:
「謝謝醫師」, "highly recommend", 「等了兩個小時」), short one-liners and star-only ratings, a
realistic rating mix (mostly 4-5 stars, a listing-specific share of 1-2), regulars who come
back, common handles shared by different people on different sites (namesakes: Amy, 王小姐,
"A Google User"), a few unhappy patients who paste their review on a second site, and now
and then an organic bad day (a real incident: two to three times the usual low ratings).
Platforms with stars (google, facebook, yelp) give ratings; forums (ptt, dcard) do not.

Attacks, several styles, each with its mention ids recorded:
  copy-paste     one negative text posted 3-7 times with small edits (typos, punctuation,
                 emoji, a word added or dropped, a phone number or hashtag appended) by new
                 accounts on 2-4 sites within hours
  copy-one-hand  the same, all from one account on 3 sites
  rating-bomb    6-18 one- or two-star ratings, empty or one-line, from accounts never seen
                 before, within 2-12 hours
  cross-post     one account with 3-4 different negative posts on 3-4 sites within a day

Each line of the output is one mention: listing, source, author, text, rating, the
sentiment a scorer would give (``negative``: P(negative), noisy), published time (ISO), and
``attack`` (the attack's id, or null for ordinary traffic). The first ``--history`` days are
history (the baselines); attacks are only injected after them.
"""
from __future__ import annotations

import argparse
import json
import random
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
RATED, FORUMS = ("google", "facebook", "yelp"), ("ptt", "dcard")
SOURCES = RATED + FORUMS
LISTINGS = [("dr-lin", "林志明醫師"), ("renxin", "仁心診所"), ("dr-chen", "陳美玲醫師"), ("kangjian", "康健牙醫"),
            ("dr-wang", "王大明醫師"), ("anxin", "安心耳鼻喉科"), ("dr-huang", "黃雅婷醫師"), ("mingde", "明德眼科"),
            ("dr-lee", "Dr. Lee"), ("sunrise", "Sunrise Family Clinic"), ("dr-wu", "吳建志醫師"), ("hexin", "和信小兒科")]
NAMESAKES = ["Amy", "Kevin", "王小姐", "陳先生", "小明", "Jessica", "A Google User", "匿名", "David", "林小姐",
             "Anonymous", "Vivian"]
ZH_PRAISE = ["醫師很細心", "解釋病情很清楚", "謝謝醫師", "態度很親切", "護理師也很溫柔", "看完很快就好了", "非常推薦",
             "診所很乾淨", "不會亂開藥", "很有耐心聽我說", "小朋友也不怕", "掛號很方便", "候診時間不長", "醫術很好",
             "會仔細說明用藥", "推推", "真心推薦給大家", "這次看診很安心", "櫃台人員很友善", "治療效果很好",
             "謝謝醫師的細心照顧", "已經回診好幾次了", "值得信賴的好醫師", "環境舒適", "說明很詳細"]
ZH_COMPLAINT = ["等了兩個小時", "態度很差", "看診不到三分鐘", "問問題也不回答", "櫃台很兇", "亂收費", "推銷自費療程",
                "預約了還要等很久", "藥吃了沒效", "感覺很敷衍", "電話都打不通", "掛號系統很爛", "護理師不耐煩",
                "收費不透明", "看完更嚴重", "不會再來了", "很失望", "環境很髒", "態度冷淡", "一直催我", "誤診",
                "候診區很擠", "結帳多收錢", "沒有解釋清楚", "服務很差"]
EN_PRAISE = ["very professional", "explained everything clearly", "thank you doctor", "friendly staff",
             "highly recommend", "short wait", "clean clinic", "the nurse was kind", "great with kids",
             "took time to listen", "felt better quickly", "easy to book", "caring and patient", "best doctor"]
EN_COMPLAINT = ["waited two hours", "rude receptionist", "rushed appointment", "did not answer my questions",
                "overcharged me", "pushed expensive treatments", "never picked up the phone", "felt dismissed",
                "the medicine did not help", "billing was confusing", "will not come back", "very disappointed",
                "dirty waiting room", "staff were impatient", "misdiagnosed"]
ZH_SHORT_PRAISE = ["謝謝醫師", "推", "很好", "謝謝醫師!", "推薦", "讚"]
EN_SHORT_PRAISE = ["Great doctor!", "Thank you doctor", "Highly recommend", "Good"]
ATTACK_ZH = ["{name}根本是庸醫,看診三分鐘就趕人,還亂開自費藥,我朋友吃了之後過敏住院,大家千萬不要去!",
             "千萬不要去{name},收費不透明又愛推銷,醫師態度傲慢,問問題就不耐煩,根本是黑心診所,已經檢舉了。",
             "{name}的醫師沒有醫德,把病人當提款機,小病也要做一堆自費檢查,護理師還會罵人,大家要小心避雷。",
             "去{name}看診被當成白痴,等了三個小時結果被罵,藥開錯還不承認,這種診所怎麼還能開?請大家幫忙轉發。",
             "{name}真的爛透了,衛生很差,針頭還重複使用的樣子,看完回家就發燒,建議大家去別家。"]
ATTACK_EN = ["{name} is a fraud. They rushed me out in three minutes, billed me for tests I never had and "
             "the doctor laughed at my questions. Avoid at all costs!",
             "Worst clinic ever: {name} overcharges every patient, pushes useless treatments and the staff are "
             "rude. Reported them to the health department. Do not go there."]
EMOJI = ["😡", "🤬", "👎", "!!", "!!!", "。", "…", "⚠️"]
TYPOS = {"醫": "医", "診": "疹", "師": "帥", "藥": "药", "的": "得", "去": "氣", "e": "3", "o": "0", "i": "1", "a": "@"}


@dataclass
class Row:
    listing: str
    source: str
    author: str | None
    text: str
    rating: float | None
    negative: float
    at: str
    attack: str | None = None
    style: str | None = None


class Corpus:
    def __init__(self, seed: int, days: int, history: int, attacks_per_listing: float):
        self.r = random.Random(seed)
        self.days, self.history, self.attacks = days, history, attacks_per_listing
        self.rows: list[Row] = []
        self.next_user = 0

    def new_user(self, prefix: str = "user") -> str:
        self.next_user += 1
        return f"{prefix}{self.next_user:06d}"

    def score(self, negative: bool) -> float:
        """What a sentiment model would say: mostly right, sometimes unsure or wrong."""
        r = self.r
        if r.random() < 0.06:
            return round(r.uniform(0.3, 0.7), 3)
        return round(r.uniform(0.75, 0.99) if negative else r.uniform(0.01, 0.3), 3)

    def ordinary_text(self, name: str, rating: int, zh: bool) -> str:
        r = self.r
        if rating >= 4 and r.random() < 0.18:
            return r.choice(ZH_SHORT_PRAISE if zh else EN_SHORT_PRAISE)
        if rating >= 4:
            pool = ZH_PRAISE if zh else EN_PRAISE
        elif rating == 3:
            pool = (ZH_PRAISE + ZH_COMPLAINT) if zh else (EN_PRAISE + EN_COMPLAINT)
        else:
            pool = ZH_COMPLAINT if zh else EN_COMPLAINT
        parts = r.sample(pool, r.randint(1, 4))
        if r.random() < 0.5:
            parts.insert(0, name)
        sep = r.choice([",", ",", "。", " ", "!"]) if zh else r.choice([", ", ". ", "; "])
        return sep.join(parts) + r.choice(["", "。", "!", "~", " 👍" if rating >= 4 else ""])

    def listing_days(self, listing: str, name: str) -> None:
        r = self.r
        volume, low_share = r.choice([2, 4, 6, 10, 16, 25]), r.uniform(0.04, 0.25)
        zh_share = 0.2 if name.isascii() else 0.85
        regulars = [self.new_user("reg") for _ in range(max(5, volume * 4))]
        bad_days = {d for d in range(self.days) if r.random() < 1 / 45}
        for day in range(self.days):
            n = _poisson(r, volume * (0.7 if (START + timedelta(days=day)).weekday() == 6 else 1.0))
            low = min(0.9, low_share * (r.uniform(2.0, 3.0) if day in bad_days else 1.0))
            for _ in range(n):
                self.ordinary(listing, name, day, low, zh_share, regulars)

    def ordinary(self, listing, name, day, low, zh_share, regulars) -> None:
        r = self.r
        rating = r.choice([1, 2]) if r.random() < low else r.choice([3, 4, 4, 5, 5, 5, 5])
        zh = r.random() < zh_share
        source = r.choice(SOURCES if r.random() < 0.3 else RATED)
        author = (r.choice(regulars) if r.random() < 0.3 else r.choice(NAMESAKES) if r.random() < 0.12
                  else self.new_user())
        text = "" if source in RATED and r.random() < 0.1 else self.ordinary_text(name, rating, zh)
        at = START + timedelta(days=day, seconds=r.randint(8 * 3600, 23 * 3600))
        self.add(listing, source, author, text, rating, at)
        if rating <= 2 and text and r.random() < 0.05:  # an unhappy patient pastes it on another site too
            other = r.choice([s for s in SOURCES if s != source])
            self.add(listing, other, author, text, rating, at + timedelta(minutes=r.randint(5, 600)))

    def add(self, listing, source, author, text, rating, at, attack=None, style=None) -> None:
        negative = self.score(attack is not None or rating <= 2 or (rating == 3 and self.r.random() < 0.3))
        self.rows.append(Row(listing, source, author, text, float(rating) if source in RATED else None,
                             negative, at.isoformat(), attack, style))

    # ------------------------------------------------------------------ attacks

    def edit(self, text: str) -> str:
        """A copy-paste campaign's small edits."""
        r = self.r
        chars = list(text)
        for _ in range(r.randint(0, 3)):  # typos
            i = r.randrange(len(chars))
            chars[i] = TYPOS.get(chars[i], chars[i])
        text = "".join(chars)
        if r.random() < 0.5:
            text = text.replace(",", r.choice([",", "，", " ", "、"]))
        if r.random() < 0.4:
            cut = r.randrange(len(text) // 2, len(text))
            text = text[:cut] + r.choice(EMOJI) + text[cut:]
        if r.random() < 0.3:
            text += r.choice([" #避雷", " 大家轉發", " 0912-345-678", " 真的", " 🤮"])
        if r.random() < 0.3:
            i = r.randrange(len(text) // 3, len(text))
            text = text[:i] + text[i + r.randint(1, 3):]  # a few characters dropped
        return text

    def attack(self, listing: str, name: str, n: int) -> None:
        r = self.r
        aid = f"{listing}-a{n}"
        style = r.choice(["copy-paste", "copy-paste", "copy-one-hand", "rating-bomb", "rating-bomb", "cross-post"])
        start = START + timedelta(days=r.randrange(self.history + 1, self.days - 1), hours=r.randint(0, 20))
        if style in ("copy-paste", "copy-one-hand"):
            base = r.choice(ATTACK_ZH if not name.isascii() or r.random() < 0.3 else ATTACK_EN).format(name=name)
            sites = r.sample(SOURCES, r.randint(3, 4) if style == "copy-one-hand" else r.randint(2, 4))
            copies = len(sites) if style == "copy-one-hand" else r.randint(3, 7)
            hand = self.new_user("troll")
            for i in range(copies):
                author = hand if style == "copy-one-hand" else self.new_user("new")
                self.add(listing, sites[i % len(sites)], author, self.edit(base), 1,
                         start + timedelta(minutes=r.randint(0, 12 * 60)), aid, style)
        elif style == "rating-bomb":
            site = r.choice(RATED)
            for _ in range(r.randint(6, 18)):
                text = "" if r.random() < 0.5 else r.choice(ZH_COMPLAINT + EN_COMPLAINT)
                self.add(listing, site, self.new_user("new"), text, r.choice([1, 1, 1, 2]),
                         start + timedelta(minutes=r.randint(0, r.choice([2, 6, 12]) * 60)), aid, style)
        else:
            hand = self.new_user("angry")
            pool = ZH_COMPLAINT if not name.isascii() else EN_COMPLAINT
            for site in r.sample(SOURCES, r.randint(3, 4)):
                text = ("," if not name.isascii() else ", ").join([name] + r.sample(pool, 3))
                self.add(listing, site, hand, text, r.choice([1, 2]),
                         start + timedelta(minutes=r.randint(0, 20 * 60)), aid, style)

    def build(self) -> list[Row]:
        for listing, name in LISTINGS:
            self.listing_days(listing, name)
            for n in range(_poisson(self.r, self.attacks)):
                self.attack(listing, name, n)
        self.rows.sort(key=lambda row: row.at)
        return self.rows


def _poisson(r: random.Random, mean: float) -> int:
    """Knuth's method (the means here are small)."""
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= r.random()
        if p <= limit:
            return k
        k += 1


def generate(seed: int, days: int = 120, history: int = 30, attacks_per_listing: float = 3.0) -> list[Row]:
    return Corpus(seed, days, history, attacks_per_listing).build()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--days", type=int, default=120)
    p.add_argument("--history", type=int, default=30)
    p.add_argument("--attacks", type=float, default=3.0, help="attacks per listing (Poisson mean)")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    rows = generate(a.seed, a.days, a.history, a.attacks)
    with open(a.out, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")
    attacks = {r.attack for r in rows if r.attack}
    print(f"{len(rows)} mentions, {sum(1 for r in rows if not r.attack)} ordinary, {len(attacks)} attacks")


if __name__ == "__main__":
    main()
