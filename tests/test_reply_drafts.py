"""Reply drafts: every shipped template drafts cleanly through the linter, the language and
template choice, overrides from a templates folder, and what a draft must never carry."""
from __future__ import annotations

from importlib import resources

import pytest

from monitor.causes import CAUSES
from monitor.defence.lint import check_text, lint
from monitor.defence.replies import LANGUAGES, TemplateError, draft, load_template, reply_language

ENTITIES = ("安心診所", "Dr. Lin's Family Clinic", "<b>A&B</b> {contact} {x}", "台北第一牙醫診所",
            "Best Smile Dental", "保證{診所}")
CONTACTS = ("02-2345-6789", "service@anxin-clinic.tw", "LINE @anxin123", "https://anxin.example/contact?x=1")


def test_every_cause_and_language_has_a_shipped_template():
    for language in LANGUAGES:
        folder = resources.files("monitor.defence") / "templates" / language
        names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".txt"))
        assert names == sorted(f"{c}.txt" for c in (*CAUSES, "generic"))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("cause", (*CAUSES, None))
def test_every_template_drafts_without_flags(language, cause):
    for entity in ENTITIES:
        for contact in CONTACTS:
            d = draft("mention", language=language, causes=[cause] if cause else [], entity_name=entity,
                      contact=contact)
            assert d.flags == (), (d.template_id, entity, contact, d.flags)
            assert d.language == language
            assert d.cause == (cause or "generic")
            assert d.template_id == f"{language}/{cause or 'generic'}"
            assert entity in d.text and contact in d.text   # inserted verbatim, braces included
            assert "{entity}" not in d.text or "{entity}" in entity


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("cause", (*CAUSES, None))
def test_plain_drafts_pass_the_cli_check_without_an_allow_list(language, cause):
    """``repwatch reply check`` does not know the config: a draft with an ordinary name and a
    phone or e-mail channel still passes, because the templates introduce the channel."""
    for contact in CONTACTS[:3]:
        d = draft("x", language=language, causes=[cause] if cause else [], entity_name="安心診所", contact=contact)
        assert check_text(d.text)[0] == 0, d.text


def test_the_gravest_cause_picks_the_template():
    d = draft("等了兩小時還被亂收費", language="zh-TW", causes=["wait", "billing"], entity_name="安心診所",
              contact="02-2345-6789")
    assert (d.cause, d.template_id) == ("billing", "zh-TW/billing")
    d = draft("they threatened us", language="en", causes=["extortion", "outcome"], entity_name="Anxin",
              contact="care@anxin.tw")
    assert d.cause == "extortion" and "does not pay" in d.text


def test_unknown_causes_fall_back_to_generic():
    d = draft("x", language="en", causes=["weather"], entity_name="Anxin", contact="care@anxin.tw")
    assert d.template_id == "en/generic"


@pytest.mark.parametrize("language, text, expected", [
    ("zh-TW", "", "zh-TW"), ("zh-CN", "等太久了", "zh-TW"), ("zh", "", "zh-TW"), ("zh_Hans", "", "zh-TW"),
    ("en", "", "en"), ("ja", "待ち時間が長い", "en"), ("ko", "", "en"),
    (None, "候診等了兩個小時，態度也很差", "zh-TW"), ("und", "Waited two hours.", "en"), ("", "", "en"),
])
def test_reply_language(language, text, expected):
    assert reply_language(language, text) == expected


def test_simplified_mention_gets_a_traditional_reply():
    d = draft("医生态度很差，等了两个小时", language="zh-CN", causes=["attitude"], entity_name="安心诊所",
              contact="02-2345-6789")
    assert d.language == "zh-TW" and "溝通" in d.text


def test_the_mention_is_never_copied_into_the_draft():
    mention = "我是王小明，電話0912345678，身分證A123456789，上次在你們這裡拔牙等了兩小時"
    d = draft(mention, language="zh-TW", causes=["wait"], entity_name="安心診所", contact="02-2345-6789")
    for piece in ("王小明", "0912345678", "A123456789", "拔牙"):
        assert piece not in d.text
    assert not [f for f in lint(d.text) if f.rule in ("phi", "patient-confirmation")]


def test_a_templates_folder_overrides_file_by_file(tmp_path):
    (tmp_path / "zh-TW").mkdir()
    (tmp_path / "zh-TW" / "wait.txt").write_text("謝謝{entity}的鄰居留言，請透過 {contact} 與我們聯繫。\n", encoding="utf-8")
    d = draft("x", language="zh-TW", causes=["wait"], entity_name="安心診所", contact="02-2345-6789",
              templates_dir=tmp_path)
    assert d.template_id == "custom:zh-TW/wait"
    assert d.text == "謝謝安心診所的鄰居留言，請透過 02-2345-6789 與我們聯繫。"
    other = draft("x", language="zh-TW", causes=["billing"], entity_name="安心診所", contact="02-2345-6789",
                  templates_dir=tmp_path)
    assert other.template_id == "zh-TW/billing"  # no file in the folder: the shipped one


def test_an_edited_template_that_breaks_a_rule_carries_its_flags(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "billing.txt").write_text("Sorry! {entity} will issue a full refund; call us at {contact}.",
                                                 encoding="utf-8")
    d = draft("x", language="en", causes=["billing"], entity_name="Anxin", contact="02-2345-6789",
              templates_dir=tmp_path)
    assert [(f.rule, f.excerpt) for f in d.flags] == [("compensation-promise", "full refund")]


def test_unknown_placeholders_and_empty_templates_are_errors(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "wait.txt").write_text("Hi {name}, call {contact}.", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"unknown placeholder\(s\) \{name\}"):
        load_template("en", "wait", tmp_path)
    (tmp_path / "en" / "wait.txt").write_text("  \n", encoding="utf-8")
    with pytest.raises(TemplateError, match="empty"):
        load_template("en", "wait", tmp_path)
    with pytest.raises(ValueError, match="no templates for language"):
        load_template("ja", "wait")


def test_a_draft_needs_a_name_and_a_contact_channel():
    with pytest.raises(ValueError, match="contact channel"):
        draft("x", language="en", causes=[], entity_name="Anxin", contact="  ")
    with pytest.raises(ValueError, match="entity"):
        draft("x", language="en", causes=[], entity_name="", contact="02-2345-6789")


def test_names_and_channels_become_one_line():
    d = draft("x", language="en", causes=[], entity_name="Anxin\nClinic\u202e", contact="02-2345-6789\n")
    assert "Anxin Clinic" in d.text and "\n" not in d.text and "\u202e" not in d.text
