"""A corpus of patient data planted in realistic reviews (zh-TW and en): none of it may
survive :func:`mask_phi`; and ordinary review text (prices, years, times, hours, ratings,
visit dates) must come back unchanged."""
import logging
import re
import unicodedata

import pytest

from monitor.privacy import MaskingFilter, mask_phi, mask_url

# (sentence with "{}" where the value goes, planted value, placeholder expected in the output).
# The sentences themselves carry no digits and no Chinese-numeral runs, so anything of
# that kind left after masking came from the planted value.
PLANTED = [
    # --- national ID / resident certificates
    ("我的身分證字號是{}，櫃台竟然大聲唸出來", "A123456789", "[ID]"),
    ("身分證 {} 被印在藥袋上，誰都看得到", "Ａ１２３４５６７８９", "[ID]"),
    ("They photocopied my ID {} and left it on the counter", "F223456789", "[ID]"),
    ("居留證號碼 {} 被寫在公告欄", "FA12345678", "[ID]"),
    ("My ARC number is {} and the nurse read it aloud", "AC87654321", "[ID]"),
    ("新式居留證 {} 也被登記錯", "A812345678", "[ID]"),
    ("ID: {} was on the receipt", "b 212345678", "[ID]"),
    ("身分證字號 {} 外洩", "Ｆ２２３４５６７８９", "[ID]"),
    # --- phones in all forms
    ("醫生要我打 {} 找他，結果沒人接", "0912345678", "[phone]"),
    ("請打 {} 聯絡我媽", "0912-345-678", "[phone]"),
    ("手機 {} 隨時可以打來", "0912 345 678", "[phone]"),
    ("我的電話 {} 被給了推銷員", "0912.345.678", "[phone]"),
    ("全形的電話 {} 也寫在留言裡", "０９１２３４５６７８", "[phone]"),
    ("電話：{}，請回電", "０９１２－３４５－６７８", "[phone]"),
    ("call my mom at {} please", "+886 912 345 678", "[phone]"),
    ("Reach me on {} anytime", "+886-912-345-678", "[phone]"),
    ("WhatsApp {} if you saw the same doctor", "+886912345678", "[phone]"),
    ("我家市話 {} 一直接到騷擾電話", "(02) 2345-6789", "[phone]"),
    ("市話 {} 請找王太太", "02-2345-6789", "[phone]"),
    ("office line {} for my lawyer", "+886-2-2345-6789", "[phone]"),
    ("call me at {} about the refund", "415-555-0132", "[phone]"),
    ("my cell is {} text me", "(415) 555-0199", "[phone]"),
    ("台中家裡電話 {} 也被打", "04.2222.3333", "[phone]"),
    ("電話 {} 打不通", "0912\u200b345678", "[phone]"),
    ("等你回電…{}…拜託", "0987-654-321", "[phone]"),
    # --- e-mails, ASCII and Unicode
    ("寄信到 {} 給我病歷", "wang.xiaoming@example.com", "[email]"),
    ("我的信箱是 {} ，請寄報告", "王小明@例子.台灣", "[email]"),
    ("Send the results to {} please", "user@bücher.de", "[email]"),
    ("聯絡信箱{}謝謝", "chen_mei+clinic@gmail.com", "[email]"),
    ("email me: {} if this happened to you too", "lin.ya-ting@mail.example.com.tw", "[email]"),
    ("信箱 {} 被拿去註冊會員", "陳美玲@信箱.tw", "[email]"),
    ("Write to {} for the screenshots", "jane.doe [at] example [dot] com", "[email]"),
    ("全形信箱 {} 也寫上去了", "ｗａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ", "[email]"),
    # --- NHI card numbers
    ("健保卡號 {} 被別人拿去刷", "000012345678", "[ID]"),
    ("健保卡：{} 被盜用", "0000 8765 4321", "[ID]"),
    ("My NHI card number is {} and they billed twice", "000045678912", "[ID]"),
    ("健保卡號碼 {} 還給錯人", "0000-2468-1357", "[ID]"),
    # --- chart numbers / MRNs
    ("病歷號碼:{},醫生都不理", "12345678", "[chart no.]"),
    ("病歷 No. {} 被搞混", "998877", "[chart no.]"),
    ("病歷號 {} 跟別人對調了", "998877", "[chart no.]"),
    ("My MRN is {} and it was mixed up", "99887766", "[chart no.]"),
    ("They pulled chart #{} instead of mine", "12345", "[chart no.]"),
    ("medical record number: {} is on the invoice", "12-34-56", "[chart no.]"),
    ("MRN {} was swapped with another patient", "00123456", "[chart no.]"),
    ("病歷編號 {} 被寫錯", "MR-2024-0815", "[chart no.]"),
    ("病例號碼 {} 搞錯了", "7654321", "[chart no.]"),
    ("patient number: {} on the wristband was wrong", "4455667", "[chart no.]"),
    # --- LINE IDs
    ("有問題加我 LINE ID: {}", "abc_123", "[LINE ID]"),
    ("私訊 line:{} 我跟你說", "abc.def", "[LINE ID]"),
    ("受害者請聯絡賴: {}", "xiaomei", "[LINE ID]"),
    ("加我line {} 討論", "abc123", "[LINE ID]"),
    ("加line {} 一起提告", "@clinic_victims", "[LINE ID]"),
    ("my LINE ID is {} if you want details", "wang.xm", "[LINE ID]"),
    ("我的line是{}，歡迎來問", "meimei_tw", "[LINE ID]"),
    ("add me on line {} for the group chat", "@patients_tw", "[LINE ID]"),
    # --- dates of birth, every form
    ("DOB {} and still they got my age wrong", "01/02/1980", "[date of birth]"),
    ("我生日 {} 被寫錯", "1985/03/14", "[date of birth]"),
    ("出生日期:{}，護士卻寫成別人的", "民國74年3月14日", "[date of birth]"),
    ("DOB: {}, and the nurse read it aloud", "March 14, 1985", "[date of birth]"),
    ("my father was born {} and they said he was too old", "2 Jan 1980", "[date of birth]"),
    ("she was born on {} so she is not a minor", "January 2, 1980", "[date of birth]"),
    ("birthday: {} is printed on the bag", "1980-01-02", "[date of birth]"),
    ("D.O.B. {} was read out in the waiting room", "1/2/80", "[date of birth]"),
    ("生日 {} 被當成掛號日期", "69/01/02", "[date of birth]"),
    ("出生年月日：{}，被醫生大聲唸出", "69年1月2日", "[date of birth]"),
    ("病人是{}的阿嬤，結果被誤診", "民國七十年一月二日生", "[date of birth]"),
    ("我爸爸{}，醫生卻說他太年輕", "70年1月2日出生", "[date of birth]"),
    ("date of birth {} appears on the public receipt", "14.03.1985", "[date of birth]"),
    ("生日是{}，結果資料填成我姊", "１９８５年３月１４日", "[date of birth]"),
    ("我媽媽是{}，醫院說查無此人", "一九八〇年一月二日生", "[date of birth]"),
    ("born {} and they still gave me the wrong dose", "2nd of January, 1980", "[date of birth]"),
]

