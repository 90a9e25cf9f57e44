"""Untrusted text (reviews, posts, titles, even URLs from a feed) is never passed on
as-is: it is masked for patient data (:mod:`monitor.privacy`), made one short line
(:func:`monitor.text.one_line`: control and bidi-override characters gone), and
*defanged* so it cannot become a link or markup in Slack, LINE or e-mail: ``<>&`` and
markdown link syntax are replaced by look-alikes, and URLs inside the text are written
``hxxps://example[.]com``. The one link per mention is the stored canonical URL, and
only http(s) is allowed."""
from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from monitor.privacy import mask_phi
from monitor.text import one_line

_PLACEHOLDER = re.compile(r"［(ID|phone|email|chart no\.|date of birth|LINE ID)］")
_URL = re.compile(r"(?i)\b(?:https?|ftp)://[^\s]+|\bwww\.[^\s]+")
_MARKUP = str.maketrans({"<": "‹", ">": "›", "&": "＆", "[": "［", "]": "］", "*": "∗", "_": "＿",
                         "`": "ˋ", "|": "｜", "~": "～", "@": "＠"})


def _defang_url(m: re.Match) -> str:
    u = m.group(0)
    u = re.sub(r"(?i)^http", "hxxp", u)
    return u.replace(".", "[.]").replace("://", "[:]//")


def safe_text(text: str | None, limit: int = 160) -> str:
    """Untrusted text -> one short line safe for any chat or mail channel."""
    text = one_line(mask_phi(text or ""), limit)
    text = _PLACEHOLDER.sub(r"[\1]", text.translate(_MARKUP))  # keep "[ID]" readable
    return _URL.sub(_defang_url, text)


def safe_link(url: str | None) -> str | None:
    """The mention's own link, if it is plain http(s); percent-encodes anything odd."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return quote(url, safe=":/?#=&%+,;-._~!$'()")
