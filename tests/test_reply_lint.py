"""The reply linter: rules, spans into the original text, negation and benign uses, the
clinic's own contact channel, check_text for the CLI, and the frozen test split's floor."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from monitor.defence.lint import REASONS, RULES, check_text, lint

ROOT = Path(__file__).resolve().parents[1]


def found(text: str, **kw) -> list[tuple[str, str]]:
    return [(f.rule, f.excerpt) for f in lint(text, **kw)]


def test_each_flag_points_into_the_original_text():
    text = "您好，您上次來看診時我們保證無痛，比其他診所好。"
    flags = lint(text, "zh-TW")
    assert [(f.rule, f.excerpt) for f in flags] == [
        ("patient-confirmation", "您上次來看診"),
        ("absolute-claim", "保證"),
        ("absolute-claim", "無痛"),
        ("comparative-claim", "比其他診所好"),
    ]
    for f in flags:
        assert text[f.span[0]:f.span[1]] == f.excerpt
        assert f.reason == REASONS[f.rule] and f.reason.endswith(".")
    assert flags[0].span == (3, 9)


def test_spans_survive_full_width_and_invisible_characters():
    text = "王先生，電話０９１２\u200b３４５\u200b６７８已收到"
    (flag,) = lint(text)
    assert flag.rule == "phi"
    assert flag.excerpt == "０９１２\u200b３４５\u200b６７８"
    assert text[flag.span[0]:flag.span[1]] == flag.excerpt


@pytest.mark.parametrize("text, expected", [
    ("您的病歷顯示一切正常", [("patient-confirmation", "您的病歷")]),
    ("您在本院的治療都有紀錄", [("patient-confirmation", "您在本院的治療")]),
    ("作為您的主治醫師，我必須說明", [("patient-confirmation", "作為您的主治醫師")]),
    ("When you visited us, the doctor was late.", [("patient-confirmation", "When you visited")]),
    ("As your doctor, I disagree.", [("patient-confirmation", "As your doctor")]),
    ("Your records show nothing unusual.", [("patient-confirmation", "Your records")]),
    ("Your treatment with us was standard.", [("patient-confirmation", "Your treatment")]),
    ("您的病历显示正常", [("patient-confirmation", "您的病历")]),  # Simplified input
])
def test_patient_confirmation(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize("text, value", [
    ("陳先生，您的身分證 A123456789 已登錄", "A123456789"),
    ("We emailed jenny.wu88@gmail.com yesterday.", "jenny.wu88@gmail.com"),
    ("我們已致電您留下的 0912-345-678", "0912-345-678"),
    ("Your chart number is 778899, keep it.", "778899"),
    ("生日 1975/04/12 與資料不符", "1975/04/12"),
    ("您的 LINE ID wang1988 已加入", "wang1988"),
])
def test_phi_reuses_the_masking_patterns_and_flags_only_the_value(text, value):
    assert ("phi", value) in found(text)


@pytest.mark.parametrize("text", [
    "請來電 02-2345-6789，由專人與您聯繫。",
    "歡迎來信 service@anxin-clinic.tw 與我們聯絡。",
    "請撥打客服專線 0800-123-456。",
    "請透過 LINE @anxin123 與我們聯繫。",
    "Please contact us at care@bayview-dental.com.",
    "Please call our patient relations team at (02) 2345-6789.",
    "Our billing team can walk through any questions by phone at 02-2511-8800.",
])
def test_the_clinics_own_channel_is_not_phi(text):
    assert found(text) == []


def test_a_phone_after_a_verb_about_the_writer_is_still_phi():
    assert found("We tried calling you at 0912-555-321.") == [("phi", "0912-555-321")]


@pytest.mark.parametrize("text, expected", [
    ("保证根治，无副作用", [("absolute-claim", "保证"), ("absolute-claim", "根治"), ("absolute-claim", "无副作用")]),
    ("本院植牙成功率100%", [("absolute-claim", "100%")]),
    ("我們是全台第一的植牙中心", [("absolute-claim", "全台第一")]),
    ("我們的醫師是業界最好的，", [("absolute-claim", "最好")]),
    ("Guaranteed results, painless and permanent.",
     [("absolute-claim", "Guaranteed"), ("absolute-claim", "painless"), ("absolute-claim", "permanent")]),
    ("Our acupuncture can cure migraines.", [("absolute-claim", "cure")]),
    ("We are the #1 clinic in Taipei.", [("absolute-claim", "#1")]),
    ("Our whitening has no side effects.", [("absolute-claim", "no side effects")]),
])
def test_absolute_claims(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize("text", [
    "我們無法保證每位民眾的感受都相同。",       # a disclaimer, not a claim
    "牙齒矯正的效果因人而異，我們不做任何保證。",
    "這個療程並非無痛，我們會先說明。",
    "醫療上沒有任何療法能百分之百有效。",
    "我們會在第一時間檢討，這是第一步。",       # 第一時間/第一步 are not rankings
    "本院醫師都是第一線的臨床醫師。",
    "最好的方式是直接來電與我們討論。",         # advice, not a superlative
    "我們百分之百重視每一則意見。",
    "We cannot guarantee any particular result.",
    "There is no cure for this condition, and we say so.",
    "We use secure messaging and procurement-compliant systems; manicure is next door.",
    "We do our best every day. Best regards, the team.",
    "We are 100% committed to listening.",
    "The best way to reach us is by phone.",
])
def test_negated_and_benign_uses_are_not_claims(text):
    assert found(text) == []


@pytest.mark.parametrize("text, expected", [
    ("別家診所都只會推銷自費項目。", [("comparative-claim", "別家診所都")]),
    ("我們比隔壁診所便宜又專業。", [("comparative-claim", "比隔壁診所便宜")]),
    ("Unlike other clinics in the area, we never rush.", [("comparative-claim", "Unlike other clinics")]),
    ("We're better than the clinic down the street.", [("comparative-claim", "better than the clinic")]),
])
def test_comparative_claims(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize("text", [
    "本院不比較同業，只專注照顧好每位民眾。",
    "We can do better than this, and we will.",
    "比較好的做法是私下聯繫我們。",
])
def test_not_comparisons(text):
    assert found(text) == []


def test_testimonials_incentives_and_disclosures():
    assert found("歡迎到粉專看術前術後對比照！") == [("testimonial", "術前術後對比照")]
    assert found("留言五星好評送洗牙一次，歡迎大家分享心得！") == [
        ("testimonial", "五星好評送"), ("testimonial", "分享心得")]
    assert found("Leave us a 5-star review and get 10% off!") == [
        ("testimonial", "Leave us a 5-star review and get 10% off")]
    # a disclosure excuses a before/after mention, never a reward for reviews
    assert found("術前術後對比照皆經當事人同意刊登，效果因人而異。") == []
    assert found("We never post testimonials without written consent.") == []
    assert found("我們很想聽聽您的心得，請私訊我們。") == []  # asking without a reward


@pytest.mark.parametrize("text, expected", [
    ("我們將為您辦理全額退款，並免費補做一次。", [("compensation-promise", "全額退款"), ("compensation-promise", "免費補做一次")]),
    ("我們會依規定為您退費。", [("compensation-promise", "為您退費")]),
    ("We will issue a full refund.", [("compensation-promise", "full refund")]),
    ("We'd be happy to compensate you.", [("compensation-promise", "compensate you")]),
])
def test_compensation_promises(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize("text", [
    "關於退費的規定，我們需要了解更多情況才能說明。",   # a topic, not a promise
    "我們不會提供任何退費或補償作為刪文條件。",
    "抱歉讓您失望，希望有機會彌補。",                  # the seeds' own wording: no concrete promise
    "Questions about our refund policy are best handled privately.",
])
def test_not_compensation_promises(text):
    assert found(text) == []


def test_allow_keeps_the_clinics_name_and_channel():
    text = "台北最好牙醫診所感謝您，請加 LINE: best_smile01 與我們聯繫。"
    assert ("absolute-claim", "最好") in found(text)
    assert found(text, allow=["台北最好牙醫診所", "LINE: best_smile01"]) == []


def test_check_text_for_the_cli():
    code, lines, payload = check_text("我們保證根治。")
    assert code == 1
    assert lines[0].startswith("2-4 absolute-claim: «保證» ")
    assert payload["ok"] is False and payload["language"] == "zh-TW"
    assert [f["rule"] for f in payload["flags"]] == ["absolute-claim", "absolute-claim"]
    assert payload["flags"][0]["span"] == [2, 4]
    json.dumps(payload)  # serialisable as is
    code, lines, payload = check_text("Thank you, please contact us at 02-2345-6789.")
    assert (code, lines, payload) == (0, ["ok: no flags"], {"ok": True, "language": "en", "flags": []})


def test_check_text_output_is_one_line_per_flag():
    code, lines, _ = check_text("We guarantee\nresults\u202e and a full refund.")
    assert code == 1 and len(lines) == 2
    assert all("\n" not in line and "\u202e" not in line for line in lines)


def _eval_module():
    spec = importlib.util.spec_from_file_location("reply_lint_eval", ROOT / "bench" / "reply_lint_eval.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("reply_lint_eval", module)  # dataclasses look their module up
    spec.loader.exec_module(sys.modules["reply_lint_eval"])
    module = sys.modules["reply_lint_eval"]
    return module


def test_labelled_set_shape():
    bench = _eval_module()
    rows = bench.load("train") + bench.load("test")
    assert len(rows) >= 260
    assert sum(r["lang"] == "zh-TW" for r in rows) / len(rows) >= 0.6
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        assert row["author"] == "helper-reply" and row["lang"] in ("zh-TW", "en")
        for flag in row["flags"]:
            assert flag["rule"] in RULES and flag["excerpt"] in row["text"]


def test_frozen_test_split_floor():
    """The figures reported in the README, as a floor (measured once on the frozen split)."""
    bench = _eval_module()
    precision, recall, gold, raised = bench.score(bench.load("test")).figures()
    assert gold >= 50
    assert recall >= 0.95
    assert precision >= 0.90
