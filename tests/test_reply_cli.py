"""``repwatch reply draft`` and ``repwatch reply check`` (issue 18 items 1 and 2) on a real
SQLite file with stored mentions, in a subprocess where the shell pipes one into the other,
and ``[defence]`` config errors with FILE:LINE."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from monitor.app import App
from monitor.causes import CAUSES
from monitor.cli import main
from monitor.config import load_config
from monitor.defence.lint import check_text
from monitor.defence.replies import GENERIC, LANGUAGES
from monitor.errors import ConfigError
from monitor.matching import Match
from monitor.mention import Mention
from tests.conftest import write_config

ROOT = Path(__file__).resolve().parents[1]
CONTACT = "02-2345-6789"
COMPLAINT = "仁心診所亂收費,掛號費比別家貴,我的電話 0912-345-678 打來也沒用"
EN_COMPLAINT = "Waited two hours at Renxin Clinic and the front desk was rude."

CONFIG = """
[storage]
url = "sqlite:///{db}"

[daemon]
listen = ""

[defence]
contact = "{contact}"
{extra}

[[entities]]
id = "renxin"
name = "仁心診所"
aliases = ["Renxin Clinic"]
kind = "clinic"

[[routes]]
id = "crisis"
notify = ["json://127.0.0.1:9/crisis"]
"""


def make_config(tmp_path: Path, contact: str = CONTACT, extra: str = "") -> Path:
    return write_config(tmp_path, CONFIG.format(db=tmp_path / "r.db", contact=contact, extra=extra))


@pytest.fixture
def stored(tmp_path):
    """A config and its database with two mentions: (config path, zh-TW id, en id)."""
    path = make_config(tmp_path)
    app = App.from_config(load_config(path, need_secrets=False), model=False)
    now = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
    ids = []
    for i, text in enumerate((COMPLAINT, EN_COMPLAINT)):
        m = Mention("ga", "", text, url=f"https://forum.example.tw/t/{i}", published_at=now)
        ids += app.store.add_mentions([(m, [Match("renxin", "仁心診所")])], now)
    app.store.label_mention(ids[0], "negative", ["billing"], "test", now)
    app.store.label_mention(ids[1], "negative", ["wait", "attitude"], "test", now)
    app.close()
    return path, ids[0], ids[1]


def repwatch(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "REPWATCH_LOG_LEVEL": "warning"}
    return subprocess.run([sys.executable, "-m", "monitor", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)


def test_draft_in_the_mentions_language_piped_into_check(stored):
    path, zh, en = stored
    done = repwatch("reply", "draft", str(zh), "-c", str(path))
    assert done.returncode == 0, done.stderr
    draft = done.stdout.strip()
    assert "仁心診所" in draft and CONTACT in draft and "感謝" in draft
    assert "0912" not in draft and "掛號費比別家貴" not in draft  # the mention is never copied
    assert f"mention {zh} · zh-TW · cause billing · template zh-TW/billing · linter: no flags" in done.stderr
    checked = repwatch("reply", "check", "-", stdin=done.stdout)
    assert checked.returncode == 0 and checked.stdout.strip() == "ok: no flags"

    done = repwatch("reply", "draft", str(en), "-c", str(path))
    assert done.returncode == 0 and "cause attitude" in done.stderr  # the gravest of wait and attitude
    assert done.stdout.startswith("Thank you") and CONTACT in done.stdout


def test_every_template_cause_and_language_drafts_clean_through_the_cli(stored, capsys):
    path, zh, _ = stored
    passed = 0
    for language in LANGUAGES:
        for cause in (*CAUSES, GENERIC):
            assert main(["reply", "draft", str(zh), "-c", str(path), "--lang", language, "--cause", cause,
                         "--json"]) == 0
            out = json.loads(capsys.readouterr().out)
            assert out["ok"] and out["flags"] == [] and out["language"] == language and out["cause"] == cause
            assert out["template"] == f"{language}/{cause}" and CONTACT in out["text"]
            assert check_text(out["text"])[0] == 0  # and the plain linter agrees, with no allow-list
            passed += 1
    assert passed == len(LANGUAGES) * (len(CAUSES) + 1) == 20


def test_a_flagged_template_is_never_printed_as_clean(stored, tmp_path, capsys):
    path, zh, _ = stored
    folder = tmp_path / "tpl" / "zh-TW"
    folder.mkdir(parents=True)
    (folder / "billing.txt").write_text("感謝您。我們保證根治,並會全額退款,請撥 {contact}。{entity}", encoding="utf-8")
    path.write_text(path.read_text(encoding="utf-8").replace('contact = "', 'templates = "tpl"\ncontact = "'),
                    encoding="utf-8")
    assert main(["reply", "draft", str(zh), "-c", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "custom:zh-TW/billing" in err and "not printed" in err
    assert "absolute-claim" in err and "compensation-promise" in err
    assert main(["reply", "draft", str(zh), "-c", str(path), "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False and payload["text"] is None
    assert {f["rule"] for f in payload["flags"]} == {"absolute-claim", "compensation-promise"}
    assert main(["reply", "draft", str(zh), "-c", str(path), "--cause", "wait"]) == 0  # other causes: shipped
    assert CONTACT in capsys.readouterr().out


def test_draft_needs_a_contact_a_known_cause_and_a_stored_mention(stored, tmp_path, capsys):
    path, zh, _ = stored
    assert main(["reply", "draft", "999", "-c", str(path)]) == 1
    assert "no mention 999" in capsys.readouterr().err
    assert main(["reply", "draft", str(zh), "-c", str(path), "--cause", "weather"]) == 2
    assert "unknown cause weather" in capsys.readouterr().err
    path.write_text(path.read_text(encoding="utf-8").replace(f'contact = "{CONTACT}"', ""), encoding="utf-8")
    assert main(["reply", "draft", str(zh), "-c", str(path)]) == 2
    assert "[defence] contact is not set" in capsys.readouterr().err


def test_check_reads_a_file_or_stdin_and_prints_spans_and_reasons(tmp_path):
    reply = tmp_path / "reply.txt"
    text = "您上次來看診時的費用,我們保證根治,並全額退款。"
    reply.write_text(text, encoding="utf-8")
    at = text.index("保證")
    done = repwatch("reply", "check", str(reply))
    assert done.returncode == 1
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("0-6 patient-confirmation: «您上次來看診»") and "HIPAA" in lines[0]
    assert any(line.startswith(f"{at}-{at + 2} absolute-claim: «保證»") for line in lines)
    assert any("compensation-promise: «全額退款»" in line for line in lines)
    done = repwatch("reply", "check", "--json", stdin=reply.read_text(encoding="utf-8"))
    payload = json.loads(done.stdout)
    assert done.returncode == 1 and payload["ok"] is False and payload["language"] == "zh-TW"
    assert [f["rule"] for f in payload["flags"]][0] == "patient-confirmation"
    assert payload["flags"][0]["span"] == [0, 6] and payload["flags"][0]["excerpt"] == "您上次來看診"
    done = repwatch("reply", "check", str(reply), "--allow", "absolute-claim", "--allow", "compensation-promise",
                    "--allow", "patient-confirmation")
    assert done.returncode == 0 and done.stdout.strip() == "ok: no flags"
    assert repwatch("reply", "check", str(reply), "--allow", "rudeness").returncode == 2
    assert repwatch("reply", "check", str(tmp_path / "missing.txt")).returncode == 2
    empty = repwatch("reply", "check", "-", stdin="\n")  # what a refused draft leaves in a pipe
    assert empty.returncode == 2 and "holds no reply" in empty.stderr


def test_check_allows_the_configs_names_and_channel(tmp_path, capsys):
    path = make_config(tmp_path, contact="LINE ID: @renxin88")
    reply = tmp_path / "r.txt"
    reply.write_text("謝謝您的留言,請加 LINE ID: @renxin88 與仁心診所聯繫。", encoding="utf-8")
    assert main(["reply", "check", str(reply)]) == 1  # no config: a LINE ID is personal data
    assert "phi" in capsys.readouterr().out
    assert main(["reply", "check", str(reply), "-c", str(path)]) == 0


@pytest.mark.parametrize("extra,contact,where,message", [
    ("", "", "defence.contact", "contact channel"),
    ("", "a" * 161, "defence.contact", "at most 160 characters"),
    ('templates = "nowhere"', CONTACT, "defence.templates", "no such folder"),
    ("tone = \"warm\"", CONTACT, "defence.tone", "unknown key"),
])
def test_defence_config_errors_name_the_file_and_line(tmp_path, extra, contact, where, message):
    path = make_config(tmp_path, contact=contact, extra=extra)
    with pytest.raises(ConfigError) as err:
        load_config(path, need_secrets=False)
    text = "\n".join(map(str, err.value.problems))
    line = next(i for i, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if row.startswith(where.split(".")[1]))
    assert f"{path}:{line}: {where}" in text and message in text, text


def test_a_templates_folder_is_checked_at_load(tmp_path):
    folder = tmp_path / "tpl"
    (folder / "en").mkdir(parents=True)
    (folder / "ja").mkdir()
    (folder / "en" / "billing.txt").write_text("Hi {name}, call {contact}.", encoding="utf-8")
    (folder / "en" / "weather.txt").write_text("Call {contact}.", encoding="utf-8")
    path = make_config(tmp_path, extra='templates = "tpl"')
    with pytest.raises(ConfigError) as err:
        load_config(path, need_secrets=False)
    text = "\n".join(map(str, err.value.problems))
    assert text.count("defence.templates") == 3
    assert "unknown placeholder(s) {name}" in text and "unknown template 'weather'" in text
    assert "unknown language folder 'ja'" in text
    (folder / "en" / "billing.txt").write_text("Hi, call {contact}. {entity}", encoding="utf-8")
    (folder / "en" / "weather.txt").unlink()
    (folder / "ja").rmdir()
    config = load_config(path, need_secrets=False)
    assert config.defence.templates == folder.resolve() and config.defence.contact == CONTACT