ORDINARY = [
    "等了2小時,看診3分鐘,2026年11月再也不去",
    "掛號費150元，自費項目5000元，太貴了",
    "Paid $120 for a 5-minute visit, not worth it",
    "門診時間：週一至週五 08:30-12:00、14:00-17:30，週六上午休診",
    "Clinic hours are 9:00 to 17:30, Saturday until 12:00",
    "我在2026/11/22看診，醫生很仔細，給5/5",
    "Rating 4.5/5, the staff was kind",
    "I visited on 2026-03-15 and waited 40 minutes",
    "2025年3月5日生病去看，醫生很有耐心",
    "民國114年11月22日看診，候診區很乾淨",
    "The new law took effect on 2026年1月1日生效 and fees rose",
    "Line was long but the doctor was great",
    "Bottom line: avoid this clinic",
    "排隊的line很長，大概排了30分鐘",
    "賴醫師很細心，推薦給大家",
    "Dr. Lai explained everything in line with the guidelines",
    "醫師從1998年開業至今，經驗豐富",
    "Ten out of 10, would visit again in 2027",
    "收費NT$1,200，健保給付後自付300元",
    "The clinic is at No. 12, Sec. 3, Zhongshan Rd., open 24/7",
    "14:30 的號碼到了16:45才叫到",
    "詳情見 https://clinic.example.tw/news/2026/11/22/holiday-hours?page=2",
    "See https://forum.example.tw/t/12345 for my full review of Dr. Lin",
    "第3次回診，體重減了2.5公斤，血壓130/85",
    "Took 2 tablets at 8:00 and 20:00 for 7 days",
    "I was born in Taipei and have seen Dr. Lin for 20 years",
    "他的生日快樂歌唱得很好聽，小朋友都不怕",
    "Version 2.3.1 of the app crashed when I booked at 10.30",
    "排到第1024號，等了整個下午",
    "Rated 3/10 on 2026/01/02 after my third visit",
    "發票號碼 AB-12345678 上的金額不對，多收了200元",
    "三月五日去看診，四月十日回診，候診號碼 A12 叫到 A35",
    "The clinic's Instagram @renxin.clinic posts its holiday hours",
    "LINE 官方帳號很難加，電話也常常佔線",
    "林醫生於2026年11月22日起休診一週，請改掛其他醫師",
]


