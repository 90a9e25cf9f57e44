"""HTML to PDF with headless Chromium (Debian's ``chromium``).

Why Chromium and not WeasyPrint: the browser test of the dashboard already needs Debian's
``chromium`` in CI, so the PDF costs no further dependency (WeasyPrint brings pango and
five Python packages), and the PDF is laid out by the same engine that shows the report
and the dashboard's charts in a browser. zh-TW text needs a CJK font (``fonts-noto-cjk``).

Chromium runs with a throwaway profile, no background network services and
``--no-sandbox`` (it runs as root in containers); the document it prints is repwatch's
own, with every text escaped, no script, and a Content-Security-Policy that allows no
script and nothing external (``--blink-settings=scriptEnabled=false`` would be the
flag for it, but with it Chromium 120+ exits 0 without writing the PDF).
The executable: ``$REPWATCH_CHROMIUM``, else the first of :data:`CANDIDATES` on ``PATH``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from monitor.errors import RepwatchError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--no-pdf-header-footer")


class PdfError(RepwatchError):
    """The PDF could not be made (no Chromium, or it failed)."""


def find_chromium() -> str | None:
    configured = os.environ.get("REPWATCH_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def html_to_pdf(document: str, out: Path, *, chromium: str | None = None, timeout: float = 120) -> Path:
    """Print ``document`` (a whole HTML page) to ``out``; return ``out``."""
    exe = chromium or find_chromium()
    if exe is None:
        raise PdfError("no Chromium found for the PDF: install Debian's chromium (apt-get install chromium "
                       "fonts-noto-cjk) or set REPWATCH_CHROMIUM to its path")
    given, out = Path(out), Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="repwatch-pdf-") as tmp:
        src = Path(tmp) / "report.html"
        src.write_text(document, encoding="utf-8")
        partial = Path(tmp) / "report.pdf"
        cmd = [exe, *FLAGS, f"--user-data-dir={tmp}/profile", f"--print-to-pdf={partial}", src.as_uri()]
        env = {**os.environ, "HOME": tmp}  # Chromium writes caches under HOME
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env, check=False)
        except subprocess.TimeoutExpired as exc:
            raise PdfError(f"chromium did not finish the PDF within {timeout:.0f} s") from exc
        except OSError as exc:
            raise PdfError(f"cannot run {exe}: {exc}") from exc
        if not partial.exists() or not partial.read_bytes().startswith(b"%PDF"):
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise PdfError(f"chromium exited {done.returncode} without a PDF: {' / '.join(tail)}")
        out.parent.mkdir(parents=True, exist_ok=True)
        part = out.with_name(out.name + ".part")
        shutil.copyfile(partial, part)
        os.replace(part, out)  # whole or not at all: never a half-written file at ``out``
    return given
