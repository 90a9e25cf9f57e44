"""The command line as a person meets it (issue 17): ``--version``; times in local time with
their offset; no BrokenPipe traceback when the reader leaves early (``repwatch sources | head``);
progress on stderr for ``sentiment build``; shell completion from shtab that bash really runs."""
from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from monitor.cli import main
from monitor.cli.common import Progress, display_zone, shown_time
from monitor.store import IncidentRow
from tests.conftest import T0, write_config
from tests.test_workflow import SECRET, make, page_once  # noqa: F401  (make: a fixture)

ROOT = Path(__file__).parent.parent


@pytest.fixture
def zone(monkeypatch):
    """Set the process's TZ (and tzset) for one test; restored after."""
    def set_tz(value: str | None):
        if value is None:
            monkeypatch.delenv("TZ", raising=False)
        else:
            monkeypatch.setenv("TZ", value)
        time.tzset()

    yield set_tz
    monkeypatch.undo()
    time.tzset()


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"repwatch {importlib.metadata.version('repwatch')}\n"


def test_cli_times_are_local_with_their_offset(make, clock, receiver, tmp_path, capsys, monkeypatch, zone):
    app = make()
    inc = page_once(app, clock, receiver)
    monkeypatch.setenv("REPWATCH_ACK_SECRET", SECRET)
    cfg = str(tmp_path / "repwatch.toml")
    zone("Asia/Taipei")
    assert main(["incidents", "--config", cfg]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^\s+{inc.id}\s.*  2026-11-22 18:00 \+08:00  ", out, re.M), out  # T0 is 10:00 UTC
    assert "UTC" not in out
    zone("America/New_York")
    assert main(["ack", str(inc.id), "--by", "Amy", "--config", cfg]) == 0
    acked = app.store.rows(IncidentRow)[0].acked_at
    expected = acked.astimezone(ZoneInfo("America/New_York"))  # the CLI's clock is the real one: -05:00 or -04:00
    offset = expected.strftime("%z")
    assert f"acknowledged by Amy at {expected:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}" in capsys.readouterr().out
    assert main(["silence", "add", 'entity="dr-lin"', "--for", "2h", "--by", "Amy", "--config", cfg]) == 0
    assert re.search(r"until \d{4}-\d\d-\d\d \d\d:\d\d -0[45]:00: entity=\"dr-lin\"", capsys.readouterr().out)


def test_the_zone_shown(zone):
    routes = lambda *zones: SimpleNamespace(routes=[SimpleNamespace(timezone=z) for z in zones])  # noqa: E731
    zone("Asia/Tokyo")  # TZ set: the machine's zone, whatever the routes
    assert display_zone(routes("Asia/Taipei")) is None
    assert shown_time(T0, None) == "2026-11-22 19:00 +09:00"
    zone("UTC")
    os.environ.pop("TZ")  # a server kept in UTC, TZ unset (the C library keeps UTC until the next tzset)
    assert str(display_zone(routes("Asia/Taipei", "Asia/Taipei"))) == "Asia/Taipei"
    assert display_zone(routes("Asia/Taipei", "UTC")) is None  # routes disagree: the machine's
    assert shown_time(T0, display_zone(routes("Asia/Taipei")), seconds=True) == "2026-11-22 18:00:00 +08:00"


def many_sources_config(tmp_path: Path, n: int) -> Path:
    sources = "\n".join(f'[[sources]]\nid = "forum-{i:05d}-{"x" * 40}"\ntype = "rss"\n'
                        f'url = "https://forum{i}.example.tw/feed"\n' for i in range(n))
    return write_config(tmp_path, f"""
[storage]
url = "sqlite:///{tmp_path / 'r.db'}"

[[entities]]
id = "dr-lin"
name = "林志明醫師"

[[routes]]
id = "crisis"
notify = ["json://127.0.0.1:9/page"]

{sources}""")


@pytest.mark.parametrize("read_first", [True, False])
def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path, read_first):
    """``repwatch sources | head -1`` (the output is ~200 KB, more than a pipe holds), and a
    reader that is gone before the first line."""
    cfg = many_sources_config(tmp_path, 1500)
    env = {**os.environ, "PYTHONUNBUFFERED": ""}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "sources", "--config", str(cfg)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    if read_first:
        assert proc.stdout.readline().startswith(b"source ")
    proc.stdout.close()  # what head does after its lines
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err


def test_sources_still_prints_everything_to_a_reader_that_stays(tmp_path):
    cfg = many_sources_config(tmp_path, 30)
    done = subprocess.run([sys.executable, "-m", "monitor", "sources", "--config", str(cfg)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 31 and "never" in done.stdout


def test_progress_lines_carry_the_elapsed_time(capsys):
    progress = Progress()
    progress("encoded 10/20 new texts")
    err = capsys.readouterr().err
    assert re.fullmatch(r"\[\s+\d+\.\ds\] encoded 10/20 new texts\n", err)


@pytest.mark.model
def test_sentiment_build_reports_its_steps_on_stderr(tmp_path, capsys, monkeypatch):
    """A real build of the smallest graph (the embeddings); only the int8 step is a copy here
    (it takes 20 s on this machine and says nothing new about progress)."""
    from monitor.sentiment import build

    monkeypatch.setattr(build, "_quantize", lambda fp32, out: shutil.copyfile(fp32, out))
    assert main(["sentiment", "build", "--dir", str(tmp_path), "--layers", "0", "--force"]) == 0
    out, err = capsys.readouterr()
    assert out == ""  # stdout is for results
    steps = re.findall(r"^\[\s+(\d+\.\d)s\] step (\d)/5: (.+)$", err, re.M)
    assert [s[1] for s in steps] == ["1", "2", "3", "4", "5"], err
    assert [float(s[0]) for s in steps] == sorted(float(s[0]) for s in steps)
    assert "197 tensors, 12 layers" in err and re.search(r"\(\d+ nodes\)", err)
    assert re.search(r"^\[\s+\d+\.\ds\] wrote .*e5-small-int8-v\d+-L0\.onnx", err, re.M)


def test_bash_completion_completes_commands_and_subcommands(tmp_path, capsys):
    assert main(["completion", "bash"]) == 0
    script = tmp_path / "repwatch.bash"
    script.write_text(capsys.readouterr().out)

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        run = subprocess.run(["bash", "-c", f'source "{script}"; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; '
                              f'COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}; _shtab_repwatch; '
                              'printf "%s\\n" "${COMPREPLY[@]}"'], capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stderr
        return run.stdout.split()

    assert "sentiment" in complete("repwatch", "sen") and "sources" in complete("repwatch", "so")
    assert complete("repwatch", "sentiment", "bu") == ["build"]
    assert "--version" in complete("repwatch", "--ver")
    assert set(complete("repwatch", "completion", "")) >= {"bash", "zsh"}


def test_zsh_completion_is_a_compdef_script(capsys):
    assert main(["completion", "zsh"]) == 0
    script = capsys.readouterr().out
    assert script.startswith("#compdef repwatch") and "sentiment" in script
    if shutil.which("zsh"):
        assert subprocess.run(["zsh", "-n"], input=script, text=True).returncode == 0
