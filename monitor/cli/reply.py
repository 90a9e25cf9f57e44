"""``reply draft`` and ``reply check``: a public reply to a stored mention, and the linter on any reply.

``repwatch reply draft MENTION`` writes the reply in the mention's language (or ``--lang``)
from the template of its gravest cause (or ``--cause``), with the entity's name and the
``[defence] contact`` channel (:mod:`monitor.defence.replies`). The draft goes to stdout and
what it was made from to stderr, so ``repwatch reply draft 12 | repwatch reply check -``
works. A draft the linter flags (an edited template in ``[defence] templates``) is never
printed: its flags are, and the exit code is 1.

``repwatch reply check [FILE|-]`` lints a reply from a file or stdin: one line per flag with
its span and reason (``--json`` for machines), exit 1 when anything is flagged. ``--allow
RULE`` drops a rule's flags. With a config file (``--config``, or ``repwatch.toml`` when it
exists) the entities' names and the contact channel are allowed verbatim, as in drafts.

Exit codes: 0 clean, 1 flagged (or no such mention), 2 usage or config problem (an empty reply
to check, too: ``reply draft`` printed nothing).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from monitor.causes import CAUSES
from monitor.cli.common import DEFAULT_CONFIG, load, make_app
from monitor.defence.lint import RULES
from monitor.defence.replies import GENERIC, LANGUAGES


def add_parser(sub, cfg: argparse.ArgumentParser) -> None:
    s = sub.add_parser("reply", help="public reply drafts for a mention, and the reply linter")
    ss = s.add_subparsers(dest="reply_command", required=True)
    c = ss.add_parser("draft", parents=[cfg], help="draft a public reply to a stored mention (linted)")
    c.add_argument("mention", type=int, help="the mention's id (repwatch mentions shows it)")
    c.add_argument("--lang", choices=LANGUAGES, help="the reply's language (default: the mention's)")
    c.add_argument("--cause", action="append", help="the cause whose template is used (repeat, or comma-separate; "
                                                     f"default: the mention's): {', '.join(CAUSES)}, or {GENERIC}")
    c.add_argument("--entity", help="the entity replying, when the mention is about several (an entity id)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_draft)
    c = ss.add_parser("check", help="lint a reply from a file or stdin (exit 1 when flagged)")
    c.add_argument("file", nargs="?", default="-", help="a UTF-8 file, or - for stdin (default)")
    c.add_argument("--allow", action="append", default=[], metavar="RULE",
                   help=f"ignore this rule (repeat): {', '.join(RULES)}")
    c.add_argument("--config", "-c", default=None, help="allow the entities' names and [defence] contact of this "
                   "config verbatim (default: repwatch.toml when it exists)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_check)


def _fail(command: str, message: str, code: int = 2) -> int:
    print(f"repwatch reply {command}: {message}", file=sys.stderr)
    return code


def _causes(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [c.strip() for part in values for c in part.split(",") if c.strip()]


def _entity_name(app, config, mention_id: int, wanted: str | None) -> str | None:
    from monitor.store.tables import MentionEntityRow

    linked = [r.entity_id for r in app.store.rows(MentionEntityRow, MentionEntityRow.mention_id == mention_id,
                                                order_by=MentionEntityRow.entity_id)]
    known = [e for e in linked if e in {x.id for x in config.entities}]
    chosen = wanted if wanted in known else (known[0] if known and wanted is None else None)
    return config.entity(chosen).name if chosen else None


def cmd_draft(args) -> int:
    from monitor.defence.replies import TemplateError, draft

    causes = _causes(args.cause)
    unknown = [c for c in causes or () if c not in (*CAUSES, GENERIC)]
    if unknown:
        return _fail("draft", f"unknown cause {', '.join(unknown)} (known: {', '.join(CAUSES)}, or {GENERIC})")
    config = load(args.config, need_secrets=False)
    if not config.defence.contact:
        return _fail("draft", f'{config.path}: [defence] contact is not set: a draft moves the conversation '
                              f'offline to the clinic\'s own channel (e.g. contact = "02-2345-6789")')
    app = make_app(config, model=False)
    try:
        found = app.store.get_mentions([args.mention])
        name = _entity_name(app, config, args.mention, args.entity) if found else None
    finally:
        app.close()
    if not found:
        return _fail("draft", f"no mention {args.mention}", 1)
    if name is None:
        return _fail("draft", f"mention {args.mention} is about no entity of {config.path}"
                              + (f" named {args.entity!r}" if args.entity else ""))
    m = found[0]
    try:
        made = draft(f"{m.title}\n{m.text}", language=args.lang or "", causes=list(causes or m.causes),
                     entity_name=name, contact=config.defence.contact, templates_dir=config.defence.templates)
    except TemplateError as exc:
        return _fail("draft", str(exc))
    return _print_draft(args, made)


def _print_draft(args, made) -> int:
    if args.json:
        print(json.dumps({"mention": args.mention, "ok": not made.flags, "language": made.language,
                          "cause": made.cause, "template": made.template_id,
                          "text": None if made.flags else made.text,
                          "flags": [f.as_dict() for f in made.flags]}, ensure_ascii=False))
        return 1 if made.flags else 0
    if made.flags:
        print(f"repwatch reply draft: template {made.template_id} gives a reply the linter flags; not printed. "
              f"Fix the template:", file=sys.stderr)
        for f in made.flags:
            print(f"  {f.span[0]}-{f.span[1]} {f.rule}: {f.reason}", file=sys.stderr)
        return 1
    print(made.text)
    print(f"(mention {args.mention} · {made.language} · cause {made.cause} · template {made.template_id} · "
          f"linter: no flags)", file=sys.stderr)
    return 0


def _allowed_texts(path: str | None) -> list[str]:
    """The entities' names and the contact channel of the config, when there is one."""
    if path is None and not Path(DEFAULT_CONFIG).is_file():
        return []
    config = load(path or DEFAULT_CONFIG, need_secrets=False, storage=False)
    return [t for e in config.entities for t in e.terms] + ([config.defence.contact] if config.defence.contact else [])


def cmd_check(args) -> int:
    from monitor.defence.lint import check_text

    unknown = [r for r in args.allow if r not in RULES]
    if unknown:
        return _fail("check", f"unknown rule {', '.join(unknown)} (known: {', '.join(RULES)})")
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return _fail("check", f"cannot read {args.file}: {exc}")
    if not text.strip():  # e.g. the output of a draft that was refused
        return _fail("check", f"{'stdin' if args.file == '-' else args.file} holds no reply")
    code, lines, payload = check_text(text, allow=_allowed_texts(args.config), ignore=args.allow)
    if args.json:
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print("\n".join(lines))
    return code