def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


def _digit_windows(value: str, n: int = 4) -> set[str]:
    digits = re.sub(r"\D", "", _nfkc(value))
    return {digits[i:i + n] for i in range(len(digits) - n + 1)}


def _leaks(template: str, value: str, placeholder: str) -> list[str]:
    out = mask_phi(template.format(value))
    found = []
    if value in out or _nfkc(value) in out:
        found.append("raw value")
    runs = "|".join(re.findall(r"\d{4,}", out))
    found += [f"digits {w}" for w in _digit_windows(value) if w in runs]
    if re.search(r"\d", out):  # the sentence has no digits of its own
        found.append("a digit")
    if re.search(r"[〇零一二三四五六七八九十]{2,}", out):
        found.append("Chinese numerals")
    if placeholder not in out:
        found.append(f"no {placeholder}")
    return found


def test_corpus_is_sound():
    assert len(PLANTED) >= 60 and len(ORDINARY) >= 20
    for template, value, _ in PLANTED:
        bare = _nfkc(template.replace("{}", ""))
        assert not re.search(r"\d|[〇零一二三四五六七八九十]{2,}", bare), template


def test_no_planted_value_survives():
    leaks = {f"{t!r} / {v!r}": found for t, v, p in PLANTED if (found := _leaks(t, v, p))}
    print(f"\nPHI corpus: {len(PLANTED)} planted values, {len(leaks)} leaked; "
          f"{len(ORDINARY)} ordinary sentences")
    assert leaks == {}


def test_ordinary_text_comes_back_unchanged():
    changed = {s: mask_phi(s) for s in ORDINARY if mask_phi(s) != _nfkc(s)}
    print(f"\nordinary: {len(ORDINARY) - len(changed)}/{len(ORDINARY)} unchanged")
    assert changed == {}


