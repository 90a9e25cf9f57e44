"""Public reply drafts for a negative mention, one template per cause and language.

A draft follows the seeds' response principles: thank the writer, acknowledge the concern
without admitting or stating facts about anyone's care, never confirm that the writer is a
patient, never repeat their personal data (the mention's text is never copied into a draft),
make no absolute or efficacy claim, and move the conversation offline through the clinic's
contact channel.

Templates are plain UTF-8 files, ``<language>/<cause>.txt`` with ``generic.txt`` as the
fallback, shipped in ``monitor/defence/templates``. A templates folder given by the caller
(config) overrides them file by file, with the same names. Two placeholders exist:
``{entity}`` (the clinic or doctor's name) and ``{contact}`` (the contact channel); any other
``{…}`` in a template is an error. Values are inserted verbatim, never re-parsed, so a name
holding braces or markup stays as it is (a renderer escapes it for its own medium).

Language: a Chinese mention, Traditional or Simplified ("zh", "zh-TW", "zh-CN", "zh-Hans"),
gets a zh-TW reply: the clinic speaks in its own public voice, which readers of either script
read. Every other known language gets English (there are no ja/ko templates); an unknown one
("", "und", None) is detected from the mention's text.

Every draft is linted (:func:`monitor.defence.lint.lint`) with the entity name and contact
allowed verbatim; the shipped templates draft with no flags (tested), and a draft from an
edited template carries whatever flags it raised, for the caller to refuse.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from monitor.causes import CAUSES, primary_cause
from monitor.defence.lint import Flag, detect_language, lint
from monitor.text import one_line

LANGUAGES = ("zh-TW", "en")
GENERIC = "generic"
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_FIELDS = ("entity", "contact")


class TemplateError(ValueError):
    """A template file that cannot be used (unknown placeholder, empty, unreadable)."""


@dataclass(frozen=True)
class Draft:
    """A reply ready for a human to review. ``flags`` is empty for a safe draft."""

    text: str
    language: str
    cause: str          # the cause whose template was used ("generic" for the fallback)
    template_id: str    # "<language>/<file stem>", prefixed "custom:" when from a templates folder
    flags: tuple[Flag, ...] = ()


def reply_language(language: str | None, mention_text: str = "") -> str:
    """The language a reply is written in (see the module docstring)."""
    tag = (language or "").strip().lower().replace("_", "-")
    if tag in ("", "und", "unknown"):
        return detect_language(mention_text)
    return "zh-TW" if tag == "zh" or tag.startswith("zh-") else "en"


def read_template(path: Path) -> str:
    """A template file's body; :class:`TemplateError` when it is unreadable, empty or names
    a placeholder other than ``{entity}`` and ``{contact}``."""
    try:
        body = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{path}: cannot read template: {exc}") from exc
    if not body:
        raise TemplateError(f"{path}: template is empty")
    unknown = sorted({name for name in _PLACEHOLDER.findall(body) if name not in _FIELDS})
    if unknown:
        raise TemplateError(f"{path}: unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}; "
                            f"use {{entity}} and {{contact}}")
    return body


def load_template(language: str, cause: str, templates_dir: Path | None = None) -> tuple[str, str]:
    """(template id, body) for a language and cause: the folder's file, else the shipped one,
    and ``generic.txt`` (folder, then shipped) when no file exists for the cause."""
    if language not in LANGUAGES:
        raise ValueError(f"no templates for language {language!r}; one of {', '.join(LANGUAGES)}")
    shipped = resources.files("monitor.defence") / "templates" / language
    for stem in (cause, GENERIC) if cause != GENERIC else (GENERIC,):
        if templates_dir is not None:
            custom = Path(templates_dir) / language / f"{stem}.txt"
            if custom.is_file():
                return f"custom:{language}/{stem}", read_template(custom)
        packaged = shipped / f"{stem}.txt"
        if packaged.is_file():
            return f"{language}/{stem}", read_template(Path(str(packaged)))
    raise TemplateError(f"no template for {language}/{cause} and no {language}/{GENERIC}.txt")


def render(body: str, *, entity: str, contact: str) -> str:
    """A template with its placeholders filled; the values are inserted verbatim."""
    values = {"entity": entity, "contact": contact}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], body)


def draft(mention_text: str, *, language: str, causes: list[str], entity_name: str, contact: str,
          templates_dir: Path | None = None) -> Draft:
    """A public reply to a mention: the template of its gravest cause (``primary_cause``),
    in the reply language, linted. ``mention_text`` only decides the language when
    ``language`` is unknown; it is never copied into the reply."""
    entity = one_line(entity_name, 80)
    channel = one_line(contact, 160)
    if not entity:
        raise ValueError("a draft needs the entity's name")
    if not channel:
        raise ValueError("a draft needs a contact channel: the reply must move the conversation offline")
    lang = reply_language(language, mention_text)
    cause = primary_cause([c for c in causes if c in CAUSES]) or GENERIC
    template_id, body = load_template(lang, cause, templates_dir)
    text = render(body, entity=entity, contact=channel)
    used = template_id.split("/", 1)[1]
    return Draft(text, lang, used, template_id, tuple(lint(text, lang, allow=(entity, channel))))
