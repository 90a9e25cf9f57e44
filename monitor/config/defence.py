"""``[defence]``: what reply drafts need from the clinic (``repwatch reply draft``).

``contact`` is the channel every draft moves the conversation to (a phone line, an e-mail
or a LINE account of the clinic's own); ``templates`` a folder of reply templates that
override the shipped ones file by file (``<zh-TW|en>/<cause>.txt``, see
:mod:`monitor.defence.replies`), relative to the config file's folder. The folder is read
at load time: a missing folder, an unknown language or file name, an empty template or an
unknown placeholder is a problem with the file and line of the ``templates`` key.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import field_validator

from monitor.config.fields import Text
from monitor.config.models import Table
from monitor.config.problems import checker, fail

_CONTACT_MAX = 160  # a draft keeps this much of the channel (monitor.defence.replies.draft)


class DefenceModel(Table):
    """[defence]: the contact channel and templates of public reply drafts."""

    contact: Text = None
    """the clinic's own channel that replies move the conversation to, e.g. "02-2345-6789" or
    "service@clinic.example" (required by `repwatch reply draft`)"""
    templates: Text = None
    """a folder of reply templates (<zh-TW|en>/<cause>.txt) overriding the shipped ones,
    relative to this file's folder"""

    @field_validator("contact")
    @classmethod
    def _contact(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            fail("must be the clinic's contact channel (a phone, e-mail or LINE account), got an empty string")
        if "\n" in value or "\r" in value:
            fail("must be one line")
        if len(value.strip()) > _CONTACT_MAX:
            fail(f"must be at most {_CONTACT_MAX} characters, got {len(value.strip())}")
        return value.strip()

    @field_validator("templates")
    @classmethod
    def _templates(cls, value: str | None, info) -> str | None:
        if value is None:
            return None
        if not value.strip():
            fail("must be a folder of reply templates, got an empty string")
        folder = Path(value).expanduser()
        if not folder.is_absolute() and checker(info).file:
            folder = Path(checker(info).file).resolve().parent / folder
        if not folder.is_dir():
            fail(f"no such folder: {str(folder)!r}")
        for problem in template_problems(folder):
            checker(info).add(("templates",), problem)
        return str(folder)


def template_problems(folder: Path) -> list[str]:
    """What is wrong with a templates folder: each language folder must be one the drafts
    know, each file a cause (or ``generic``) with a usable template."""
    from monitor.causes import CAUSES
    from monitor.defence.replies import GENERIC, LANGUAGES, TemplateError, read_template

    problems = []
    for entry in sorted(folder.iterdir()):
        if not entry.is_dir():
            continue
        if entry.name not in LANGUAGES:
            problems.append(f"{entry}: unknown language folder {entry.name!r} (known: {', '.join(LANGUAGES)})")
            continue
        for file in sorted(entry.iterdir()):
            if file.suffix != ".txt":
                continue
            if file.stem not in (*CAUSES, GENERIC):
                problems.append(f"{file}: unknown template {file.stem!r} (a cause: {', '.join(CAUSES)}, "
                                f"or {GENERIC})")
                continue
            try:
                read_template(file)
            except TemplateError as exc:
                problems.append(str(exc))
    return problems


@dataclass(frozen=True)
class DefenceConfig:
    contact: str | None = None  # None: `repwatch reply draft` refuses to draft
    templates: Path | None = None  # absolute; None: the shipped templates only


def defence_config(model: DefenceModel | None) -> DefenceConfig:
    if model is None:
        return DefenceConfig()
    return DefenceConfig(model.contact, Path(model.templates) if model.templates else None)