@pytest.mark.parametrize("text,expected", [
    ("DOB 01/02/1980", "DOB [date of birth]"),
    ("D.O.B. 1/2/80", "D.O.B. [date of birth]"),
    ("birthday: 1980-01-02", "birthday [date of birth]"),
    ("born 2 Jan 1980", "born [date of birth]"),
    ("生日 69/01/02", "生日 [date of birth]"),
    ("民國七十年一月二日生", "[date of birth]生"),
    ("70年1月2日出生", "[date of birth]出生"),
    ("Ａ１２３４５６７８９", "[ID]"),
    ("０９１２３４５６７８", "[phone]"),
    ("0912.345.678", "[phone]"),
    ("FA12345678", "[ID]"),
    ("健保卡號 000012345678", "健保卡號 [ID]"),
    ("病歷 No. 998877", "病歷 [chart no.]"),
    ("LINE ID: abc_123", "[LINE ID]"),
    ("line:abc.def", "[LINE ID]"),
    ("賴: xxx", "[LINE ID]"),
    ("加我line abc123", "加我[LINE ID]"),
    ("user@bücher.de", "[email]"),
])
def test_exact_forms(text, expected):
    assert mask_phi(text) == expected


def test_empty_and_none():
    assert mask_phi(None) == "" and mask_phi("") == ""
    assert mask_url(None) == "" and mask_url("") == ""


@pytest.mark.parametrize("url,expected", [
    ("https://forum.example.tw/u/A123456789?tel=0912345678",
     "https://forum.example.tw/u/[ID]?tel=[phone]"),
    ("https://x.example/profile/0912-345-678", "https://x.example/profile/[phone]"),
    ("https://x.example/search?q=wang.xiaoming%40example.com&page=2",
     "https://x.example/search?q=[email]&page=2"),
    ("https://x.example/p?phone=12345&dob=800102&id=77", "https://x.example/p?phone=[phone]&dob=[date of birth]&id=77"),
    ("https://x.example/p?q=%E7%97%85%E6%AD%B7%E8%99%9F+998877",
     "https://x.example/p?q=%E7%97%85%E6%AD%B7%E8%99%9F%20[chart%20no.]"),
    ("https://x.example/a#tel=0912345678", "https://x.example/a#tel=[phone]"),
    ("https://wang%40example.com@x.example/a", "https://[email]@x.example/a"),
    ("mailto:wang@example.com", "mailto:[email]"),
    ("https://x.example/u/%EF%BC%A1%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96%EF%BC%97%EF%BC%98%EF%BC%99/",
     "https://x.example/u/[ID]/"),
    ("https://x.example/search?q=line+id+abc_123&lang=zh", "https://x.example/search?q=[LINE%20ID]&lang=zh"),
])
def test_mask_url_masks_path_query_and_fragment(url, expected):
    assert mask_url(url) == expected


@pytest.mark.parametrize("url", [
    "https://forum.example.tw/t/3",
    "https://rw.example/ack/7.1.sig",
    "https://clinic.example.tw/news/2026/11/22/holiday-hours?page=2&sort=new",
    "https://www.ptt.cc/bbs/Doctor/M.1732259200.A.1F3.html",
    "https://x.example/t/12345?id=67890#reply-12",
    "https://x.example/search?q=%E8%A8%BA%E6%89%80&from=2026-01-01",
    "http://x.example/?",
])
def test_mask_url_leaves_ordinary_links_alone(url):
    assert mask_url(url) == url


def test_mask_url_keeps_scheme_and_host_readable():
    out = mask_url("https://醫院.example.tw:8443/u/Ａ１２３４５６７８９?email=王小明@例子.台灣")
    assert out.startswith("https://醫院.example.tw:8443/u/[ID]?email=[email]")
    assert "A123456789" not in out and "王小明" not in out


def test_masking_filter_masks_new_forms():
    record = logging.LogRecord("repwatch", logging.ERROR, __file__, 1, "payload %s / %s / %s",
                               ("Ａ１２３４５６７８９", "LINE ID: abc_123", "DOB 01/02/1980"), None)
    assert MaskingFilter().filter(record) is True
    message = record.getMessage()
    assert message == "payload [ID] / [LINE ID] / DOB [date of birth]"
    clean = logging.LogRecord("repwatch", logging.INFO, __file__, 1, "polled %s: %d new", ("ptt", 3), None)
    MaskingFilter().filter(clean)
    assert clean.args == ("ptt", 3) and clean.getMessage() == "polled ptt: 3 new"
