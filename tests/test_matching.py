from monitor.config import Entity
from monitor.matching import Matcher
from monitor.text import fold

LIN = Entity("dr-lin", "林志明醫師", ("林志明", "Dr. Lin Chih-Ming", "Dr. Lin"), ("林志明里長",))
CLINIC = Entity("renxin", "仁心診所", ("Renxin Clinic",), (), "clinic")
M = Matcher([LIN, CLINIC])


def ids(text, only=None):
    return [m.entity_id for m in M.match(text, only)]


def test_chinese_alias_matches_as_substring():
    assert ids("昨天去看林志明醫師,等很久") == ["dr-lin"]
    assert ids("林志明看診很快") == ["dr-lin"]


def test_simplified_text_matches_traditional_alias_and_back():
    assert ids("林志明医师态度很差,仁心诊所很脏") == ["dr-lin", "renxin"]
    simplified = Matcher([Entity("c", "仁心诊所")])
    assert [m.entity_id for m in simplified.match("仁心診所 服務好")] == ["c"]


def test_latin_alias_is_case_insensitive_on_word_boundaries():
    assert ids("I saw DR. LIN CHIH-MING today") == ["dr-lin"]
    assert ids("Dr. Linda Wu is great") == []
    assert ids("renxin clinic, Taipei") == ["renxin"]
    assert ids("RenxinClinicians union") == []


def test_nfkc_folds_full_width_letters():
    assert ids("Ｄｒ．Ｌｉｎ explained everything") == ["dr-lin"]
    assert fold("ＡＢＣ　１２３") == "abc 123"


def test_whitespace_inside_alias_is_flexible():
    assert ids("Dr.  Lin\nChih-Ming") == ["dr-lin"]


def test_exclusion_removes_the_entity():
    assert ids("林志明里長出席中秋晚會") == []
    assert ids("林志明里长出席中秋晚会") == []  # exclusion folds too


def test_exclusion_does_not_hide_a_real_mention_elsewhere():
    assert ids("林志明里長表示,林志明醫師的診所很乾淨") == ["dr-lin"]


def test_one_mention_can_be_about_several_entities():
    assert ids("仁心診所的林志明醫師") == ["dr-lin", "renxin"]


def test_only_limits_candidates():
    assert ids("仁心診所的林志明醫師", only=["renxin"]) == ["renxin"]
