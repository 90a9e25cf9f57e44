"""``${VAR}`` expansion and the checks of apprise notify URLs.

Secrets never live in the file: ``${VAR}`` inside ``storage.url`` and notify URLs is
replaced from the environment at load time; a missing variable is a problem (or, with
need_secrets off, only noted in ``Config.unset``). A credential, token or webhook path
written literally into a notify URL is refused. Messages never carry the secret values.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, NamedTuple
from urllib.parse import unquote, urlsplit

from pydantic import PlainValidator, WithJsonSchema

from monitor.config.fields import STRINGS_SCHEMA, as_strings
from monitor.config.problems import Checker, checker

ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_PARAM_RE = re.compile(r"(?i)(token|secret|pass|password|passwd|pwd|key|authorization|signature|cookie)"
                              r"=[^&\x00]")  # run on the text with each ${VAR} blanked to \x00
_DELIM_RE = re.compile(r"[/?&=@:#]")


class NotifyUrl(NamedTuple):
    template: str  # as written in the file, with ${VAR} left in
    url: str  # expanded: secrets inside, never log it (the template when its variables are unset)


def expand(c: Checker, value: str, rel: tuple) -> str | None:
    """``value`` with each ${VAR} replaced from the environment; None when one is unset."""
    missing = [name for name in ENV_RE.findall(value) if not c.env.get(name)]
    for name in missing:
        c.add_secret(rel, f"environment variable {name} is not set")
    if missing:
        return None
    return ENV_RE.sub(lambda m: c.env[m.group(1)], value)


def check_apprise_url(url: str) -> str | None:
    """Return why apprise cannot use ``url``, or None when it can. apprise's log level is
    never touched: :func:`monitor.notify.plugin_for` silences the URL it rejects through
    repwatch's filter, installed once."""
    from monitor.notify import plugin_for

    if plugin_for(url) is None:
        scheme = url.split("://", 1)[0] if "://" in url else "(none)"
        return f"apprise cannot parse this URL (scheme {scheme!r}); see https://github.com/caronc/apprise/wiki"
    return None


def _looks_like_token(text: str) -> bool:
    """A long random-looking string: what a webhook path or an API key looks like."""
    text = unquote(text)
    if not re.fullmatch(r"[A-Za-z0-9_\-.~+=]+", text):
        return False
    mixed = re.search(r"[A-Za-z]", text) and re.search(r"\d", text)
    return bool((len(text) >= 16 and mixed) or (len(text) >= 24 and re.fullmatch(r"[A-Za-z0-9]+", text)))


def _literal_secrets(template: str, plugin, values: list[str]) -> list[str]:
    """What is secret in an apprise URL but written into the file rather than taken from a
    ${VAR}: a password, a secret-named option, a token-like json/form/xml path segment or
    ``-param``/``+header`` value, or a piece apprise hides in its privacy form (a Slack or
    LINE token, a webhook id) that is in the file's text and in none of the variables'
    ``values`` (``plugin``: apprise's plugin for the expanded URL, None when there is none).
    Never the values themselves: they must not reach any output."""
    from monitor.notify import PATH_SECRET_SCHEMES, is_option, masked_by_apprise

    found = []
    literal = ENV_RE.sub("\x00", template)  # the text written in the file, variables blanked
    if re.search(r"://[^/${}]*:[^@/${}]+@", template):
        found.append("a password")
    if _SECRET_PARAM_RE.search(literal.split("?", 1)[1] if "?" in literal else ""):
        found.append("a secret option such as token=, key= or password=")
    try:
        split = urlsplit(literal)
    except ValueError:
        split = None
    if split is not None:
        if split.scheme.lower() in PATH_SECRET_SCHEMES and any(
                _looks_like_token(seg) for seg in split.path.split("/") if "\x00" not in seg):
            found.append("a token-like path segment")
        if any(is_option(part) and _looks_like_token(part.partition("=")[2])
               for part in split.query.split("&") if "\x00" not in part.partition("=")[2]):
            found.append("a token-like -param or +header value")
    if plugin is not None:
        values = [unquote(v) for v in values if v]
        written = unquote(literal)
        for piece in masked_by_apprise(plugin):
            subs = [t for t in _DELIM_RE.split(piece) if t]
            if any(t in written and not any(t in v for v in values) for t in subs):
                found.append("a token, key or webhook id")
                break
    return list(dict.fromkeys(found))


def _notify_url(c: Checker, j: int, template: str, rel: tuple) -> NotifyUrl:
    """Expand one URL template; refuse credentials written into the file.

    With need_secrets off, a URL whose variables are unset is kept as its template (so the
    indexes of a route's URLs stay right) and only what the file itself says is checked."""
    from monitor.notify import plugin_for

    expanded = expand(c, template, rel)
    plugin, values = None, [c.env.get(name, "") for name in ENV_RE.findall(template)]
    if expanded is not None and c.check_urls:
        why = check_apprise_url(expanded)
        if why:
            c.add(rel, f"URL #{j + 1}: {why}")
        else:
            plugin = plugin_for(expanded)
    elif expanded is None and c.check_urls:
        # variables unset (need_secrets off): a stand-in value for each lets the literal
        # parts be checked all the same, when apprise accepts the stand-ins
        stand_in = {name: c.env.get(name) or f"RWVAR{k}x{name.replace('_', '')}" for k, name in
                    enumerate(ENV_RE.findall(template))}
        values = list(stand_in.values())
        plugin = plugin_for(ENV_RE.sub(lambda m: stand_in[m.group(1)], template))
    literal = _literal_secrets(template, plugin, values)
    if literal:
        c.add(rel, f"URL #{j + 1} has a credential written into the file ({'; '.join(literal)}); "
                   f"use ${{VAR}} from the environment")
    return NotifyUrl(template, expanded if expanded is not None else template)


def notify_urls(value: Any, info) -> tuple[NotifyUrl, ...]:
    """A list of apprise URLs (pydantic validator): each expanded and checked."""
    c = checker(info)
    rel = (info.field_name,) if info.field_name else ()
    return tuple(_notify_url(c, j, t, rel) for j, t in enumerate(as_strings(value)))


NotifyUrls = Annotated[tuple[NotifyUrl, ...], PlainValidator(notify_urls),
                       WithJsonSchema({**STRINGS_SCHEMA, "description": "apprise URLs; secrets as ${VAR}"})]
